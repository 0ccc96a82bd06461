import type { Command } from 'commander';
import { registerFleetApprove } from './fleet-approve';
import { registerFleetCancel } from './fleet-cancel';
import { registerFleetList } from './fleet-list';
import { registerFleetPause } from './fleet-pause';
import { registerFleetResume } from './fleet-resume';
import { registerFleetRollback } from './fleet-rollback';
import { registerFleetStart } from './fleet-start';
import { registerFleetStatus } from './fleet-status';
import { registerFleetValidate } from './fleet-validate';
import { registerFleetWatch } from './fleet-watch';

const EXAMPLES = `
Examples:
  $ cutover fleet validate plans/sandbox-fleet.yaml --gateway   # waves and every group's plan; starts nothing
  $ cutover fleet start plans/sandbox-fleet.yaml                # start it (workflow cutover-fleet-<name>)
  $ cutover fleet watch sandbox-480                             # follow waves and groups until it ends
  $ cutover fleet status sandbox-480                            # each wave's groups: state, phase, traffic
  $ cutover fleet approve sandbox-480 --comment "wave 2 looks good"
  $ cutover fleet list sandbox-480                              # its groups' upgrades (cutover-<group>)

A fleet is named by its name (sandbox-480) or its workflow id (cutover-fleet-sandbox-480).`;

/** `cutover fleet ...`: many routing groups of one gateway upgraded to one version, in waves (README "Fleet upgrades"). */
export function registerFleet(program: Command): void {
  const fleet = program
    .command('fleet')
    .description('fleet upgrades: many routing groups of one gateway upgraded to one Trino version, in waves')
    .addHelpText('after', EXAMPLES);
  registerFleetValidate(fleet);
  registerFleetStart(fleet);
  registerFleetStatus(fleet);
  registerFleetWatch(fleet);
  registerFleetList(fleet);
  registerFleetApprove(fleet);
  registerFleetPause(fleet);
  registerFleetResume(fleet);
  registerFleetRollback(fleet);
  registerFleetCancel(fleet);
}
