import type { TrafficMode } from './types';

/**
 * Canary share through backend-pool membership: green joins blue's routing group and the gateway's
 * router picks uniformly at random among active HEALTHY backends, so green gets 1/(n+1) of new
 * queries with n blue backends. Coarse and not sticky per user, but needs no routing rule.
 */
export function poolShare(blueBackends: number): number {
  return 100 / (blueBackends + 1);
}

/** The weights a pool can give: its share (within 5 points) and 100. */
function isReachable(percent: number, blueBackends: number): boolean {
  return percent === 100 || Math.abs(percent - poolShare(blueBackends)) <= 5;
}

export const backendPool: TrafficMode = {
  summary: 'green joins the routing group; share 1/(n+1) with n blue backends',
  canaryEntry: (green) => green,
  separateEntry: false,
  rewritesRule: false,
  unreachableWeight(weight, blueBackends) {
    if (isReachable(weight, blueBackends)) return undefined;
    const share = Math.round(poolShare(blueBackends));
    return `is not reachable with backend-pool traffic and ${blueBackends} blue backend(s): green gets 1/${blueBackends + 1} of new queries (${share}%), then 100; use those weights or traffic: routing-rule`;
  },
  describeShift: ({ appliedPercent, entry, routingGroup }) =>
    `${entry} joined ${routingGroup}: it gets about ${appliedPercent}% of new queries`,
  router: () => ({
    // Green is registered in blue's group already; activating it (the caller does) is the whole shift.
    register: async () => undefined,
    setWeight: async (_percent, blueBackends) => ({ percent: Math.round(poolShare(blueBackends)), appliedAfterMs: 0 }),
    reset: async () => ({ percent: 0, appliedAfterMs: 0 }),
    // No rule: the share is the pool's, which every replica reads from the shared database.
    readWeight: async () => undefined,
  }),
};
