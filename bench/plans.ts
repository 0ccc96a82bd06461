import { validatePlan } from '../src/plan/load';
import { merge, type Overrides } from '../test/support/plans';
import type { UpgradePlan } from '../src/plan/schema';
import type { RoutingRule } from '../src/integrations/gateway/types';
import { canaryAction, canaryCondition } from '../src/integrations/traffic/routing-rule';

/** A blue/green plan against a sandbox fleet (approval not required), validated like a user's plan. */
export function benchPlan(gatewayUrl: string, routingGroup: string, overrides: Overrides = {}): UpgradePlan {
  const base: Overrides = {
    strategy: 'blue-green',
    gateway: { url: gatewayUrl, requestTimeout: '10s' },
    routingGroup,
    green: { name: `${routingGroup}-green`, version: '480', provisioner: { type: 'sandbox', startupDelay: '2s' } },
    health: { interval: '1s', timeout: '5m', smokeQueries: ['SELECT 1'] },
    approval: { required: false },
    bake: '5s',
    drain: { timeout: '30m', interval: '1s' },
    retire: { keepBlueFor: '2s', teardown: true },
  };
  return validatePlan(merge(base, overrides), 'bench plan');
}

/** FILE rules of a canary fleet: the routing-group header first, then cutover's canary rule at 0%. */
export function canaryRules(groups: string[]): RoutingRule[] {
  return [
    {
      name: 'routing-group-header',
      priority: 0,
      condition: 'request.getHeader("X-Trino-Routing-Group") != null',
      actions: ['result.put("routingGroup", request.getHeader("X-Trino-Routing-Group"))'],
    },
    ...groups.map((group, i) => ({
      name: groups.length === 1 ? 'cutover-canary' : `cutover-canary-${group}`,
      priority: 10 + i,
      condition: canaryCondition(0),
      actions: [canaryAction(`${group}-canary`)],
    })),
  ];
}
