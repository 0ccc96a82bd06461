import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

// The CLI's sources through tsx, so a stale dist/ never stands in for the code under test.
const CLI = join(__dirname, '..', 'client', 'cli.ts');
/** How much of a worker's output is kept for failure messages. */
const OUTPUT_KEPT = 20_000;

/** A real `cutover worker` process connected to a Temporal server, as an operator would run it. */
export interface WorkerProcess {
  child: ChildProcess;
  /** Resolves once the worker logged that it polls the task queue; rejects if it exits before. */
  ready: Promise<void>;
  /** The last part of its output (stdout and stderr), for failure messages. */
  output(): string;
  /** Sends `signal` and resolves once it exited; a graceful stop waits for running activities, past `graceMs` it is killed outright. */
  kill(signal: NodeJS.Signals, graceMs?: number): Promise<void>;
}

/** Starts `cutover worker` (sources through tsx, one node process, log level info) against the Temporal at `address`. */
export function startWorkerProcess(address: string, env: NodeJS.ProcessEnv = {}): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'worker'], {
    env: {
      ...process.env,
      ...env,
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: 'default',
      CUTOVER_LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let started = false;
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-OUTPUT_KEPT);
      if (!started && output.includes('cutover worker started')) {
        started = true;
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code, signal) =>
      reject(new Error(`worker exited (${code ?? signal}) before it started:\n${output}`)),
    );
  });
  ready.catch(() => undefined);
  return {
    child,
    ready,
    output: () => output,
    kill: (signal, graceMs = 10_000) =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const force = setTimeout(() => child.kill('SIGKILL'), graceMs);
        child.once('exit', () => {
          clearTimeout(force);
          resolve();
        });
        child.kill(signal);
      }),
  };
}
