import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { Command } from 'commander';
import { PolicyError } from '../../policy/load';
import { runVerb, UsageError, type JsonOption } from '../output';

/** `cutover worker`: runs the workflows and activities on task queue `cutover` until Ctrl-C. */
export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description(
      'run a worker on task queue cutover (Temporal from TEMPORAL_ADDRESS / profiles; gateway and Trino credentials from CUTOVER_* variables) until Ctrl-C',
    )
    .option('--json', 'report a failure to start as JSON (the worker logs JSON lines anyway)')
    .action((options: JsonOption) =>
      runVerb(options, async () => {
        try {
          // Loaded on use (require works under tsx's CommonJS hook too): the worker's modules are the heaviest part of the CLI.
          const { runWorkerFromEnv } = require('../../worker/worker') as typeof import('../../worker/worker');
          await runWorkerFromEnv();
        } catch (error) {
          if (error instanceof PolicyError) {
            throw new UsageError(
              `${error.message}\nthe worker did not start: fix the policy file (README: Worker policy)`,
            );
          }
          const address = loadClientConnectConfig().connectionOptions.address ?? 'localhost:7233';
          throw new Error(
            `the worker stopped: ${(error as Error).message}; check that Temporal runs at ${address} (start one with \`cutover dev\`, or set TEMPORAL_ADDRESS / a profile)`,
          );
        }
      }),
    );
}
