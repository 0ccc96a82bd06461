import { merge, type Overrides } from '../src/plan/merge';
import type { UpgradePlan } from '../src/plan/schema';
import { sandboxPlan } from '../src/sandbox/plan';

/** A blue/green plan against a sandbox fleet (approval not required), validated like a user's plan. */
export function benchPlan(gatewayUrl: string, routingGroup: string, overrides: Overrides = {}): UpgradePlan {
  const bench: Overrides = {
    gateway: { requestTimeout: '10s' },
    green: { provisioner: { startupDelay: '2s' } },
    health: { interval: '1s', timeout: '5m', smokeQueries: ['SELECT 1'] },
    approval: { required: false },
    bake: '5s',
    drain: { timeout: '30m', interval: '1s' },
    retire: { keepBlueFor: '2s' },
    // The benchmarks run little or no query load: blue/green bakes pass on health alone.
    ...(overrides.strategy === 'canary' ? {} : { analysis: { minQueries: 0 } }),
  };
  return sandboxPlan(gatewayUrl, routingGroup, merge(bench, overrides), 'bench plan');
}
