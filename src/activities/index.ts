import { canaryActivities } from './canary';
import { canaryAnalysisActivities } from './canary-analysis';
import { drainActivities } from './drain';
import { healthActivities } from './health';
import { provisioningActivities } from './provisioning';
import { trafficActivities } from './traffic';
import type { ActivityDeps } from './types';

/** Every activity of cutover, bound to the integrations the worker built. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...provisioningActivities(deps),
    ...healthActivities(deps),
    ...trafficActivities(deps),
    ...drainActivities(deps),
    ...canaryActivities(deps),
    ...canaryAnalysisActivities(deps),
  };
}

export type CutoverActivities = ReturnType<typeof createActivities>;
export type { ActivityDeps } from './types';
