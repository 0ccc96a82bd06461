import { ApplicationFailure, heartbeat, sleep } from '@temporalio/activity';
import { isReachable, poolShare } from '../integrations/traffic/backend-pool';
import { RoutingRuleShifter } from '../integrations/traffic/routing-rule';
import { durationMs } from '../plan/duration';
import type { CanaryMeasurement } from '../workflows/messages';
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

export interface MeasureCanaryInput {
  gateway: GatewayTarget;
  entry: string;
  url: string;
  version: string;
  /** Queries that ended before this (epoch ms) belong to an earlier window. */
  since: number;
  previousQueued?: number;
  maxErrorRate: number;
  maxQueuedGrowth: number;
}

/** Activities of the canary strategy: move a share of new queries to green, move it back, measure green. */
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

    /** One analysis sample of green: gateway health, version, error rate of the window, queued growth. */
    async measureCanary(input: MeasureCanaryInput): Promise<CanaryMeasurement> {
      const gateway = deps.gateway(input.gateway);
      const trino = deps.trino(input.url);
      const at = Date.now();
      const problems: string[] = [];
      const [state, info, queries] = await Promise.all([
        // An unreachable gateway API says nothing about green: the sample fails and is retried within the retry budget.
        gateway.backendState(input.entry).catch((error: unknown) => {
          throw toFailure(error);
        }),
        trino.info().catch((error: Error) => {
          problems.push(`${input.url} did not answer: ${error.message}`);
          return undefined;
        }),
        trino.listQueries().catch(() => []),
      ]);
      if (state && state.trinoStatus !== 'HEALTHY') problems.push(`gateway reports ${input.entry} ${state.trinoStatus}`);
      if (info && info.nodeVersion.version !== input.version) problems.push(`green runs ${info.nodeVersion.version}, expected ${input.version}`);
      const ended = queries.filter((query) => query.endTime && Date.parse(query.endTime) >= input.since);
      const failed = ended.filter((query) => query.state === 'FAILED').length;
      const finished = ended.length - failed;
      const errorRate = ended.length ? failed / ended.length : 0;
      if (errorRate > input.maxErrorRate) {
        problems.push(`error rate ${(errorRate * 100).toFixed(1)}% (${failed} of ${ended.length}) above ${(input.maxErrorRate * 100).toFixed(1)}%`);
      }
      const queued = queries.filter((query) => query.state === 'QUEUED' || query.state === 'WAITING_FOR_RESOURCES').length;
      if (input.previousQueued !== undefined && queued - input.previousQueued > input.maxQueuedGrowth) {
        problems.push(`queued queries grew from ${input.previousQueued} to ${queued}`);
      }
      return {
        at: new Date(at).toISOString(),
        gatewayStatus: state?.trinoStatus,
        version: info?.nodeVersion.version,
        finished,
        failed,
        errorRate,
        queued,
        problem: problems.length ? problems.join('; ') : undefined,
      };
    },
  };
}
