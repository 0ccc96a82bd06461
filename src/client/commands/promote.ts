import type { Command } from 'commander';
import { promoteUpdate } from '../../workflows/messages';
import { operatorName, printAcknowledgement, runVerb, withTemporal, type JsonOption } from '../output';
import { signingKeyOf, signRequest, withSigningOptions, type SigningOptions } from '../signing';
import { sendUpdate } from './upgrade-handle';

interface PromoteOptions extends JsonOption, SigningOptions {
  by?: string;
  full?: boolean;
}

/** `cutover promote ID [--full]`: ends the current canary bake now, or with --full jumps to 100%. */
export function registerPromote(program: Command): void {
  withSigningOptions(
    program
      .command('promote')
      .description('canary: end the current bake now (with --full, skip every remaining step and move to 100%)')
      .argument('<id>', 'workflow id of the upgrade, e.g. cutover-adhoc')
      .option('--by <name>', 'who promotes (default: $USER; with --key, your name in the worker policy)')
      .option('--full', 'skip every remaining bake, gate and partial step'),
  )
    .option('--json', 'print the acknowledgement as JSON')
    .action((id: string, options: PromoteOptions) =>
      runVerb(options, async () => {
        const key = await signingKeyOf(options);
        return withTemporal(async ({ client }) => {
          const by = operatorName(options.by);
          const action = options.full ? 'promote-full' : 'promote';
          const signature = key && (await signRequest(client, id, action, by, key, options.expiresIn));
          const input = { by, ...(options.full ? { full: true } : {}), ...(signature ? { signature } : {}) };
          return printAcknowledgement(id, 'promote', await sendUpdate(client, id, promoteUpdate, input), options);
        });
      }),
    );
}
