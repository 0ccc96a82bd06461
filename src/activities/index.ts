import { ApplicationFailure } from '@temporalio/activity';
import { GATEWAY_AUTH_REFUSALS, IntegrationError } from '../integrations/errors';
import { admissionActivities } from './admission';
import { approvalActivities } from './approvals';
import { canaryActivities } from './canary';
import { canaryAnalysisActivities } from './canary-analysis';
import { changeWindowActivities } from './change-window';
import { coordinatorQueryActivities } from './coordinator-queries';
import { drainActivities } from './drain';
import { fleetActivities } from './fleet';
import { healthActivities } from './health';
import { leaseActivities } from './leases';
import { notificationActivities } from './notifications';
import { provisioningActivities } from './provisioning';
import { shadowActivities } from './shadow';
import { trafficActivities } from './traffic';
import type { ActivityDeps } from './types';

/** Every activity of cutover, bound to the integrations the worker built, each wrapped once with the error mapping. */
export function createActivities(deps: ActivityDeps) {
  const activities = withFailureMapping({
    ...admissionActivities(deps),
    ...provisioningActivities(deps),
    ...healthActivities(deps),
    ...trafficActivities(deps),
    ...drainActivities(deps),
    ...coordinatorQueryActivities(deps),
    ...canaryActivities(deps),
    ...canaryAnalysisActivities(deps),
    ...approvalActivities(deps),
    ...leaseActivities(),
    ...notificationActivities(deps),
    ...changeWindowActivities(deps),
    ...shadowActivities(deps),
    ...fleetActivities(deps),
  });
  return {
    ...activities,
    // The names these had before they took their step's name (patch `one-name-per-step`): upgrades
    // started by an older worker replay with them and may still have one scheduled. They go with
    // the patch's old branch, once no upgrade started before it runs (README: changing a running workflow).
    flip: activities.shiftTraffic,
    waitForGreenReady: activities.verifyGreen,
    watchGreen: activities.bakeGreen,
  };
}

export type CutoverActivities = ReturnType<typeof createActivities>;
export type { ActivityDeps } from './types';

/**
 * A refusal an integration says the same request will meet again (a 4xx, a missing rule) becomes a
 * non-retryable failure of the same type name; everything else is retried by Temporal's policy.
 * The gateway's refusals of cutover's identity stay retryable: forward calls list its type as
 * non-retryable, compensations and the retire retry it (src/workflows/activity-options.ts).
 */
function toFailure(error: unknown): unknown {
  if (error instanceof IntegrationError && GATEWAY_AUTH_REFUSALS.includes(error.type))
    return ApplicationFailure.retryable(error.message, error.type);
  if (error instanceof IntegrationError && !error.retryable)
    return ApplicationFailure.nonRetryable(error.message, error.type);
  return error;
}

/** The activities as plain functions (not methods), each wrapped once with toFailure. */
type Wrapped<T> = { [K in keyof T]: T[K] extends (input: infer I) => infer R ? (input: I) => R : never };

function withFailureMapping<T extends Record<string, (input: never) => Promise<unknown>>>(activities: T): Wrapped<T> {
  const wrapped = Object.entries(activities).map(([name, activity]) => [
    name,
    async (input: never) => {
      try {
        return await activity(input);
      } catch (error) {
        throw toFailure(error);
      }
    },
  ]);
  return Object.fromEntries(wrapped) as Wrapped<T>;
}
