import type { Command } from 'commander';
import { resumeUpdate } from '../../workflows/messages';
import { operatorName, printAcknowledgement, runVerb, withTemporal, type JsonOption } from '../output';
import { sendUpdate } from './upgrade-handle';

interface ResumeOptions extends JsonOption {
  by?: string;
}

/** `cutover resume ID`: a paused upgrade goes on with its next step. */
export function registerResume(program: Command): void {
  program
    .command('resume')
    .description('resume a paused upgrade')
    .argument('<id>', 'workflow id of the upgrade, e.g. cutover-adhoc')
    .option('--by <name>', 'who resumes (default: $USER)')
    .option('--json', 'print the acknowledgement as JSON')
    .action((id: string, options: ResumeOptions) =>
      runVerb(options, () =>
        withTemporal(async ({ client }) => {
          return printAcknowledgement(
            id,
            'resume',
            await sendUpdate(client, id, resumeUpdate, { by: operatorName(options.by) }),
            options,
          );
        }),
      ),
    );
}
