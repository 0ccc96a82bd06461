import { activityInfo, heartbeat, sleep } from '@temporalio/activity';
import { IntegrationError } from '../integrations/errors';
import type { GatewayApi } from '../integrations/gateway/types';

/** Heartbeat details every polling activity records, so a retry resumes instead of starting over. */
export interface PollProgress {
  /** When the first attempt started polling (epoch ms), so deadlines span retries. */
  startedAt: number;
  /** The activity's own progress, e.g. how much of a bake has elapsed. */
  state?: unknown;
  observation?: string;
}

/** Progress recorded by an earlier attempt of this activity, if any. */
export function resumedProgress(): PollProgress | undefined {
  const details = activityInfo().heartbeatDetails as PollProgress | undefined;
  return details && typeof details.startedAt === 'number' ? details : undefined;
}

/** Records progress in the middle of a check, e.g. before a long step, so the heartbeat stays fresh. */
export type PollProgressReporter = (observation: string, state?: unknown) => void;

export type PollCheck<T> = (
  progress: PollProgressReporter,
) => Promise<{ done: true; value: T } | { done: false; observation: string; state?: unknown }>;

export interface PollOptions<T> {
  intervalMs: number;
  /** Undefined: poll until done or cancelled. */
  timeoutMs?: number;
  check: PollCheck<T>;
  /**
   * The polled service may be unreachable while it starts (a coordinator booting): its transient
   * errors count as "not yet". Otherwise they fail the attempt, so an outage shows as retries in
   * the UI and Temporal's retry policy bounds it by the plan's retry budget.
   */
  unreachableMeansNotYet?: boolean;
}

export type PollOutcome<T> =
  { done: true; value: T; waitedMs: number } | { done: false; observation: string; waitedMs: number };

/**
 * Polls inside one heartbeating activity: history does not grow with the wait. Refusals
 * (non-retryable) end the activity at once; see `unreachableMeansNotYet` for transient errors.
 * A retried attempt resumes the deadline from the last heartbeat.
 */
export async function pollUntil<T>({
  intervalMs,
  timeoutMs,
  check,
  unreachableMeansNotYet = false,
}: PollOptions<T>): Promise<PollOutcome<T>> {
  const resumed = resumedProgress();
  const startedAt = resumed?.startedAt ?? Date.now();
  let observation = 'not checked yet';
  // Kept when a check fails, so that a retried attempt still resumes from it.
  let state = resumed?.state;
  const progress: PollProgressReporter = (now, newState) => {
    state = newState;
    heartbeat({ startedAt, observation: now, state } satisfies PollProgress);
  };
  for (;;) {
    try {
      const result = await check(progress);
      if (result.done) return { done: true, value: result.value, waitedMs: Date.now() - startedAt };
      observation = result.observation;
      state = result.state;
      heartbeat({ startedAt, observation, state } satisfies PollProgress);
    } catch (error) {
      if (!(unreachableMeansNotYet && error instanceof IntegrationError && error.retryable)) throw error;
      observation = error.message;
      heartbeat({ startedAt, observation, state } satisfies PollProgress);
    }
    if (timeoutMs !== undefined && Date.now() - startedAt >= timeoutMs) {
      return { done: false, observation, waitedMs: Date.now() - startedAt };
    }
    await sleep(intervalMs);
  }
}

/** Polls the gateway's health cache until it reports `name` HEALTHY; says the last status seen otherwise. */
export async function pollGatewayHealthy(
  gateway: GatewayApi,
  name: string,
  intervalMs: number,
  timeoutMs: number,
): Promise<{ healthy: boolean; lastStatus: string; observation: string }> {
  let lastStatus = 'UNKNOWN';
  const outcome = await pollUntil<true>({
    intervalMs,
    timeoutMs,
    check: async () => {
      lastStatus = (await gateway.backendState(name))?.trinoStatus ?? 'UNKNOWN';
      if (lastStatus === 'HEALTHY') return { done: true, value: true };
      return { done: false, observation: `gateway reports ${name} ${lastStatus}` };
    },
  });
  return {
    healthy: outcome.done,
    lastStatus,
    observation: outcome.done ? `gateway reports ${name} HEALTHY` : outcome.observation,
  };
}
