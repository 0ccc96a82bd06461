import { activityInfo, ApplicationFailure, cancellationSignal, log, sleep } from '@temporalio/activity';
import type { BackendState } from '../integrations/gateway/types';
import { checkReadOnly } from '../integrations/trino/read-only';
import type { StatementResult } from '../integrations/trino/types';
import { durationMs } from '../plan/duration';
import { DEFAULT_BOUNDS } from '../policy/schema';
import { formatSeconds, type HealthSnapshot } from '../observations';
import { counted } from '../plural';
import { pollGatewayHealthy, pollUntil, resumedProgress } from './poll';
import { maxWatchGapMs, observe, unwatchedBefore, type WatchClock } from './watch-clock';
import type {
  ActivityDeps,
  GatewayHealthResult,
  WaitForGatewayHealthyInput,
  VerifyGreenInput,
  BakeGreenInput,
  BakeGreenResult,
} from './types';

/** Smoke queries failing this many times in a row mean green is broken, not warming up. */
const SMOKE_FAILURES_BEFORE_GIVING_UP = 3;
/** A smoke query may run for minutes: heartbeat meanwhile, so the worker does not look dead. */
const SMOKE_HEARTBEAT_MS = 1_000;

/** Activities that watch green: directly on its coordinator and through the gateway's health cache. */
export function healthActivities(deps: ActivityDeps) {
  return {
    /** Polls green's coordinator until it runs the expected version, has its workers and passes the smoke queries. */
    async verifyGreen(input: VerifyGreenInput): Promise<HealthSnapshot> {
      // The worker's policy bounds every smoke query, whoever wrote the plan.
      const bounds = deps.policy()?.bounds ?? DEFAULT_BOUNDS;
      const smokeQueries = readOnlySmokeQueries(input.smokeQueries, bounds.maxSmokeQueries);
      const trino = deps.trino(input.url);
      const intervalMs = durationMs(input.interval);
      const limits = { maxRows: bounds.smokeQueryMaxRows, timeoutMs: durationMs(bounds.smokeQueryTimeout) };
      let smokeFailures = (resumedProgress()?.state as { smokeFailures?: number } | undefined)?.smokeFailures ?? 0;
      // Checks of one attempt are an interval apart (pollUntil). A retry may follow an attempt that ran
      // the smoke queries just before it died, whose last heartbeat (throttled) never reached the
      // server: its first run waits one interval from when it was scheduled, which is after that one.
      const { attempt, currentAttemptScheduledTimestampMs } = activityInfo();
      const firstSmokeAt = attempt > 1 ? currentAttemptScheduledTimestampMs + intervalMs : 0;
      const outcome = await pollUntil<HealthSnapshot>({
        intervalMs,
        timeoutMs: durationMs(input.timeout),
        unreachableMeansNotYet: true,
        check: async (progress) => {
          const info = await trino.info();
          const version = info.nodeVersion.version;
          if (info.starting) return { done: false, observation: `${input.url} is starting (version ${version})` };
          if (version !== input.version) {
            throw ApplicationFailure.nonRetryable(
              `green at ${input.url} runs Trino ${version}, the plan expects ${input.version}`,
              'GreenVersionMismatch',
            );
          }
          const stats = await trino.clusterStats();
          if (stats.activeWorkers < input.minActiveWorkers) {
            return {
              done: false,
              observation: `${stats.activeWorkers} of ${counted(input.minActiveWorkers, 'worker')} active`,
            };
          }
          const wait = firstSmokeAt - Date.now();
          if (wait > 0) {
            progress(`waiting ${wait} ms before running the smoke queries again (retried attempt)`, { smokeFailures });
            await sleep(wait);
          }
          for (const sql of smokeQueries) {
            const result = await runSmokeQuery(trino, sql, limits, () =>
              progress(`running smoke query "${sql}"`, { smokeFailures }),
            );
            if (result.state === 'FAILED') {
              smokeFailures += 1;
              const message = `smoke query "${sql}" failed: ${result.error?.message ?? 'unknown error'}`;
              if (smokeFailures >= SMOKE_FAILURES_BEFORE_GIVING_UP) {
                throw ApplicationFailure.nonRetryable(
                  `${message} (${smokeFailures} times in a row)`,
                  'SmokeQueryFailed',
                );
              }
              return { done: false, observation: message, state: { smokeFailures } };
            }
          }
          return {
            done: true,
            value: {
              version,
              activeWorkers: stats.activeWorkers,
              message: smokeQueries.length
                ? `${counted(smokeQueries.length, 'smoke query', 'smoke queries')} finished`
                : 'no smoke queries to run',
            },
          };
        },
      });
      if (!outcome.done) {
        throw ApplicationFailure.nonRetryable(
          `green at ${input.url} was not ready within ${input.timeout}: ${outcome.observation}`,
          'GreenNotReady',
        );
      }
      return { ...outcome.value, checkedAt: new Date().toISOString() };
    },

    /** Polls the gateway's health cache until it reports the backend HEALTHY. */
    async waitForGatewayHealthy(input: WaitForGatewayHealthyInput): Promise<GatewayHealthResult> {
      const { healthy, lastStatus } = await pollGatewayHealthy(
        deps.gateway(input.gateway),
        input.name,
        durationMs(input.interval),
        durationMs(input.timeout),
      );
      if (healthy) return { status: 'HEALTHY', monitored: true };
      if (lastStatus === 'UNKNOWN') {
        // Gateways before release 17 do not health-check inactive backends; the flip checks again.
        log.warn('gateway never health-checked the inactive backend; health is confirmed at the flip', {
          backend: input.name,
        });
        return { status: lastStatus, monitored: false };
      }
      throw ApplicationFailure.nonRetryable(
        `gateway still reports ${input.name} ${lastStatus} after ${input.timeout}`,
        'GreenUnhealthyInGateway',
      );
    },

    /**
     * Watches green for a bake; returns unhealthy after maxConsecutiveFailures failed checks in a row.
     * The bake ends once its duration was watched (watch-clock.ts): time green went unwatched, while
     * the worker was down or the gateway unreachable, is made up, and the result says how much.
     */
    async bakeGreen(input: BakeGreenInput): Promise<BakeGreenResult> {
      const gateway = deps.gateway(input.gateway);
      const trino = deps.trino(input.url);
      const durationMsOfBake = durationMs(input.duration);
      const intervalMs = durationMs(input.interval);
      const maxGapMs = maxWatchGapMs(intervalMs, durationMs(input.gateway.requestTimeout));
      const recorded = resumedProgress()?.state as Partial<BakeWatch> | undefined;
      let failures = recorded?.failures ?? 0;
      const resumeGapMs = unwatchedBefore(recorded?.observedAt, Date.now(), maxGapMs);
      let clock: WatchClock = {
        watchedMs: recorded?.watchedMs ?? 0,
        unwatchedMs: (recorded?.unwatchedMs ?? 0) + resumeGapMs,
      };
      const resumedNote = resumeGapMs
        ? `resumed after green went unwatched for ${formatSeconds(resumeGapMs)} (worker outage or gateway unreachable); `
        : '';
      let snapshot: HealthSnapshot = {};
      const outcome = await pollUntil<string | undefined>({
        intervalMs,
        check: async () => {
          // An unreachable gateway API says nothing about green: it fails the attempt (retried within
          // the plan's retry budget) instead of counting as a failed check that would roll back.
          const state = await gateway.backendState(input.name);
          const problem = await checkGreen(input, state, trino).then(
            (observed) => {
              snapshot = observed.snapshot;
              return observed.problem;
            },
            (error: Error) => `${input.name} did not answer: ${error.message}`,
          );
          clock = observe(clock, Date.now(), maxGapMs);
          failures = problem ? failures + 1 : 0;
          snapshot = { ...snapshot, message: problem ?? 'healthy', checkedAt: new Date().toISOString() };
          if (problem && failures >= input.maxConsecutiveFailures) {
            return { done: true, value: `${problem} (${failures} checks in a row)` };
          }
          if (clock.watchedMs >= durationMsOfBake) return { done: true, value: undefined };
          const unwatched = clock.unwatchedMs ? `, ${formatSeconds(clock.unwatchedMs)} unwatched made up` : '';
          return {
            done: false,
            observation: `${resumedNote}${snapshot.message}; ${formatSeconds(clock.watchedMs)} of ${input.duration} watched${unwatched}`,
            state: { failures, ...clock } satisfies BakeWatch,
          };
        },
      });
      const watched = { snapshot, watchedMs: clock.watchedMs, unwatchedMs: clock.unwatchedMs };
      // Without a timeout pollUntil returns only when a check is done; anything else is no verdict, so no pass.
      const reason = outcome.done ? outcome.value : `the bake ended without a verdict: ${outcome.observation}`;
      return reason === undefined ? { healthy: true, ...watched } : { healthy: false, reason, ...watched };
    },
  };
}

/** What a bake's heartbeat holds, so a retried attempt goes on from it. */
interface BakeWatch extends WatchClock {
  failures: number;
}

/**
 * The smoke queries as they are sent, refused (non-retryable) unless each is read-only: plan
 * validation checks them too, but a run started without the CLI skips it.
 */
function readOnlySmokeQueries(queries: string[], max: number): string[] {
  if (queries.length > max) {
    throw ApplicationFailure.nonRetryable(
      `health.smokeQueries: must not list more than ${max} smoke queries (this run lists ${queries.length})`,
      'TooManySmokeQueries',
    );
  }
  return queries.map((sql, index) => {
    const verdict = checkReadOnly(sql);
    if (!verdict.readOnly) {
      throw ApplicationFailure.nonRetryable(
        `health.smokeQueries[${index}]: ${verdict.reason}`,
        'SmokeQueryNotReadOnly',
      );
    }
    return verdict.statement;
  });
}

/** One smoke query, bounded in rows and time, cancelled with the activity, heartbeating while it runs. */
async function runSmokeQuery(
  trino: ReturnType<ActivityDeps['trino']>,
  sql: string,
  limits: { maxRows: number; timeoutMs: number },
  beat: () => void,
): Promise<StatementResult> {
  beat();
  const heartbeats = setInterval(beat, SMOKE_HEARTBEAT_MS);
  try {
    return await trino.execute(sql, { source: 'cutover-smoke', ...limits, signal: cancellationSignal() });
  } finally {
    clearInterval(heartbeats);
  }
}

async function checkGreen(
  input: BakeGreenInput,
  state: BackendState | undefined,
  trino: ReturnType<ActivityDeps['trino']>,
): Promise<{ problem?: string; snapshot: HealthSnapshot }> {
  const info = await trino.info();
  const snapshot: HealthSnapshot = {
    gatewayStatus: state?.trinoStatus,
    version: info.nodeVersion.version,
    runningQueries: state?.runningQueryCount,
    queuedQueries: state?.queuedQueryCount,
  };
  if (state?.trinoStatus !== 'HEALTHY')
    return { problem: `gateway reports ${input.name} ${state?.trinoStatus ?? 'unknown'}`, snapshot };
  if (info.starting) return { problem: `${input.name} restarted (starting)`, snapshot };
  if (info.nodeVersion.version !== input.version) {
    return { problem: `${input.name} runs ${info.nodeVersion.version}, expected ${input.version}`, snapshot };
  }
  return { snapshot };
}
