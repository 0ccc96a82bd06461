import { workflowInfo } from '@temporalio/workflow';
import { issueProblems } from '../plan/problems';
import { fleetPlanSchema, type FleetPlan } from '../fleet/schema';
import type { FleetInput, FleetResult } from './fleet/messages';
import { FleetRunner, refuseFleet } from './fleet/runner';

/**
 * A fleet upgrade (README "Fleet upgrades"): many routing groups of one gateway to one Trino
 * version, in waves, each group's upgrade a child workflow `cutover-<group>`. The worker checks
 * the fleet plan here, then every group's plan (runner.prepare) before any upgrade starts.
 */
export async function fleetUpgrade(input: FleetInput): Promise<FleetResult> {
  return new FleetRunner(admitFleet(input), input).run();
}

function admitFleet(input: FleetInput): FleetPlan {
  const problems: string[] = [];
  if (input.resume && !workflowInfo().continuedFromExecutionRunId)
    problems.push("resume: is accepted only from cutover's own continue-as-new, never in a new start");
  if (input.historyLimit !== undefined && (!Number.isInteger(input.historyLimit) || input.historyLimit < 1))
    problems.push('historyLimit: must be a whole number of history events');
  const parsed = fleetPlanSchema.safeParse(input.fleet, { reportInput: true });
  if (!parsed.success) problems.push(...issueProblems(parsed.error.issues, (field) => field || '(fleet)'));
  if (problems.length > 0 || !parsed.success) refuseFleet(problems);
  return parsed.data;
}
