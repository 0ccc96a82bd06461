import type { UpgradePlan } from '../../plan/schema';
import type { Step } from '../steps';

/** Canary: traffic moves to green in weighted steps, each baked under analysis; a step may be a manual gate. */
export function canarySteps(plan: UpgradePlan): Step[] {
  const canary = plan.canary;
  if (!canary) throw new Error('a canary plan needs its canary section');
  const moves = canary.steps.flatMap((step): Step[] =>
    step.approval
      ? [{ kind: 'approval' }]
      : [
          { kind: 'shift', percent: step.weight! },
          { kind: 'bake', duration: step.bake ?? plan.bake, analysis: true },
        ],
  );
  return [
    { kind: 'provision' },
    { kind: 'verify' },
    { kind: 'register' },
    // Only with a `shadow` section: the steps of other plans stay as they were (no patch needed).
    ...(plan.shadow ? [{ kind: 'shadow' } as const] : []),
    ...(plan.approval.required ? [{ kind: 'approval' } as const] : []),
    ...moves,
    { kind: 'drain' },
    { kind: 'keepWarm', duration: plan.retire.keepBlueFor },
    { kind: 'retire' },
  ];
}
