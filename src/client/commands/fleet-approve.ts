import type { Command } from 'commander';
import { fleetApproveUpdate } from '../../workflows/fleet/messages';
import { operatorName, printAcknowledgement, runVerb, withTemporal, type JsonOption } from '../output';
import { signFleetRequest, signingKeyOf, withSigningOptions, type SigningOptions } from '../signing';
import { FLEET_TARGET, fleetIdOf } from './fleet-handle';
import { sendUpdate } from './upgrade-handle';

interface FleetApproveOptions extends JsonOption, SigningOptions {
  by?: string;
  comment?: string;
}

/** `cutover fleet approve NAME|ID`: passes the fleet's approval before a wave; refused (exit 1) when none waits. */
export function registerFleetApprove(fleet: Command): void {
  withSigningOptions(
    fleet
      .command('approve')
      .description('approve the wave the fleet waits to start (waves with approval: true)')
      .argument('<fleet>', 'name of the fleet (e.g. sandbox-480) or its workflow id (cutover-fleet-sandbox-480)')
      .option('--by <name>', 'who approves (default: $USER; with --key, your name in the worker policy)')
      .option('--comment <text>', 'note recorded in the timeline'),
  )
    .option('--json', 'print the acknowledgement as JSON')
    .action((nameOrId: string, options: FleetApproveOptions) =>
      runVerb(options, async () => {
        const id = fleetIdOf(nameOrId);
        const key = await signingKeyOf(options);
        return withTemporal(async ({ client }) => {
          const by = operatorName(options.by);
          const signature = key && (await signFleetRequest(client, id, 'approve', by, key, options.expiresIn));
          const input = {
            by,
            ...(options.comment ? { comment: options.comment } : {}),
            ...(signature ? { signature } : {}),
          };
          const acknowledgement = await sendUpdate(client, id, fleetApproveUpdate, input, FLEET_TARGET);
          return printAcknowledgement(id, 'approve', acknowledgement, options, 'cutover fleet');
        });
      }),
    );
}
