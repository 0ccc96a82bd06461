import { activityInfo, CancelledFailure, heartbeat, metricMeter, sleep } from '@temporalio/activity';
import { analysisMetrics, type ClusterFigures } from '../metrics';
import type { AnalysisProgress, CanaryMeasurement } from '../observations';
import { durationMs } from '../plan/duration';
import type { ActivityDeps, GatewayTarget } from './types';
import { maxWatchGapMs, unwatchedBefore } from './watch-clock';

/** What a sample of green looks at and the limits it judges by. */
export interface SampleTarget {
  gateway: GatewayTarget;
  /** The gateway entry that takes canary traffic (`<green>-canary`, or green itself). */
  entry: string;
  url: string;
  version: string;
  maxErrorRate: number;
  maxQueuedGrowth: number;
}

export interface AnalyseCanaryInput extends SampleTarget {
  /** Green's name, for the per-cluster metrics (absent in inputs scheduled by older workflow code: `entry` then). */
  green?: string;
  /** Length of the whole bake; `progress.elapsedMs` of it is already analysed. */
  bakeMs: number;
  intervalMs: number;
  maxConsecutiveFailures: number;
  progress: AnalysisProgress;
}

/**
 * Why the analysis handed back: the bake is done, a breach, a bad sample (recorded by the
 * workflow), or the first good sample after bad ones (the failure count is back to 0).
 */
export type AnalysisVerdict = 'baked' | 'breach' | 'problem' | 'recovered';

export interface AnalyseCanaryResult {
  verdict: AnalysisVerdict;
  progress: AnalysisProgress;
}

/** Heartbeat at least this often between samples: a cancel (pause, promote, rollback) is delivered on a heartbeat. */
const HEARTBEAT_EVERY_MS = 1000;

/** The canary bake's analysis: one heartbeating activity per bake, so history does not grow with the bake's length. */
export function canaryAnalysisActivities(deps: ActivityDeps) {
  return {
    /**
     * Samples green every interval until the bake time is analysed, heartbeating its progress after
     * each sample (a retry resumes from it: the bake clock and the failure count survive a crash).
     * Hands back early on a breach, a bad sample or a recovery, so healthy samples cost no history.
     * On a cancel it throws its progress as the cancellation's details, for the workflow to keep.
     */
    async analyseCanary(input: AnalyseCanaryInput): Promise<AnalyseCanaryResult> {
      const progress: AnalysisProgress = resumedAnalysis() ?? { ...input.progress };
      const metrics = analysisMetrics(metricMeter);
      // Time since the last sample recorded (by an interrupted attempt, or the bake's previous call) went unanalysed.
      const maxGapMs = maxWatchGapMs(input.intervalMs, durationMs(input.gateway.requestTimeout));
      const gapMs = unwatchedBefore(progress.observedAt, Date.now(), maxGapMs);
      if (gapMs > 0) progress.unwatchedMs = (progress.unwatchedMs ?? 0) + gapMs;
      try {
        while (progress.elapsedMs < input.bakeMs) {
          const closes = await waitForNextSample(progress, input);
          const wasFailing = progress.failures > 0;
          const sample = await sampleCanary(deps, {
            ...input,
            since: progress.since,
            previousQueued: progress.previousQueued,
          });
          progress.elapsedMs = closes;
          progress.observedAt = Date.parse(sample.at);
          progress.failures = sample.problem ? progress.failures + 1 : 0;
          progress.samples += 1;
          progress.last = sample;
          metrics.sampleTaken(sample.problem ? 'bad' : 'healthy', figuresOf(sample, input));
          // An unread query list moves neither mark: the next sample counts what ended meanwhile.
          if (sample.queued !== undefined) {
            progress.since = Date.parse(sample.at);
            progress.previousQueued = sample.queued;
          }
          heartbeat(progress);
          if (sample.problem)
            return { verdict: progress.failures >= input.maxConsecutiveFailures ? 'breach' : 'problem', progress };
          if (wasFailing) return { verdict: 'recovered', progress };
        }
        return { verdict: 'baked', progress };
      } catch (error) {
        if (error instanceof CancelledFailure) throw new CancelledFailure(error.message, [progress]);
        throw error;
      }
    },
  };
}

/**
 * The per-cluster figures a sample measured: green's error rate when its query list was read and
 * some query ended in the window (else there is no rate, and its gauge keeps the last one).
 */
export function figuresOf(
  sample: CanaryMeasurement,
  input: Pick<AnalyseCanaryInput, 'green' | 'entry'>,
): ClusterFigures[] {
  const measured = sample.queued !== undefined && sample.finished + sample.failed > 0;
  return [{ cluster: input.green ?? input.entry, role: 'green', ...(measured ? { errorRate: sample.errorRate } : {}) }];
}

/** Progress an earlier attempt of this activity heartbeated, if any. */
function resumedAnalysis(): AnalysisProgress | undefined {
  const details = activityInfo().heartbeatDetails as AnalysisProgress | undefined;
  return details && typeof details.elapsedMs === 'number' ? details : undefined;
}

/**
 * Sleeps until the next sample is due (on the interval grid of the bake clock, or the bake's end),
 * heartbeating, and returns the bake time that sample closes. The clock itself moves only when the
 * sample is taken: time slept before a worker dies was never analysed.
 */
async function waitForNextSample(progress: AnalysisProgress, input: AnalyseCanaryInput): Promise<number> {
  const due = Math.min(input.bakeMs, (Math.floor(progress.elapsedMs / input.intervalMs) + 1) * input.intervalMs);
  let slept = 0;
  while (progress.elapsedMs + slept < due) {
    const start = Date.now();
    await sleep(Math.min(HEARTBEAT_EVERY_MS, due - progress.elapsedMs - slept));
    slept += Date.now() - start;
    heartbeat(progress);
  }
  return due;
}

/** One sample of green: gateway health, version, error rate of the queries it ended since `since`, queued growth. */
async function sampleCanary(
  deps: ActivityDeps,
  input: SampleTarget & { since: number; previousQueued?: number },
): Promise<CanaryMeasurement> {
  const gateway = deps.gateway(input.gateway);
  const trino = deps.trino(input.url);
  const at = Date.now();
  const problems: string[] = [];
  const [state, info, queries] = await Promise.all([
    // An unreachable gateway API says nothing about green: the attempt fails and is retried (resuming
    // from the heartbeat) within the retry budget, instead of counting against green.
    gateway.backendState(input.entry),
    trino.info().catch((error: Error) => {
      problems.push(`could not read green's info at ${input.url}: ${error.message}`);
      return undefined;
    }),
    // Data that could not be read is a bad sample, never a healthy zero.
    trino.listQueries().catch((error: Error) => {
      problems.push(`could not read green's query list: ${error.message}`);
      return undefined;
    }),
  ]);
  if (state && state.trinoStatus !== 'HEALTHY') problems.push(`gateway reports ${input.entry} ${state.trinoStatus}`);
  if (info && info.nodeVersion.version !== input.version)
    problems.push(`green runs ${info.nodeVersion.version}, expected ${input.version}`);
  const ended = (queries ?? []).filter((query) => query.endTime && Date.parse(query.endTime) >= input.since);
  const failed = ended.filter((query) => query.state === 'FAILED').length;
  const finished = ended.length - failed;
  const errorRate = ended.length ? failed / ended.length : 0;
  if (errorRate > input.maxErrorRate) {
    problems.push(
      `error rate ${(errorRate * 100).toFixed(1)}% (${failed} of ${ended.length}) above ${(input.maxErrorRate * 100).toFixed(1)}%`,
    );
  }
  const queued = queries?.filter((query) => query.state === 'QUEUED' || query.state === 'WAITING_FOR_RESOURCES').length;
  if (
    queued !== undefined &&
    input.previousQueued !== undefined &&
    queued - input.previousQueued > input.maxQueuedGrowth
  ) {
    problems.push(`queued queries grew from ${input.previousQueued} to ${queued}`);
  }
  return {
    at: new Date(at).toISOString(),
    gatewayStatus: state?.trinoStatus,
    version: info?.nodeVersion.version,
    finished,
    failed,
    errorRate,
    queued,
    problem: problems.length ? problems.join('; ') : undefined,
  };
}
