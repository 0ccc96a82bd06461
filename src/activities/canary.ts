import { ApplicationFailure, heartbeat, sleep } from '@temporalio/activity';
import { trafficMode, type AppliedWeight, type TrafficModeName } from '../integrations/traffic';
import type { CanarySelector } from '../integrations/traffic/selector';
import { durationMs } from '../plan/duration';
import { assertOwned } from './backend-ownership';
import { pollGatewayHealthy } from './poll';
import { applyOnEveryReplica, pollHealthyOnReplicas, replicasOf } from './replicas';
import type { ActivityDeps, GatewayTarget } from './types';

/** Where canary traffic goes; names only, the worker holds the credentials. */
export interface CanaryTarget {
  gateway: GatewayTarget;
  mode: TrafficModeName;
  /** The backend that takes canary traffic (the mode's canary entry: `<green>-canary`, or green itself). */
  entry: string;
  /** The routing group the entry belongs to (the canary group, or blue's); absent in calls scheduled before ownership checks. */
  entryGroup?: string;
  ruleName: string;
  canaryGroup: string;
  rulesRefresh: string;
  /** The traffic the share applies to (plan `canary.selector`). */
  selector?: CanarySelector;
  /** The plan's routing group, whose requests alone the rule takes (absent in calls scheduled before canaries were scoped). */
  routingGroup?: string;
  /** The gateway's default routing group (plan `gateway.defaultRoutingGroup`). */
  defaultRoutingGroup?: string;
  interval: string;
  timeout: string;
}

export interface ShiftCanaryInput extends CanaryTarget {
  percent: number;
  blueCount: number;
}

/**
 * Activities of the canary strategy: move a share of new queries to green, move it back. They hold
 * the traffic router of the plan's mode and never branch on the mode (the bake's analysis is in
 * canary-analysis.ts).
 */
export function canaryActivities(deps: ActivityDeps) {
  const routerOf = (target: CanaryTarget) => trafficMode(target.mode).router(deps.gateway(target.gateway), target);

  async function waitHealthy(target: CanaryTarget): Promise<void> {
    const replicas = replicasOf(deps, target.gateway);
    const intervalMs = durationMs(target.interval);
    const timeoutMs = durationMs(target.timeout);
    // Each replica routes by its own health cache: the entry must be HEALTHY in every one of them.
    const outcome = replicas.length
      ? await pollHealthyOnReplicas(replicas, target.entry, intervalMs, timeoutMs)
      : await pollGatewayHealthy(deps.gateway(target.gateway), target.entry, intervalMs, timeoutMs);
    if (!outcome.healthy) {
      throw ApplicationFailure.nonRetryable(
        `${target.entry} was not HEALTHY within ${target.timeout}: ${outcome.observation}`,
        'CanaryUnhealthy',
      );
    }
  }

  /** Waits until the gateway's router acts on a change, heartbeating, so a step counts only once it does. */
  async function waitUntilApplied(appliedAfterMs: number): Promise<void> {
    const until = Date.now() + appliedAfterMs;
    while (Date.now() < until) {
      heartbeat({
        observation: `waiting ${Math.ceil((until - Date.now()) / 1000)} s for the gateway to re-read its routing rules`,
      });
      await sleep(Math.min(1000, Math.max(0, until - Date.now())));
    }
  }

  /**
   * The rule at `percent` (0: reset) through the gateway, or, when it has replicas with their own
   * rules files, through each replica, read back from each before the share counts as applied.
   */
  async function setWeight(
    target: CanaryTarget,
    percent: number,
    blueCount: number,
    timeoutMs: number | undefined,
  ): Promise<AppliedWeight> {
    const replicas = replicasOf(deps, target.gateway);
    if (replicas.length === 0 || !trafficMode(target.mode).rewritesRule) {
      return percent === 0 ? routerOf(target).reset() : routerOf(target).setWeight(percent, blueCount);
    }
    const intervalMs = durationMs(target.interval);
    const outcome = await applyOnEveryReplica(replicas, {
      mode: target.mode,
      settings: target,
      percent,
      blueCount,
      intervalMs,
      timeoutMs,
    });
    if (!outcome.applied) {
      throw ApplicationFailure.nonRetryable(
        `routing rule ${target.ruleName} was not at ${percent}% on every gateway replica within ${target.timeout}: ${outcome.observation}`,
        'RoutingRuleNotOnEveryReplica',
      );
    }
    return outcome.weight;
  }

  return {
    /** Registers the canary entry inactive, so the gateway health-checks it (nothing to do when green is the entry). */
    async registerCanary(input: CanaryTarget & { url: string }): Promise<void> {
      const existing = await deps.gateway(input.gateway).getBackend(input.entry);
      if (existing && input.entryGroup !== undefined) {
        const expected = { routingGroup: input.entryGroup, proxyTo: input.url, addressOf: "green's address" };
        assertOwned(existing, expected, 'overwrite', `pick another green name (its canary entry is ${input.entry})`);
        if (existing.active) {
          throw ApplicationFailure.nonRetryable(
            `backend ${input.entry} is already active in routing group ${existing.routingGroup}: refusing to overwrite it; pick another green name`,
            'CanaryEntryActive',
          );
        }
      }
      await routerOf(input).register(input.entry, input.url);
    },

    /** Gives green `percent` (< 100) of new queries and returns the share really applied. */
    async shiftCanary(input: ShiftCanaryInput): Promise<{ appliedPercent: number }> {
      const unreachable = trafficMode(input.mode).unreachableWeight(input.percent, input.blueCount);
      if (unreachable) throw ApplicationFailure.nonRetryable(`${input.percent}% ${unreachable}`, 'WeightNotReachable');
      const gateway = deps.gateway(input.gateway);
      const entry = await gateway.getBackend(input.entry);
      if (entry && input.entryGroup !== undefined)
        assertOwned(entry, { routingGroup: input.entryGroup }, 'activate', 'nothing was changed');
      await gateway.activateBackend(input.entry);
      await waitHealthy(input);
      const applied = await setWeight(input, input.percent, input.blueCount, durationMs(input.timeout));
      await waitUntilApplied(applied.appliedAfterMs);
      return { appliedPercent: applied.percent };
    },

    /** Sends every new canary query back to blue; green's running queries finish where they run. */
    async resetCanary(input: CanaryTarget): Promise<void> {
      // Without a deadline: traffic must go back to blue on every replica, however long one holds out.
      const reset = await setWeight(input, 0, 0, undefined);
      await waitUntilApplied(reset.appliedAfterMs);
      const gateway = deps.gateway(input.gateway);
      const entry = await gateway.getBackend(input.entry);
      // An entry moved to another group meanwhile is that group's now: not this upgrade's to deactivate.
      if (entry?.active && (input.entryGroup === undefined || entry.routingGroup === input.entryGroup))
        await gateway.deactivateBackend(input.entry);
    },
  };
}
