import { IntegrationError } from '../integrations/errors';
import type { GatewayApi } from '../integrations/gateway/types';
import { trafficMode, type AppliedWeight, type CanarySettings, type TrafficModeName } from '../integrations/traffic';
import { pollUntil } from './poll';
import type { ActivityDeps, GatewayTarget } from './types';

/**
 * Gateway replicas behind one URL share the backends' database, but each has its own health cache
 * and (unless it sits on shared storage) its own rules file: what those hold is asked of each
 * replica at its own address, with the worker's credentials under the same policy as the URL.
 */
export interface GatewayReplica {
  /** How messages name the replica: its host and port. */
  label: string;
  api: GatewayApi;
}

/** The replicas a target lists, each with its client; none when the target lists none. */
export function replicasOf(deps: ActivityDeps, target: GatewayTarget): GatewayReplica[] {
  return (target.replicas ?? []).map((url) => ({
    label: new URL(url).host,
    api: deps.gateway({ url, requestTimeout: target.requestTimeout }),
  }));
}

/** What each replica's health cache says of `name`: undefined when every replica reports it HEALTHY. */
export async function unhealthyOnReplicas(replicas: GatewayReplica[], name: string): Promise<string | undefined> {
  const states = await Promise.all(
    replicas.map(async (replica) => ({ replica, status: (await replica.api.backendState(name))?.trinoStatus })),
  );
  const lagging = states.filter(({ status }) => status !== 'HEALTHY');
  if (lagging.length === 0) return undefined;
  return lagging
    .map(({ replica, status }) => `replica ${replica.label} reports ${name} ${status ?? 'UNKNOWN (not listed)'}`)
    .join('; ');
}

/** Polls every replica's health cache until each reports `name` HEALTHY. */
export async function pollHealthyOnReplicas(
  replicas: GatewayReplica[],
  name: string,
  intervalMs: number,
  timeoutMs: number,
): Promise<{ healthy: boolean; observation: string }> {
  const outcome = await pollUntil<true>({
    intervalMs,
    timeoutMs,
    check: async () => {
      const lagging = await unhealthyOnReplicas(replicas, name);
      return lagging ? { done: false, observation: `${lagging}; waiting` } : { done: true, value: true };
    },
  });
  return {
    healthy: outcome.done,
    observation: outcome.done ? `every replica reports ${name} HEALTHY` : outcome.observation,
  };
}

/** What a rule change through every replica needs: the mode's router settings and the share to give. */
export interface ReplicatedWeight {
  mode: TrafficModeName;
  settings: CanarySettings;
  percent: number;
  blueCount: number;
  intervalMs: number;
  /** Give up (undefined: never) after this long; a compensation cannot give up. */
  timeoutMs?: number;
}

/**
 * Writes the share through each replica (idempotent: a replica that has it is not written) and
 * reads the rule back from each, until every replica holds it. A replica that refuses the write
 * (a retryable error) or still shows another share holds the step; the heartbeat names it.
 * Returns the applied weight with the longest wait any replica needs before its router acts on it.
 */
export async function applyOnEveryReplica(
  replicas: GatewayReplica[],
  weight: ReplicatedWeight,
): Promise<{ applied: true; weight: AppliedWeight } | { applied: false; observation: string }> {
  const mode = trafficMode(weight.mode);
  const outcome = await pollUntil<AppliedWeight>({
    intervalMs: weight.intervalMs,
    timeoutMs: weight.timeoutMs,
    check: async () => {
      const held: string[] = [];
      let applied: AppliedWeight = { percent: weight.percent, appliedAfterMs: 0 };
      for (const replica of replicas) {
        const router = mode.router(replica.api, weight.settings);
        try {
          const written =
            weight.percent === 0 ? await router.reset() : await router.setWeight(weight.percent, weight.blueCount);
          applied = {
            percent: written.percent,
            appliedAfterMs: Math.max(applied.appliedAfterMs, written.appliedAfterMs),
          };
          const stored = await router.readWeight();
          if (stored !== weight.percent) {
            held.push(
              `replica ${replica.label} still has ${stored === undefined ? `rule ${weight.settings.ruleName} in another shape` : `${stored}%`}`,
            );
          }
        } catch (error) {
          if (!(error instanceof IntegrationError && error.retryable)) throw error;
          held.push(`replica ${replica.label} refused the rule update (${error.message})`);
        }
      }
      if (held.length === 0) return { done: true, value: applied };
      return {
        done: false,
        observation: `${held.join('; ')}: waiting, the step counts once every replica has ${weight.percent}%`,
      };
    },
  });
  return outcome.done ? { applied: true, weight: outcome.value } : { applied: false, observation: outcome.observation };
}
