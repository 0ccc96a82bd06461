import { activityInfo, CancelledFailure, heartbeat, metricMeter, sleep } from '@temporalio/activity';
import { judgeSample, type JudgeLimits } from '../analysis/judge';
import { blueSelection } from '../analysis/selected-traffic';
import { buildWindow } from '../analysis/window';
import type { CanarySelector } from '../integrations/traffic/selector';
import type { QuerySummary } from '../integrations/trino/types';
import { analysisMetrics, type ClusterFigures } from '../metrics';
import type { AnalysisProgress, CanaryMeasurement, ClusterWindow } from '../observations';
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
  /** Green's backend name, as its window is named. Absent in inputs from before the comparison with blue. */
  greenName?: string;
  /** Blue's coordinators, whose queries in the same window are the baseline green is judged against. */
  blue?: { name: string; url: string }[];
  /** The comparison's limits (absent in inputs from before it: defaults). */
  comparison?: ComparisonLimits;
  /** The share of new queries the step intends for green (percent). */
  intendedPercent?: number;
  /** The canary's selector while green takes a share of the selected traffic: blue is judged on the same traffic. */
  selector?: CanarySelector;
}

/** Limits of the comparison with blue and of inconclusive samples (a plan's analysis settings, in ms). */
export interface ComparisonLimits {
  minQueries: number;
  maxLatencyRatio: number;
  latencySlackMs: number;
  minLatencyQueries: number;
  inconclusiveTimeoutMs: number;
  baselineWindowMs: number;
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
 * workflow), the first good sample after bad ones (the failure count is back to 0), the first
 * inconclusive sample after conclusive ones, the first conclusive one after inconclusive ones, or
 * inconclusive samples lasting `inconclusiveTimeout` (the plan's `onInconclusive` decides).
 */
export type AnalysisVerdict =
  'baked' | 'breach' | 'problem' | 'recovered' | 'inconclusive' | 'conclusive' | 'inconclusiveTimeout';

export interface AnalyseCanaryResult {
  verdict: AnalysisVerdict;
  progress: AnalysisProgress;
}

/** The comparison of inputs recorded before it existed: the plan schema's defaults of that time. */
export const DEFAULT_COMPARISON: ComparisonLimits = {
  minQueries: 1,
  maxLatencyRatio: 1.5,
  latencySlackMs: 100,
  minLatencyQueries: 20,
  inconclusiveTimeoutMs: 30 * 60_000,
  baselineWindowMs: 10 * 60_000,
};

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
        const limits = input.comparison ?? DEFAULT_COMPARISON;
        // A bake never ends on a bad sample: past its length it samples on until a good one or a breach.
        while (progress.elapsedMs < input.bakeMs || progress.failures > 0) {
          const closes = await waitForNextSample(progress, input);
          const wasFailing = progress.failures > 0;
          const wasInconclusive = (progress.inconclusiveSamples ?? 0) > 0;
          const { sample, baseline } = await sampleCanary(deps, {
            ...input,
            since: progress.since,
            previousQueued: progress.previousQueued,
            baseline: progress.baseline,
          });
          progress.baseline = baseline;
          progress.observedAt = Date.parse(sample.at);
          progress.samples += 1;
          progress.last = sample;
          metrics.sampleTaken(
            sample.verdict === 'inconclusive' ? 'inconclusive' : sample.problem ? 'bad' : 'healthy',
            figuresOf(sample, input),
          );
          // An unread query list moves neither mark: the next sample counts what ended meanwhile.
          if (sample.queued !== undefined) {
            progress.since = Date.parse(sample.at);
            progress.previousQueued = sample.queued;
          }
          if (sample.verdict === 'inconclusive') {
            // Too little traffic on green to judge it: the bake clock holds, the time is counted apart.
            const before = progress.inconclusiveMs ?? 0;
            progress.inconclusiveSamples = (progress.inconclusiveSamples ?? 0) + 1;
            progress.inconclusiveMs = before + (closes - progress.elapsedMs);
            heartbeat(progress);
            if (!wasInconclusive) return { verdict: 'inconclusive', progress };
            // Once per inconclusiveTimeout without a verdict: the workflow applies onInconclusive (and, waiting, says so again).
            const periods = (ms: number) => Math.floor(ms / limits.inconclusiveTimeoutMs);
            if (periods(progress.inconclusiveMs) > periods(before)) return { verdict: 'inconclusiveTimeout', progress };
            continue;
          }
          progress.elapsedMs = closes;
          progress.inconclusiveSamples = 0;
          progress.inconclusiveMs = 0;
          progress.failures = sample.problem ? progress.failures + 1 : 0;
          heartbeat(progress);
          if (sample.problem)
            return { verdict: progress.failures >= input.maxConsecutiveFailures ? 'breach' : 'problem', progress };
          if (wasFailing) return { verdict: 'recovered', progress };
          if (wasInconclusive) return { verdict: 'conclusive', progress };
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
 * The per-cluster figures a sample measured, for green and blue: an error rate only when the
 * cluster's query list was read and some query ended in the window, a p95 only when finished
 * queries had one (else there is no figure, and its gauge keeps the last one).
 */
export function figuresOf(
  sample: CanaryMeasurement,
  input: Pick<AnalyseCanaryInput, 'green' | 'entry'>,
): ClusterFigures[] {
  const green = sample.green;
  const greenMeasured = sample.queued !== undefined && sample.finished + sample.failed > 0;
  const figures: ClusterFigures[] = [
    {
      cluster: input.green ?? input.entry,
      role: 'green',
      ...(greenMeasured ? { errorRate: sample.errorRate } : {}),
      ...(green?.p95Ms !== undefined ? { latencyP95Seconds: green.p95Ms / 1000 } : {}),
    },
  ];
  const blue = sample.blue;
  if (blue && !blue.baselineOf) {
    const ended = blue.finished + blue.failed;
    figures.push({
      cluster: blue.name,
      role: 'blue',
      ...(ended > 0 ? { errorRate: blue.failed / ended } : {}),
      ...(blue.p95Ms !== undefined ? { latencyP95Seconds: blue.p95Ms / 1000 } : {}),
    });
  }
  return figures;
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
  const due =
    progress.elapsedMs >= input.bakeMs
      ? progress.elapsedMs + input.intervalMs
      : Math.min(input.bakeMs, (Math.floor(progress.elapsedMs / input.intervalMs) + 1) * input.intervalMs);
  let slept = 0;
  while (progress.elapsedMs + slept < due) {
    const start = Date.now();
    await sleep(Math.min(HEARTBEAT_EVERY_MS, due - progress.elapsedMs - slept));
    slept += Date.now() - start;
    heartbeat(progress);
  }
  return due;
}

/**
 * One sample: green's gateway health and version, and the queries green and blue each received and
 * ended since `since` (read from every coordinator's `/v1/query`, which has no time filter: each
 * read returns what the coordinator still remembers), judged by `judgeSample`. At the bake's first
 * sample blue's queries of the `baselineWindow` before it become blue's baseline, which stands in
 * for blue while blue gets too few new queries to compare with (after the flip).
 */
export async function sampleCanary(
  deps: ActivityDeps,
  input: SampleTarget & { since: number; previousQueued?: number; baseline?: ClusterWindow },
): Promise<{ sample: CanaryMeasurement; baseline?: ClusterWindow }> {
  const limits = input.comparison ?? DEFAULT_COMPARISON;
  const gateway = deps.gateway(input.gateway);
  const trino = deps.trino(input.url);
  const at = Date.now();
  const problems: string[] = [];
  let blueUnread: string | undefined;
  const [state, info, queries, blueLists] = await Promise.all([
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
    // Blue unread leaves nothing to compare with: the sample cannot pass (inconclusive), but blue's
    // API failing is no fault of green's.
    Promise.all(
      (input.blue ?? []).map((blue) =>
        deps
          .trino(blue.url)
          .listQueries()
          .catch((error: Error): QuerySummary[] | undefined => {
            blueUnread = `could not read ${blue.name}'s query list: ${error.message}`;
            return undefined;
          }),
      ),
    ),
  ]);
  if (state && state.trinoStatus !== 'HEALTHY') problems.push(`gateway reports ${input.entry} ${state.trinoStatus}`);
  if (info && info.nodeVersion.version !== input.version)
    problems.push(`green runs ${info.nodeVersion.version}, expected ${input.version}`);
  if (info?.starting) problems.push(`green restarted (starting)`);
  const green = buildWindow(input.greenName ?? input.entry, [queries ?? []], { from: input.since, to: at });
  if (!queries) {
    green.queued = undefined;
    green.running = undefined;
    green.routed = undefined;
  }
  // Like with like: with a selector, blue's queries of the same selected traffic only.
  const selection = input.selector ? blueSelection(input.selector) : undefined;
  const readBlue = blueLists
    .filter((list): list is QuerySummary[] => list !== undefined)
    .map((list) => (selection ? list.filter(selection.matches) : list));
  const selected = selection ? { selection: selection.words } : {};
  const hasBlue = (input.blue ?? []).length > 0 && !blueUnread;
  const blueNow = hasBlue
    ? { ...buildWindow('blue', readBlue, { from: input.since, to: at }), ...selected }
    : undefined;
  const baseline =
    input.baseline ??
    (hasBlue
      ? {
          ...buildWindow('blue', readBlue, { from: input.since - limits.baselineWindowMs, to: input.since }),
          baselineOf: `its ${formatWindow(limits.baselineWindowMs)} before this bake`,
          ...selected,
        }
      : undefined);
  const blue = blueNow && compareWith(blueNow, baseline, limits.minLatencyQueries);
  const judgement = judgeSample(
    blue,
    green,
    {
      maxErrorRate: input.maxErrorRate,
      maxQueuedGrowth: input.maxQueuedGrowth,
      minQueries: limits.minQueries,
      maxLatencyRatio: limits.maxLatencyRatio,
      latencySlackMs: limits.latencySlackMs,
      minLatencyQueries: limits.minLatencyQueries,
    } satisfies JudgeLimits,
    input.previousQueued,
    baseline,
  );
  problems.push(...judgement.problems);
  let verdict = problems.length > 0 ? 'fail' : judgement.verdict;
  let inconclusive = judgement.inconclusive;
  if (verdict === 'pass' && blueUnread) {
    verdict = 'inconclusive';
    inconclusive = `nothing to compare green with: ${blueUnread}`;
  }
  const routedBoth = (green.routed ?? 0) + (blueNow?.routed ?? 0);
  const sample: CanaryMeasurement = {
    at: new Date(at).toISOString(),
    gatewayStatus: state?.trinoStatus,
    version: info?.nodeVersion.version,
    finished: green.finished,
    failed: green.failed,
    errorRate: judgement.errorRate,
    queued: queries ? green.queued : undefined,
    problem: problems.length ? problems.join('; ') : undefined,
    verdict,
    notes: judgement.notes,
    green,
    newErrorNames: judgement.newErrorNames,
  };
  if (blue) sample.blue = blue;
  if (inconclusive && verdict === 'inconclusive') sample.inconclusive = inconclusive;
  if (input.intendedPercent !== undefined) sample.intendedPercent = input.intendedPercent;
  if (queries && blueNow && routedBoth > 0)
    sample.actualPercent = Math.round((1000 * (green.routed ?? 0)) / routedBoth) / 10;
  return { sample, baseline };
}

/**
 * Blue's window to judge green by: its current one when it ended enough queries to compare
 * latencies, else its baseline when that has more (blue takes no new queries after the flip).
 */
function compareWith(current: ClusterWindow, baseline: ClusterWindow | undefined, minimum: number): ClusterWindow {
  const ended = current.finished + current.failed;
  if (ended >= minimum || !baseline || baseline.finished + baseline.failed <= ended) return current;
  return baseline;
}

function formatWindow(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${Math.round(ms / 1000)} s`;
}
