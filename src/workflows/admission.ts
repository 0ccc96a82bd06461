import { ApplicationFailure, setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { checkPlan } from '../plan/problems';
import type { UpgradePlan } from '../plan/schema';
import { workerValidatesRuns } from './activity-options';
import type { UpgradeInput } from './engine';
import { CutoverPhase } from './search-attributes';

/**
 * The worker decides what runs: the input is validated with the plan schema here, in the workflow,
 * before anything else (the preflight then checks it against the worker's policy). A run started
 * from the Temporal UI or CLI with a bad plan fails at once, with every problem named. Returns the
 * plan with its defaults filled.
 */
export async function admit(strategy: UpgradePlan['strategy'], input: UpgradeInput): Promise<UpgradePlan> {
  if (!workerValidatesRuns()) return input.plan;
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
