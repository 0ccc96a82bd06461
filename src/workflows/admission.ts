import {
  ApplicationFailure,
  patched,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { checkPlan } from '../plan/problems';
import type { UpgradePlan } from '../plan/schema';
import { quick } from './activity-options';
import type { UpgradeInput } from './engine';
import { CutoverPhase } from './search-attributes';

/**
 * Patch id of the worker's own check of every run (issue: the worker is the trust boundary).
 * Upgrades whose history predates it were checked by the CLI only, and replay without it.
 */
export const WORKER_VALIDATES_RUNS = 'worker-validates-runs';

/**
 * The worker decides what runs: the input is validated with the plan schema here, in the
 * workflow, and against the worker's policy by the `checkRun` activity, before anything changes.
 * A run started from the Temporal UI or CLI with a bad or disallowed plan fails at once, with
 * every problem named. Returns the plan with its defaults filled.
 */
export async function admit(strategy: UpgradePlan['strategy'], input: UpgradeInput): Promise<UpgradePlan> {
  if (!patched(WORKER_VALIDATES_RUNS)) return input.plan;
  const problems: string[] = [];
  if (input.resume && !workflowInfo().continuedFromExecutionRunId) {
    problems.push("resume: is accepted only from cutover's own continue-as-new, never in a new start");
  }
  const checked = checkPlan(input.plan);
  if (!checked.ok) problems.push(...checked.problems);
  else if (checked.plan.strategy !== strategy) {
    problems.push(
      `strategy: is ${checked.plan.strategy}, but ${workflowInfo().workflowType} runs ${strategy} upgrades`,
    );
  }
  if (problems.length === 0 && checked.ok && !input.resume) {
    const verdict = await quick.checkRun.executeWithOptions(
      { summary: 'check the plan against the worker policy', scheduleToCloseTimeout: '1m' },
      [{ plan: checked.plan }],
    );
    problems.push(...verdict.problems);
  }
  if (problems.length > 0 || !checked.ok) refuse(problems);
  return checked.plan;
}

function refuse(problems: string[]): never {
  const message = `the worker refused this upgrade; nothing was changed:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`;
  upsertSearchAttributes([{ key: CutoverPhase, value: 'FAILED' }]);
  setCurrentDetails(
    `### Refused by the worker\n\nNothing was changed.\n\n${problems.map((problem) => `- ${problem}`).join('\n')}`,
  );
  throw ApplicationFailure.create({ message, type: 'PlanRefused', nonRetryable: true, details: [problems] });
}
