import type { Command } from 'commander';
import { registerFleetValidate } from './fleet-validate';

/** `cutover fleet ...`: many routing groups of one gateway upgraded to one version, in waves (README "Fleet plans"). */
export function registerFleet(program: Command): void {
  const fleet = program
    .command('fleet')
    .description('fleet plans: many routing groups of one gateway upgraded to one Trino version, in waves');
  registerFleetValidate(fleet);
}
