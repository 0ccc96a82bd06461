import { ApplicationFailure, heartbeat, sleep } from '@temporalio/activity';
import { isReachable, poolShare } from '../integrations/traffic/backend-pool';
import { RoutingRuleShifter } from '../integrations/traffic/routing-rule';
import { durationMs } from '../plan/duration';
import { pollGatewayHealthy, toFailure } from './poll';
import type { ActivityDeps, GatewayTarget } from './types';

/** Where canary traffic goes; names only, the worker holds the credentials. */
export interface CanaryTarget {
  gateway: GatewayTarget;
  mode: 'routing-rule' | 'backend-pool';
  /** The backend that takes canary traffic: `<green>-canary` in the canary group, or green itself in the pool. */
  entry: string;
  ruleName: string;
  canaryGroup: string;
  rulesRefresh: string;
  interval: string;
  timeout: string;
}

export interface ShiftCanaryInput extends CanaryTarget {
  percent: number;
  blueCount: number;
}

/** Activities of the canary strategy: move a share of new queries to green, move it back (the bake's analysis is in canary-analysis.ts). */
export function canaryActivities(deps: ActivityDeps) {
  async function waitHealthy(target: CanaryTarget): Promise<void> {
    const outcome = await pollGatewayHealthy(deps.gateway(target.gateway), target.entry, durationMs(target.interval), durationMs(target.timeout));
    if (!outcome.healthy) {
      throw ApplicationFailure.nonRetryable(`${target.entry} was not HEALTHY within ${target.timeout}: ${outcome.observation}`, 'CanaryUnhealthy');
    }
  }

  /** Waits out the gateway's rules refresh period, heartbeating, so a step counts only once the router sees it. */
  async function waitForRulesRefresh(target: CanaryTarget): Promise<void> {
    const until = Date.now() + durationMs(target.rulesRefresh);
    while (Date.now() < until) {
      heartbeat({ waitingForRulesRefresh: until - Date.now() });
      await sleep(Math.min(1000, Math.max(0, until - Date.now())));
    }
  }

  return {
    /** Registers the canary entry (routing-rule mode) inactive in the canary group, so it is health-checked. */
    async registerCanary(input: CanaryTarget & { url: string }): Promise<void> {
      if (input.mode !== 'routing-rule') return;
      const gateway = deps.gateway(input.gateway);
      try {
        const existing = await gateway.getBackend(input.entry);
        if (existing && existing.proxyTo === input.url && existing.routingGroup === input.canaryGroup) return;
        await gateway.upsertBackend({ name: input.entry, proxyTo: input.url, externalUrl: input.url, routingGroup: input.canaryGroup, active: false });
      } catch (error) {
        throw toFailure(error);
      }
    },

    /** Gives green `percent` (< 100) of new queries and returns the share really applied. */
    async shiftCanary(input: ShiftCanaryInput): Promise<{ appliedPercent: number }> {
      const gateway = deps.gateway(input.gateway);
      try {
        if (input.mode === 'backend-pool' && !isReachable(input.percent, input.blueCount)) {
          throw ApplicationFailure.nonRetryable(
            `${input.percent}% is not reachable with backend-pool traffic and ${input.blueCount} blue backend(s): green gets ${Math.round(poolShare(input.blueCount))}% of new queries, then 100%`,
            'WeightNotReachable',
          );
        }
        await gateway.activateBackend(input.entry);
        await waitHealthy(input);
        if (input.mode === 'backend-pool') return { appliedPercent: Math.round(poolShare(input.blueCount)) };
        await new RoutingRuleShifter(gateway, input).setWeight(input.percent);
        await waitForRulesRefresh(input);
        return { appliedPercent: input.percent };
      } catch (error) {
        throw toFailure(error);
      }
    },

    /** Sends every new canary query back to blue; green's running queries finish where they run. */
    async resetCanary(input: CanaryTarget): Promise<void> {
      const gateway = deps.gateway(input.gateway);
      try {
        if (input.mode === 'routing-rule') {
          const shifter = new RoutingRuleShifter(gateway, input);
          if ((await shifter.currentWeight()) > 0) {
            await shifter.setWeight(0);
            await waitForRulesRefresh(input);
          }
        }
        if ((await gateway.getBackend(input.entry))?.active) await gateway.deactivateBackend(input.entry);
      } catch (error) {
        throw toFailure(error);
      }
    },
  };
}
