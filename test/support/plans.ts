import { validatePlan } from '../../src/plan/load';
import { merge, type Overrides } from '../../src/plan/merge';
import type { UpgradePlan } from '../../src/plan/schema';
import { sandboxPlan } from '../../src/sandbox/plan';

/** A fast blue/green plan against a sandbox fleet (approval required), validated like a user's plan; `overrides` merge deeply. */
export function fastPlan(gatewayUrl: string, routingGroup: string, overrides: Overrides = {}): UpgradePlan {
  const fast: Overrides = {
    gateway: { requestTimeout: '5s' },
    green: { provisioner: { startupDelay: '500ms' } },
    health: { interval: '200ms', timeout: '20s', smokeQueries: ['SELECT 1', 'SELECT version()'] },
    approval: { required: true, timeout: '1h' },
    bake: '2s',
    drain: { timeout: '1m', interval: '200ms' },
    retire: { keepBlueFor: '1s' },
    // Most tests run no query load: their bakes pass on health alone. Tests of the analysis set minQueries.
    ...(overrides.strategy === 'canary'
      ? { canary: { analysis: { minQueries: 0 } } }
      : { analysis: { minQueries: 0, interval: '200ms' } }),
  };
  return sandboxPlan(gatewayUrl, routingGroup, merge(fast, overrides), 'test plan');
}

/**
 * `plan` with green provisioned by the test policy's `sandbox-curl` command profile
 * (test/support/policy.ts), each command taking `seconds` first, as a real provisioner (helm,
 * terraform) takes its time.
 */
export function withSlowCommandProvisioner(plan: UpgradePlan, seconds: number): UpgradePlan {
  const provisioner = { type: 'command', profile: 'sandbox-curl', parameters: { seconds: String(seconds) } };
  return validatePlan(
    { ...plan, green: { name: plan.green.name, version: plan.green.version, provisioner } },
    'test plan',
  );
}
