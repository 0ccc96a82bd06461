import type { Command } from 'commander';
import { fleetResumeUpdate } from '../../workflows/fleet/messages';
import { operatorName, printAcknowledgement, runVerb, withTemporal, type JsonOption } from '../output';
import { FLEET_TARGET, fleetIdOf } from './fleet-handle';
import { sendUpdate } from './upgrade-handle';

interface FleetResumeOptions extends JsonOption {
  by?: string;
}

/** `cutover fleet resume NAME|ID`: a paused or halted fleet goes on with the groups not started. */
export function registerFleetResume(fleet: Command): void {
  fleet
    .command('resume')
    .description('resume a paused fleet, or a halted one with the groups not started yet')
    .argument('<fleet>', 'name of the fleet (e.g. sandbox-480) or its workflow id (cutover-fleet-sandbox-480)')
    .option('--by <name>', 'who resumes (default: $USER)')
    .option('--json', 'print the acknowledgement as JSON')
    .action((nameOrId: string, options: FleetResumeOptions) =>
      runVerb(options, () => {
        const id = fleetIdOf(nameOrId);
        return withTemporal(async ({ client }) => {
          const input = { by: operatorName(options.by) };
          const acknowledgement = await sendUpdate(client, id, fleetResumeUpdate, input, FLEET_TARGET);
          return printAcknowledgement(id, 'resume', acknowledgement, options, 'cutover fleet');
        });
      }),
    );
}
