import { execFile } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const CLI = join(ROOT, 'src', 'client', 'cli.ts');

/** Nothing listens there: a verb that reached Temporal would fail with "cannot reach Temporal". */
export const UNREACHABLE_TEMPORAL = '127.0.0.1:1';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real `cutover` CLI as an operator would, against the Temporal at `address` (`env` adds to its environment). */
export function runCli(
  address: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 90_000,
): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', CLI, ...args],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          TEMPORAL_ADDRESS: address,
          TEMPORAL_NAMESPACE: 'default',
          TEMPORAL_PROFILE: '',
          NO_COLOR: '1',
          ...env,
        },
        timeout: timeoutMs,
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

/** Runs many CLI invocations a few at a time (each start-up costs about a second of CPU). */
export async function inBatches<T, R>(items: T[], size: number, run: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += size) results.push(...(await Promise.all(items.slice(i, i + size).map(run))));
  return results;
}
