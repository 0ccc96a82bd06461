import { validatePlan } from '../plan/load';
import { merge, type Overrides } from '../plan/merge';
import type { UpgradePlan } from '../plan/schema';

/**
 * A blue/green plan against a sandbox fleet, validated like a user's plan: green `<group>-green`
 * on Trino 480 from the sandbox provisioner, blue torn down at the end. `settings` (timings,
 * approval, another strategy) merge deeply; `source` names the plan in validation errors.
 */
export function sandboxPlan(
  gatewayUrl: string,
  routingGroup: string,
  settings: Overrides,
  source: string,
): UpgradePlan {
  const base: Overrides = {
    strategy: 'blue-green',
    gateway: { url: gatewayUrl },
    routingGroup,
    green: { name: `${routingGroup}-green`, version: '480', provisioner: { type: 'sandbox' } },
    // The sandbox's coordinators spool no results: nothing is fetched after a query ends.
    drain: { resultGrace: '0s' },
    retire: { teardown: true },
  };
  return validatePlan(merge(base, settings), source);
}
