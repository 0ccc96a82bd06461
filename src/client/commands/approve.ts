import type { Command } from 'commander';
import { approveUpdate } from '../../workflows/messages';
import { operatorName, printAcknowledgement, runVerb, withTemporal, type JsonOption } from '../output';
import { sendUpdate } from './upgrade-handle';

interface ApproveOptions extends JsonOption {
  by?: string;
  comment?: string;
}

/** `cutover approve ID`: passes the approval gate; refused (exit 1) when nothing awaits approval. */
export function registerApprove(program: Command): void {
  program
    .command('approve')
    .description('approve the upgrade waiting at its approval gate: traffic shifts to green')
    .argument('<id>', 'workflow id of the upgrade, e.g. cutover-adhoc')
    .option('--by <name>', 'who approves (default: $USER)')
    .option('--comment <text>', 'note recorded in the timeline')
    .option('--json', 'print the acknowledgement as JSON')
    .action((id: string, options: ApproveOptions) =>
      runVerb(options, () =>
        withTemporal(async ({ client }) => {
          const input = { by: operatorName(options.by), ...(options.comment ? { comment: options.comment } : {}) };
          return printAcknowledgement(id, 'approve', await sendUpdate(client, id, approveUpdate, input), options);
        }),
      ),
    );
}
