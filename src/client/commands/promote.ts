import type { Command } from 'commander';
import { promoteUpdate } from '../../workflows/messages';
import { operatorName, printAcknowledgement, runVerb, withTemporal, type JsonOption } from '../output';
import { sendUpdate } from './upgrade-handle';

interface PromoteOptions extends JsonOption {
  by?: string;
  full?: boolean;
}

/** `cutover promote ID [--full]`: ends the current canary bake now, or with --full jumps to 100%. */
export function registerPromote(program: Command): void {
  program
    .command('promote')
    .description('canary: end the current bake now (with --full, skip every remaining step and move to 100%)')
    .argument('<id>', 'workflow id of the upgrade, e.g. cutover-adhoc')
    .option('--by <name>', 'who promotes (default: $USER)')
    .option('--full', 'skip every remaining bake, gate and partial step')
    .option('--json', 'print the acknowledgement as JSON')
    .action((id: string, options: PromoteOptions) =>
      runVerb(options, () =>
        withTemporal(async ({ client }) => {
          const input = { by: operatorName(options.by), ...(options.full ? { full: true } : {}) };
          return printAcknowledgement(id, 'promote', await sendUpdate(client, id, promoteUpdate, input), options);
        }),
      ),
    );
}
