import type { Command } from 'commander';
import { fleetRollbackUpdate } from '../../workflows/fleet/messages';
import { UsageError, operatorName, printAcknowledgement, runVerb, withTemporal, type JsonOption } from '../output';
import { signFleetRequest, signingKeyOf, withSigningOptions, type SigningOptions } from '../signing';
import { FLEET_TARGET, fleetIdOf } from './fleet-handle';
import { sendUpdate } from './upgrade-handle';

interface FleetRollbackOptions extends JsonOption, SigningOptions {
  by?: string;
  reason: string;
}

/** `cutover fleet rollback NAME|ID --reason TEXT`: the fleet's groups that still keep blue warm roll back; no new group starts. */
export function registerFleetRollback(fleet: Command): void {
  withSigningOptions(
    fleet
      .command('rollback')
      .description(
        'roll the fleet back: its running groups and those that still keep blue warm roll back (blue serves again), no new group starts',
      )
      .argument('<fleet>', 'name of the fleet (e.g. sandbox-480) or its workflow id (cutover-fleet-sandbox-480)')
      .requiredOption('--reason <text>', 'why, recorded in the timeline')
      .option('--by <name>', 'who rolls back (default: $USER; with --key, your name in the worker policy)'),
  )
    .option('--json', 'print the acknowledgement as JSON')
    .action((nameOrId: string, options: FleetRollbackOptions) =>
      runVerb(options, async () => {
        if (!options.reason.trim()) throw new UsageError('--reason must say why the fleet is rolled back');
        const id = fleetIdOf(nameOrId);
        const key = await signingKeyOf(options);
        return withTemporal(async ({ client }) => {
          const by = operatorName(options.by);
          const signature = key && (await signFleetRequest(client, id, 'rollback', by, key, options.expiresIn));
          const input = { by, reason: options.reason, ...(signature ? { signature } : {}) };
          const acknowledgement = await sendUpdate(client, id, fleetRollbackUpdate, input, FLEET_TARGET);
          return printAcknowledgement(id, 'rollback', acknowledgement, options, 'cutover fleet');
        });
      }),
    );
}
