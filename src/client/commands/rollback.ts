import type { Command } from 'commander';
import { rollbackUpdate } from '../../workflows/messages';
import { UsageError, operatorName, printAcknowledgement, runVerb, withTemporal, type JsonOption } from '../output';
import { sendUpdate } from './upgrade-handle';

interface RollbackOptions extends JsonOption {
  by?: string;
  reason: string;
}

/** `cutover rollback ID --reason TEXT`: blue serves again, green is drained (never killed) and removed. */
export function registerRollback(program: Command): void {
  program
    .command('rollback')
    .description('roll the upgrade back: blue is activated first, then green is deactivated, drained and torn down')
    .argument('<id>', 'workflow id of the upgrade, e.g. cutover-adhoc')
    .requiredOption('--reason <text>', 'why, recorded in the timeline')
    .option('--by <name>', 'who rolls back (default: $USER)')
    .option('--json', 'print the acknowledgement as JSON')
    .action((id: string, options: RollbackOptions) =>
      runVerb(options, async () => {
        if (!options.reason.trim()) throw new UsageError('--reason must say why the upgrade is rolled back');
        return withTemporal(async ({ client }) => {
          const input = { by: operatorName(options.by), reason: options.reason };
          return printAcknowledgement(id, 'rollback', await sendUpdate(client, id, rollbackUpdate, input), options);
        });
      }),
    );
}
