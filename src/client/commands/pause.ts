import type { Command } from 'commander';
import { pauseUpdate } from '../../workflows/messages';
import { operatorName, printAcknowledgement, runVerb, withTemporal, type JsonOption } from '../output';
import { sendUpdate } from './upgrade-handle';

interface PauseOptions extends JsonOption {
  by?: string;
}

/** `cutover pause ID`: the upgrade finishes its current step and waits before the next one. */
export function registerPause(program: Command): void {
  program
    .command('pause')
    .description('pause the upgrade before its next step (a rollback still works while paused)')
    .argument('<id>', 'workflow id of the upgrade, e.g. cutover-adhoc')
    .option('--by <name>', 'who pauses (default: $USER)')
    .option('--json', 'print the acknowledgement as JSON')
    .action((id: string, options: PauseOptions) =>
      runVerb(options, () =>
        withTemporal(async ({ client }) => {
          return printAcknowledgement(
            id,
            'pause',
            await sendUpdate(client, id, pauseUpdate, { by: operatorName(options.by) }),
            options,
          );
        }),
      ),
    );
}
