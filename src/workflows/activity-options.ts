import {
  ActivityCancellationType,
  patched,
  proxyActivities,
  proxyLocalActivities,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { CutoverActivities } from '../activities';
import { GATEWAY_AUTH_REFUSALS } from '../integrations/errors';
import { durationMs } from '../plan/duration';
import type { UpgradePlan } from '../plan/schema';

/** Timing of every activity call, in one place so the runbook code stays free of it. */

/**
 * How every activity retries: back off from 1 s to 30 s, with no limit on attempts. What bounds it
 * is the call's schedule-to-close timeout: a forward step has the plan's `gateway.retryBudget` and
 * then rolls back; a compensation has none, so it retries until blue serves again.
 */
const RETRY_WITH_BACKOFF = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' } as const;

/**
 * How forward calls retry: the same, except that a gateway refusing cutover's credentials fails
 * the step at once (and the upgrade rolls back). Compensations and the retire retry
 * everything (RETRY_EVERYTHING): they cannot give up, and credentials may be rotated meanwhile.
 */
const FORWARD_RETRY = { ...RETRY_WITH_BACKOFF, nonRetryableErrorTypes: [...GATEWAY_AUTH_REFUSALS] };

/** RETRY_WITH_BACKOFF, spelled out as an override: per-call options are deep-merged into the proxies' FORWARD_RETRY. */
const RETRY_EVERYTHING = { ...RETRY_WITH_BACKOFF, nonRetryableErrorTypes: [] };

/**
 * Patch id of the change that gave the activities of `shift`, `verify` and `bake` their step's
 * name (`shiftTraffic`, `verifyGreen`, `bakeGreen`; formerly `flip`, `waitForGreenReady`,
 * `watchGreen`). Upgrades whose history was written before it keep the former names on replay.
 */
export const ONE_NAME_PER_STEP = 'one-name-per-step';

/** True unless this upgrade's history predates ONE_NAME_PER_STEP (then its former activity names are used). */
export function stepNamed(): boolean {
  return patched(ONE_NAME_PER_STEP);
}

/**
 * Patch id of the worker's own check of every run (src/workflows/admission.ts, then the policy in
 * the preflight). Upgrades whose history predates it were checked by the CLI only.
 */
export const WORKER_VALIDATES_RUNS = 'worker-validates-runs';

/** True unless this upgrade's history predates WORKER_VALIDATES_RUNS. */
export function workerValidatesRuns(): boolean {
  return patched(WORKER_VALIDATES_RUNS);
}

/**
 * Patch id of the change that ends a failed retire FAILED with what is left in the gateway
 * (formerly it became a rollback with nothing to undo, ending ROLLED_BACK while blue was gone).
 */
export const FAILED_RETIRE_FAILS = 'failed-retire-fails';

/** True unless this upgrade's history predates FAILED_RETIRE_FAILS (then a failed retire rolls back as it did). */
export function failedRetireFails(): boolean {
  return patched(FAILED_RETIRE_FAILS);
}

/**
 * Patch id of the preflight's check that cutover's Trino user sees every query on blue
 * (`checkQueryVisibility`). Upgrades whose history predates it go on without the check.
 */
export const PREFLIGHT_CHECKS_QUERY_VISIBILITY = 'preflight-checks-query-visibility';

/** True unless this upgrade's history predates PREFLIGHT_CHECKS_QUERY_VISIBILITY. */
export function preflightChecksQueryVisibility(): boolean {
  return patched(PREFLIGHT_CHECKS_QUERY_VISIBILITY);
}

/**
 * Patch id of ownership: an upgrade holds leases on the routing groups and the routing rule it
 * changes (src/workflows/ownership.ts) from its preflight until it ends, and its canary rule is
 * named after its routing group by default. Upgrades whose history predates it hold none and keep
 * the rule `cutover-canary`.
 */
export const ONE_UPGRADE_PER_GROUP = 'one-upgrade-per-group';

/** True unless this upgrade's history predates ONE_UPGRADE_PER_GROUP (call it at one point only: the preflight). */
export function holdsLeases(): boolean {
  return patched(ONE_UPGRADE_PER_GROUP);
}

/**
 * Patch id of the change that sends upgrade events (approval gate, rollback, inconclusive
 * analysis, success, failure) to the worker's webhooks through the `notify` activity.
 */
export const UPGRADE_NOTIFICATIONS = 'upgrade-notifications';

/** True unless this upgrade's history predates UPGRADE_NOTIFICATIONS (then it sends no events). */
export function notificationsSent(): boolean {
  return patched(UPGRADE_NOTIFICATIONS);
}

/**
 * The `notify` activity: a receiver that fails is retried for 10 minutes at most, never for ever
 * (the upgrade never waits for it but at its very end, see NOTIFICATIONS_SETTLE).
 */
export const notifications = proxyActivities<CutoverActivities>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '10m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
});

/**
 * How long a run waits at its end for events still being delivered: an activity cannot start, nor
 * be retried, once its run is closed, so the last event would be lost without this short wait.
 */
export const NOTIFICATIONS_SETTLE = '10s';

/**
 * Patch id of the change that drains green once in a rollback, after every compensation that moves
 * traffic back to blue (steps/index.ts `rollbackPlan`); before it, restoreBlue and resetCanary each
 * drained green, the first while the canary rule could still send it queries.
 */
export const TRAFFIC_BACK_BEFORE_DRAIN = 'traffic-back-before-drain';

/** True unless this upgrade's rollback started before TRAFFIC_BACK_BEFORE_DRAIN (then green drains after each traffic compensation). */
export function trafficBackBeforeDrain(): boolean {
  return patched(TRAFFIC_BACK_BEFORE_DRAIN);
}

/**
 * Patch id of the change that credits a canary bake interrupted (pause, promote) while its analysis
 * was not running, so that no progress came with the cancellation, with no analysed time: the
 * analysis may have been down (a worker outage). Before it, with the time since it was scheduled.
 */
export const UNANALYSED_TIME_NOT_COUNTED = 'unanalysed-time-not-counted';

/** True unless this upgrade's history predates UNANALYSED_TIME_NOT_COUNTED. */
export function unanalysedTimeNotCounted(): boolean {
  return patched(UNANALYSED_TIME_NOT_COUNTED);
}

/**
 * Patch id of the change that keeps a bake going past its length while its last sample was bad,
 * until a good one (or a breach); before it such a bake passed. Asked only in that situation.
 */
const BAKE_ENDS_ON_GOOD_SAMPLE = 'bake-ends-on-good-sample';

export function bakeEndsOnGoodSample(): boolean {
  return patched(BAKE_ENDS_ON_GOOD_SAMPLE);
}

/**
 * Patch id of the change that bakes blue/green upgrades under the canary's analysis (`analyseCanary`
 * against blue's baseline before the flip) instead of health checks alone (`bakeGreen`).
 */
const BLUE_GREEN_BAKE_ANALYSIS = 'blue-green-bake-analysis';

export function blueGreenBakeAnalysis(): boolean {
  return patched(BLUE_GREEN_BAKE_ANALYSIS);
}

/** A worker that died is noticed after this long: a few poll intervals, within sane bounds. */
export function heartbeatTimeoutFor(pollInterval: string): number {
  return Math.min(60_000, Math.max(10_000, 3 * durationMs(pollInterval)));
}

/** Activities that do one quick thing (gateway reads and writes); call them with forwardOptions. */
export const quick = proxyActivities<CutoverActivities>({
  startToCloseTimeout: '1m',
  retry: FORWARD_RETRY,
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});

/** Activities that may take long and heartbeat (provisioning, polling, bakes, drains). */
export const long = proxyActivities<CutoverActivities>({
  startToCloseTimeout: '1h',
  heartbeatTimeout: '2m',
  retry: FORWARD_RETRY,
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});

/**
 * Activities that only read the worker's own state (its clock, its policy) and do no I/O: run as
 * local activities, one marker event each instead of an activity's six.
 */
export const local = proxyLocalActivities<CutoverActivities>({
  startToCloseTimeout: '10s',
  scheduleToCloseTimeout: '1m',
  retry: RETRY_WITH_BACKOFF,
});

/** The plan's `gateway.retryBudget`; plans of upgrades started before the setting existed keep the former 10 minutes. */
export function retryBudgetOf(plan: UpgradePlan): string {
  return plan.gateway.retryBudget ?? '10m';
}

/**
 * Options of one quick forward call: retried for the plan's `gateway.retryBudget`, then the step
 * fails and the upgrade rolls back instead of hanging.
 */
export function forwardOptions(summary: string, retryBudget: string): ActivityOptions {
  return { summary, scheduleToCloseTimeout: durationMs(retryBudget) };
}

/**
 * Options of one long polling call: the activity's own deadline plus the retry budget (a poll that
 * cannot reach the gateway fails its attempt and is retried, so an outage shows as attempts).
 * A bake's `waitFor` is the time green must be watched; time it goes unwatched (a worker outage, a
 * gateway outage: the attempt's retries) is made up after it, so the retry budget on top also
 * bounds how much unwatched time a bake can make up. Past it the bake times out and the upgrade
 * rolls back: green went unwatched for longer than the plan tolerates an unreachable gateway. Each
 * attempt gets the whole wait (plus 5 minutes): a resumed one never needs more.
 */
export function pollingOptions(
  summary: string,
  pollInterval: string,
  waitFor: string | undefined,
  retryBudget: string,
): ActivityOptions {
  const heartbeatTimeout = heartbeatTimeoutFor(pollInterval);
  const wait = waitFor === undefined ? 365 * 24 * 3600_000 : durationMs(waitFor);
  return {
    summary,
    heartbeatTimeout,
    startToCloseTimeout: wait + 5 * 60_000,
    scheduleToCloseTimeout: waitFor === undefined ? undefined : wait + durationMs(retryBudget),
    retry: FORWARD_RETRY,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  };
}

/**
 * Options of shadow validation (use with the `long` proxy): each attempt heartbeats every few
 * seconds, so a worker that died is noticed within 20 s and a new attempt resumes the pairs left;
 * the step's `timeout` bounds every attempt, plus the retry budget for all of them.
 */
export function shadowOptions(summary: string, timeout: string, retryBudget: string | undefined): ActivityOptions {
  return {
    summary,
    heartbeatTimeout: '20s',
    startToCloseTimeout: durationMs(timeout),
    scheduleToCloseTimeout: durationMs(timeout) + durationMs(retryBudget ?? '10m'),
    retry: FORWARD_RETRY,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  };
}

/** The plan's `green.provisionDeadline`; plans of upgrades started before the setting existed get its default. */
export function provisionDeadlineOf(plan: UpgradePlan): string {
  return plan.green.provisionDeadline ?? '1h';
}

/**
 * Options of creating green (use with the `long` proxy): every attempt and retry within the plan's
 * `green.provisionDeadline`, so a provisioner that stays unreachable rolls the upgrade back.
 */
export function provisioningOptions(summary: string, deadline: string): ActivityOptions {
  return { summary, startToCloseTimeout: durationMs(deadline), scheduleToCloseTimeout: durationMs(deadline) };
}

/**
 * Options of `verifyApproval`: CPU work on the worker while an operator waits for the answer, so
 * it gives up within the CLI's wait for an update instead of retrying for the retry budget.
 */
export function verificationOptions(summary: string): ActivityOptions {
  return { summary, scheduleToCloseTimeout: '15s' };
}

/**
 * Options of a compensation: retried until it works, a refusal of cutover's credentials included
 * (use with the `long` proxy, which sets no schedule-to-close limit).
 */
export function compensationOptions(summary: string, pollInterval: string): ActivityOptions {
  return {
    summary,
    heartbeatTimeout: heartbeatTimeoutFor(pollInterval),
    startToCloseTimeout: '1h',
    retry: RETRY_EVERYTHING,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  };
}

/** The plan's `retire.timeout`; plans of upgrades started before the setting existed get 1h. */
export function retireTimeoutOf(plan: UpgradePlan): string {
  return plan.retire.timeout ?? '1h';
}

/**
 * Options of the retire: retried like a compensation (a refused credential included, shown as a
 * retrying activity) until the plan's `retire.timeout`, then the upgrade fails saying what is left.
 */
export function retireOptions(summary: string, plan: UpgradePlan): ActivityOptions {
  return {
    summary,
    startToCloseTimeout: '1h',
    // Like the `long` proxy: a provisioner deleting a cluster heartbeats every 10 s only.
    heartbeatTimeout: '2m',
    scheduleToCloseTimeout: durationMs(retireTimeoutOf(plan)),
    retry: RETRY_EVERYTHING,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  };
}
