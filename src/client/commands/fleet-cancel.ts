import type { Command } from 'commander';
import { printJson, printLines, runVerb, withTemporal, type JsonOption } from '../output';
import { endedRefusal } from './upgrade-handle';
import { FLEET_TARGET, describeFleet, fleetIdOf } from './fleet-handle';

/** `cutover fleet cancel NAME|ID`: Temporal's cancellation of the fleet: its running groups roll back, no new group starts. */
export function registerFleetCancel(fleet: Command): void {
  fleet
    .command('cancel')
    .description(
      "cancel the fleet: the groups' upgrades still running roll back (blue serves again), no new group starts",
    )
    .argument('<fleet>', 'name of the fleet (e.g. sandbox-480) or its workflow id (cutover-fleet-sandbox-480)')
    .option('--json', 'print the outcome as JSON')
    .action((nameOrId: string, options: JsonOption) =>
      runVerb(options, () => {
        const id = fleetIdOf(nameOrId);
        return withTemporal(async ({ client }) => {
          const description = await describeFleet(client, id);
          if (description.status.name !== 'RUNNING') throw endedRefusal(id, 'cancel', description, FLEET_TARGET);
          await client.workflow.getHandle(id).cancel();
          if (options.json) printJson({ id, verb: 'cancel', requested: true });
          else
            printLines(
              `${id}: cancellation requested: the groups' upgrades still running roll back, no new group starts`,
              `  follow it with \`cutover fleet watch ${id}\``,
            );
        });
      }),
    );
}
