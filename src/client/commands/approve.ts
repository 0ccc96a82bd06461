import type { Command } from 'commander';
import { approveUpdate } from '../../workflows/messages';
import { operatorName, printAcknowledgement, runVerb, withTemporal, type JsonOption } from '../output';
import { signingKeyOf, signRequest, withSigningOptions, type SigningOptions } from '../signing';
import { sendUpdate } from './upgrade-handle';

interface ApproveOptions extends JsonOption, SigningOptions {
  by?: string;
  comment?: string;
}

/** `cutover approve ID`: passes the approval gate; refused (exit 1) when nothing awaits approval. */
export function registerApprove(program: Command): void {
  withSigningOptions(
    program
      .command('approve')
      .description('approve the upgrade waiting at its approval gate: traffic shifts to green')
      .argument('<id>', 'workflow id of the upgrade, e.g. cutover-adhoc')
      .option('--by <name>', 'who approves (default: $USER; with --key, your name in the worker policy)')
      .option('--comment <text>', 'note recorded in the timeline'),
  )
    .option('--json', 'print the acknowledgement as JSON')
    .action((id: string, options: ApproveOptions) =>
      runVerb(options, async () => {
        const key = await signingKeyOf(options);
        return withTemporal(async ({ client }) => {
          const by = operatorName(options.by);
          const signature = key && (await signRequest(client, id, 'approve', by, key, options.expiresIn));
          const input = {
            by,
            ...(options.comment ? { comment: options.comment } : {}),
            ...(signature ? { signature } : {}),
          };
          return printAcknowledgement(id, 'approve', await sendUpdate(client, id, approveUpdate, input), options);
        });
      }),
    );
}
