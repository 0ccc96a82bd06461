import { activityInfo } from '@temporalio/activity';

/**
 * How much of a bake green was really watched. Bake time counts only while an attempt of the
 * bake's activity runs and observes green: between two consecutive observations at most
 * `maxGapMs` apart. The rest is unwatched and does not count, so the bake goes on until its whole
 * duration was watched: the time between the last observation an interrupted attempt recorded in
 * its heartbeat and the start of the attempt that resumes it (the worker died, or the gateway was
 * unreachable and the attempt failed), and any longer gap between two observations (the worker
 * stalled). The time between two observations a pause separates is neither.
 */
export interface WatchClock {
  watchedMs: number;
  unwatchedMs: number;
  /** When green was last observed (epoch ms, the observing worker's clock); recorded in the heartbeat. */
  observedAt?: number;
}

/**
 * How long green went unwatched before this attempt of a bake's activity started, since
 * `lastObservedAt`, the last observation recorded (by an earlier attempt, or by the previous call
 * of the same bake). A retried attempt counts all of it (when no observation reached the server,
 * since the activity was first scheduled); a first attempt only a gap longer than `maxGapMs`.
 */
export function unwatchedBefore(lastObservedAt: number | undefined, now: number, maxGapMs: number): number {
  const { attempt, scheduledTimestampMs } = activityInfo();
  // Another worker's clock may be a little ahead: a gap is never negative.
  if (attempt > 1) return Math.max(0, now - (lastObservedAt ?? scheduledTimestampMs));
  const gap = lastObservedAt === undefined ? 0 : now - lastObservedAt;
  return gap > maxGapMs ? gap : 0;
}

/** The clock after an observation of green at `now`. */
export function observe(clock: WatchClock, now: number, maxGapMs: number): WatchClock {
  if (clock.observedAt === undefined) return { ...clock, observedAt: now };
  const gap = Math.max(0, now - clock.observedAt);
  return gap > maxGapMs
    ? { ...clock, unwatchedMs: clock.unwatchedMs + gap, observedAt: now }
    : { ...clock, watchedMs: clock.watchedMs + gap, observedAt: now };
}

/**
 * Two poll intervals and one slow answer (a request timeout): observations further apart than
 * this were not a watch, whatever held the worker up.
 */
export function maxWatchGapMs(intervalMs: number, requestTimeoutMs: number): number {
  return 2 * intervalMs + requestTimeoutMs;
}
