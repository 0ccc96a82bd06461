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
  };
  return sandboxPlan(gatewayUrl, routingGroup, merge(fast, overrides), 'test plan');
}

/**
 * `plan` with green provisioned by shell commands that drive the sandbox fleet's control API with
 * curl, each taking `seconds` first, as a real provisioner (helm, terraform) takes its time.
 */
export function withSlowCommandProvisioner(plan: UpgradePlan, seconds: number): UpgradePlan {
  const cluster = `${plan.gateway.url}/sandbox/v1/clusters/$CUTOVER_CLUSTER_NAME`;
  const urlOf = `sed -E 's/.*"url":"([^"]+)".*/\\1/'`;
  const provisioner = {
    type: 'command',
    status: `out=$(curl -sf "${cluster}") || exit 3; echo "$out" | ${urlOf}`,
    create: `sleep ${seconds} && curl -sf -X PUT --data '{"version":"'"$CUTOVER_TRINO_VERSION"'","startupDelayMs":300}' "${cluster}" | ${urlOf}`,
    delete: `sleep ${seconds} && curl -sf -X DELETE "${cluster}"`,
    timeout: '1m',
  };
  return validatePlan(
    { ...plan, green: { name: plan.green.name, version: plan.green.version, provisioner } },
    'test plan',
  );
}
