import type { Command } from 'commander';
import { rollbackUpdate } from '../../workflows/messages';
import { UsageError, operatorName, printAcknowledgement, runVerb, withTemporal, type JsonOption } from '../output';
import { signingKeyOf, signRequest, withSigningOptions, type SigningOptions } from '../signing';
import { sendUpdate } from './upgrade-handle';

interface RollbackOptions extends JsonOption, SigningOptions {
  by?: string;
  reason: string;
}

/** `cutover rollback ID --reason TEXT`: blue serves again, green is drained (never killed) and removed. */
export function registerRollback(program: Command): void {
  withSigningOptions(
    program
      .command('rollback')
      .description('roll the upgrade back: blue is activated first, then green is deactivated, drained and torn down')
      .argument('<id>', 'workflow id of the upgrade, e.g. cutover-adhoc')
      .requiredOption('--reason <text>', 'why, recorded in the timeline')
      .option('--by <name>', 'who rolls back (default: $USER; with --key, your name in the worker policy)'),
  )
    .option('--json', 'print the acknowledgement as JSON')
    .action((id: string, options: RollbackOptions) =>
      runVerb(options, async () => {
        if (!options.reason.trim()) throw new UsageError('--reason must say why the upgrade is rolled back');
        const key = await signingKeyOf(options);
        return withTemporal(async ({ client }) => {
          const by = operatorName(options.by);
          const signature = key && (await signRequest(client, id, 'rollback', by, key, options.expiresIn));
          const input = { by, reason: options.reason, ...(signature ? { signature } : {}) };
          return printAcknowledgement(id, 'rollback', await sendUpdate(client, id, rollbackUpdate, input), options);
        });
      }),
    );
}
