import type { CanaryTarget } from '../../activities/canary';
import type { GatewayTarget, ProvisionerTarget } from '../../activities/types';
import { trafficMode } from '../../integrations/traffic';
import { GATEWAY_DEFAULT_ROUTING_GROUP, LEGACY_RULE_NAME } from '../../integrations/traffic/routing-rule';
import type { StepContext } from './context';

/** What the activities are told about the gateway; the worker adds the credentials. */
export function gatewayOf(ctx: StepContext): GatewayTarget {
  const { url, requestTimeout, replicas } = ctx.plan.gateway;
  // Plans without replicas give the activities exactly the target they always had.
  return replicas ? { url, requestTimeout, replicas } : { url, requestTimeout };
}

export function provisionerOf(ctx: StepContext): ProvisionerTarget {
  return { config: ctx.plan.green.provisioner, gatewayUrl: ctx.plan.gateway.url };
}

/** Green's coordinator address, once provisioned (or as the plan gives it). */
export function greenUrl(ctx: StepContext): string {
  const url = ctx.facts.greenUrl ?? ctx.plan.green.url;
  if (!url) throw new Error('green has no address yet (the provision step did not run)');
  return url;
}

/** Where canary traffic goes, through the plan's traffic mode. */
export function canaryOf(ctx: StepContext): CanaryTarget {
  const { plan } = ctx;
  const canary = plan.canary;
  if (!canary) throw new Error("a canary step needs the plan's canary section");
  const mode = trafficMode(canary.traffic);
  const canaryGroup = canary.canaryGroup ?? `${plan.routingGroup}-canary`;
  return {
    gateway: gatewayOf(ctx),
    mode: canary.traffic,
    entry: mode.canaryEntry(plan.green.name),
    entryGroup: mode.separateEntry ? canaryGroup : plan.routingGroup,
    // Fixed at the preflight (src/workflows/ownership.ts); upgrades from before it keep the plan's or the former default.
    ruleName: ctx.facts.ruleName ?? canary.ruleName ?? LEGACY_RULE_NAME,
    canaryGroup,
    rulesRefresh: canary.rulesRefresh,
    routingGroup: plan.routingGroup,
    defaultRoutingGroup: plan.gateway.defaultRoutingGroup ?? GATEWAY_DEFAULT_ROUTING_GROUP,
    interval: plan.health.interval,
    timeout: plan.health.timeout,
    // Only when the plan has one: activity inputs of plans without a selector stay as they were.
    ...(canary.selector ? { selector: canary.selector } : {}),
  };
}

/** True when the plan's traffic mode sends canary traffic to an entry of its own beside green. */
export function hasSeparateCanaryEntry(ctx: StepContext): boolean {
  return ctx.plan.canary !== undefined && trafficMode(ctx.plan.canary.traffic).separateEntry;
}
