import type { Command } from 'commander';
import { fleetPauseUpdate } from '../../workflows/fleet/messages';
import { operatorName, printAcknowledgement, runVerb, withTemporal, type JsonOption } from '../output';
import { FLEET_TARGET, fleetIdOf } from './fleet-handle';
import { sendUpdate } from './upgrade-handle';

interface FleetPauseOptions extends JsonOption {
  by?: string;
}

/** `cutover fleet pause NAME|ID`: no new group starts; the groups' upgrades already running go on. */
export function registerFleetPause(fleet: Command): void {
  fleet
    .command('pause')
    .description(
      "pause the fleet: no new group's upgrade starts (those running go on; pause them with `cutover pause`)",
    )
    .argument('<fleet>', 'name of the fleet (e.g. sandbox-480) or its workflow id (cutover-fleet-sandbox-480)')
    .option('--by <name>', 'who pauses (default: $USER)')
    .option('--json', 'print the acknowledgement as JSON')
    .action((nameOrId: string, options: FleetPauseOptions) =>
      runVerb(options, () => {
        const id = fleetIdOf(nameOrId);
        return withTemporal(async ({ client }) => {
          const input = { by: operatorName(options.by) };
          const acknowledgement = await sendUpdate(client, id, fleetPauseUpdate, input, FLEET_TARGET);
          return printAcknowledgement(id, 'pause', acknowledgement, options, 'cutover fleet');
        });
      }),
    );
}
