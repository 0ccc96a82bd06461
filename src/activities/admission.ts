import { policyProblems } from '../policy/check-plan';
import type { UpgradePlan } from '../plan/schema';
import type { ActivityDeps } from './types';

export interface CheckRunResult {
  /** Every problem the worker's policy finds in the plan, each naming the plan's field; empty when it may run. */
  problems: string[];
  /** Which policy judged it, for the timeline. */
  policy: 'none' | 'file';
}

/** The worker's own check of every run it executes, whoever started it. */
export function admissionActivities(deps: ActivityDeps) {
  return {
    /** Checks a plan against the worker's policy (origins, provisioners, approvers, bounds) before anything changes. */
    async checkRun(input: { plan: UpgradePlan }): Promise<CheckRunResult> {
      const policy = deps.policy();
      return { problems: policyProblems(input.plan, policy), policy: policy ? 'file' : 'none' };
    },
  };
}
