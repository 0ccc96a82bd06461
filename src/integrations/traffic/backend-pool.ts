/**
 * Canary share through backend-pool membership: green joins blue's routing group and the gateway's
 * router picks uniformly at random among active HEALTHY backends, so green gets 1/(n+1) of new
 * queries with n blue backends, then 100% once blue is deactivated. No weight in between exists.
 */
export function poolShare(blueBackends: number): number {
  return 100 / (blueBackends + 1);
}

/** Weights the pool can give green: within 5 points of its share, or 100. */
export function isReachable(percent: number, blueBackends: number): boolean {
  return percent === 100 || Math.abs(percent - poolShare(blueBackends)) <= 5;
}
