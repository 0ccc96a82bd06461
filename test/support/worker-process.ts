import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

// The CLI's sources through tsx, so a stale dist/ never stands in for the code under test.
const CLI = join(__dirname, '..', '..', 'src', 'client', 'cli.ts');

/** A real `cutover worker` process connected to `address`, as an operator would run it. */
export interface WorkerProcess {
  child: ChildProcess;
  /** Resolves once the worker logged that it polls the task queue. */
  ready: Promise<void>;
  /** Output so far, for failure messages. */
  output(): string;
  kill(signal: NodeJS.Signals): Promise<void>;
}

export function startWorkerProcess(address: string, env: NodeJS.ProcessEnv = {}): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'worker'], {
    env: { ...process.env, ...env, TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: 'default', CUTOVER_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('cutover worker started')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => reject(new Error(`worker exited (${code ?? signal}) before it started:\n${output}`)));
  });
  ready.catch(() => undefined);
  return {
    child,
    ready,
    output: () => output,
    kill: (signal) =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        // A graceful stop waits for running activities; past 10 s it is killed outright.
        const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => {
          clearTimeout(force);
          resolve();
        });
        child.kill(signal);
      }),
  };
}
