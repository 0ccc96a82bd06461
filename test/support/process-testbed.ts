import { after, before } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { sleep } from '../../src/devserver/wait';
import { startWorkerProcess, type WorkerProcess } from '../../src/devserver/worker-process';
import { installRuntime } from '../../src/worker/logging';
import { assertNoSecretsInHistories } from './secret-scan';
import { startTestServer } from './temporal';

/** What the tests of one file share: a real dev server, real `cutover worker` processes, and what they start beside them. */
export interface ProcessTestbed {
  readonly env: TestWorkflowEnvironment;
  /** The worker started last. */
  readonly worker: WorkerProcess;
  /** The workers started and not stopped by stopWorkers() or replaced, oldest first (a test may have killed some). */
  readonly workers: readonly WorkerProcess[];
  /** Starts one more worker process and waits until it polls the task queue. */
  startWorker(): Promise<WorkerProcess>;
  /** Stops every worker with SIGTERM, so the next test starts with none. */
  stopWorkers(): Promise<void>;
  /** Kills the last worker with `signal` and, `downMs` later (default at once), starts a new one in its place, as an operator would after a crash. */
  replaceWorker(signal: NodeJS.Signals, downMs?: number): Promise<WorkerProcess>;
  /** Stops the server, leaves it down for `downMs`, starts it again on the same port and database file. */
  restartServer(downMs: number): Promise<void>;
  /** Registers something to stop after the file's tests (before the server), last registered first. */
  onStop(stop: () => Promise<unknown>): void;
}

/**
 * Registers before/after hooks (call it inside `describe`) that start one dev server (on
 * `dbFilename` when given, so it can be restarted) and `workers` worker processes (default 1) for
 * the whole file, and stop them and everything registered with `onStop` afterwards, also when a
 * test failed.
 */
export function useProcessTestbed(options: { dbFilename?: string; workers?: number } = {}): ProcessTestbed {
  const server = { dbFilename: options.dbFilename };
  let env: TestWorkflowEnvironment | undefined;
  const workers: WorkerProcess[] = [];
  const stops: Array<() => Promise<unknown>> = [];
  before(async () => {
    installRuntime({ level: 'WARN' });
    env = await startTestServer(server);
    for (let i = 0; i < (options.workers ?? 1); i++) await testbed.startWorker();
  });

  after(async () => {
    await testbed.stopWorkers();
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    try {
      if (env) await assertNoSecretsInHistories(env.client);
    } finally {
      await env?.teardown();
    }
  });

  const testbed: ProcessTestbed = {
    get env() {
      if (!env) throw new Error('the testbed starts in before()');
      return env;
    },
    get worker() {
      const last = workers.at(-1);
      if (!last) throw new Error('no worker started');
      return last;
    },
    workers,
    async startWorker() {
      const worker = startWorkerProcess(testbed.env.address);
      workers.push(worker);
      await worker.ready;
      return worker;
    },
    async stopWorkers() {
      await Promise.all(workers.splice(0).map((worker) => worker.kill('SIGTERM')));
    },
    async replaceWorker(signal, downMs = 0) {
      const replaced = testbed.worker;
      await replaced.kill(signal);
      workers.splice(workers.indexOf(replaced), 1);
      await sleep(downMs);
      return testbed.startWorker();
    },
    async restartServer(downMs) {
      const port = Number(testbed.env.address.split(':').at(-1));
      await testbed.env.teardown();
      env = undefined;
      await sleep(downMs);
      env = await startTestServer({ ...server, port });
    },
    onStop(stop) {
      stops.push(stop);
    },
  };
  return testbed;
}
