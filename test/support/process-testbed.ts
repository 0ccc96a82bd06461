import { after, before } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { installRuntime } from '../../src/worker/logging';
import { startTestServer } from './temporal';
import { startWorkerProcess, type WorkerProcess } from './worker-process';

/** What the fault tests of one file share: a real dev server, one real `cutover worker` process, and what they start beside them. */
export interface ProcessTestbed {
  readonly env: TestWorkflowEnvironment;
  readonly worker: WorkerProcess;
  /** Kills the worker with `signal` and starts a new one, as an operator would after a crash. */
  replaceWorker(signal: NodeJS.Signals): Promise<void>;
  /** Stops the server, leaves it down for `downMs`, starts it again on the same port and database file. */
  restartServer(downMs: number): Promise<void>;
  /** Registers something to stop after the file's tests (before the server), last registered first. */
  onStop(stop: () => Promise<unknown>): void;
}

/**
 * Registers before/after hooks (call it inside `describe`) that start one dev server (on
 * `dbFilename` when given, so it can be restarted) and one worker process for the whole file, and
 * stop them and everything registered with `onStop` afterwards, also when a test failed.
 */
export function useProcessTestbed(server: { dbFilename?: string } = {}): ProcessTestbed {
  let env: TestWorkflowEnvironment | undefined;
  let worker: WorkerProcess | undefined;
  const stops: Array<() => Promise<unknown>> = [];

  async function startWorker(): Promise<void> {
    worker = startWorkerProcess(testbed.env.address);
    await worker.ready;
  }

  before(async () => {
    installRuntime({ level: 'WARN' });
    env = await startTestServer(server);
    await startWorker();
  });

  after(async () => {
    await worker?.kill('SIGTERM');
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    await env?.teardown();
  });

  const testbed: ProcessTestbed = {
    get env() {
      if (!env) throw new Error('the testbed starts in before()');
      return env;
    },
    get worker() {
      if (!worker) throw new Error('the testbed starts in before()');
      return worker;
    },
    async replaceWorker(signal) {
      await testbed.worker.kill(signal);
      await startWorker();
    },
    async restartServer(downMs) {
      const port = Number(testbed.env.address.split(':').at(-1));
      await testbed.env.teardown();
      env = undefined;
      await new Promise((resolve) => setTimeout(resolve, downMs));
      env = await startTestServer({ ...server, port });
    },
    onStop(stop) {
      stops.push(stop);
    },
  };
  return testbed;
}
