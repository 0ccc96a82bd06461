import type { UpgradePlan } from '../../plan/schema';
import type { Step } from '../steps';

/** Blue/green: everything moves at once after approval; blue stays warm for an instant rollback. */
export function blueGreenSteps(plan: UpgradePlan): Step[] {
  return [
    { kind: 'provision' },
    { kind: 'verify' },
    { kind: 'register' },
    // Only with a `shadow` section: the steps of other plans stay as they were (no patch needed).
    ...(plan.shadow ? [{ kind: 'shadow' } as const] : []),
    ...(plan.approval.required ? [{ kind: 'approval' } as const] : []),
    { kind: 'shift', percent: 100 },
    { kind: 'bake', duration: plan.bake },
    { kind: 'drain' },
    { kind: 'keepWarm', duration: plan.retire.keepBlueFor },
    { kind: 'retire' },
  ];
}
