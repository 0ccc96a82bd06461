import { ActivityCancellationType, proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { CutoverActivities } from '../activities';
import { durationMs } from '../plan/duration';
import type { UpgradePlan } from '../plan/schema';

/** Timing of every activity call, in one place so the runbook code stays free of it. */

/** Forward steps retry like this within their schedule-to-close budget (the plan's `gateway.retryBudget`). */
const RETRY_FORWARD = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' } as const;

/** Compensations never give up: blue must serve again, whatever it takes. */
const RETRY_FOREVER = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' } as const;

/** A worker that died is noticed after this long: a few poll intervals, within sane bounds. */
export function heartbeatTimeoutFor(pollInterval: string): number {
  return Math.min(60_000, Math.max(10_000, 3 * durationMs(pollInterval)));
}

/** Activities that do one quick thing (gateway reads and writes); call them with forwardOptions. */
export const quick = proxyActivities<CutoverActivities>({
  startToCloseTimeout: '1m',
  retry: RETRY_FORWARD,
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
});

/** Activities that may take long and heartbeat (provisioning, polling, bakes, drains). */
export const long = proxyActivities<CutoverActivities>({
  startToCloseTimeout: '1h',
  heartbeatTimeout: '2m',
  retry: RETRY_FORWARD,
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
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
 */
export function pollingOptions(summary: string, pollInterval: string, waitFor: string | undefined, retryBudget: string): ActivityOptions {
  const heartbeatTimeout = heartbeatTimeoutFor(pollInterval);
  const wait = waitFor === undefined ? 365 * 24 * 3600_000 : durationMs(waitFor);
  return {
    summary,
    heartbeatTimeout,
    startToCloseTimeout: wait + 5 * 60_000,
    scheduleToCloseTimeout: waitFor === undefined ? undefined : wait + durationMs(retryBudget),
    retry: RETRY_FORWARD,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  };
}

/** Options of a compensation: retried until it works (use with the `long` proxy, which sets no schedule-to-close limit). */
export function compensationOptions(summary: string, pollInterval: string): ActivityOptions {
  return {
    summary,
    heartbeatTimeout: heartbeatTimeoutFor(pollInterval),
    startToCloseTimeout: '1h',
    retry: RETRY_FOREVER,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  };
}
