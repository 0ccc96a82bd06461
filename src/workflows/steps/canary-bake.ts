import { ActivityFailure, CancellationScope, CancelledFailure, condition, isCancellation } from '@temporalio/workflow';
import type { AnalyseCanaryInput, AnalysisVerdict } from '../../activities/canary-analysis';
import { formatSeconds } from '../../observations';
import { durationMs } from '../../plan/duration';
import { counted } from '../../plural';
import { analysisConfig, type AnalysisConfig } from '../../plan/schema';
import {
  bakeEndsOnGoodSample,
  long,
  pollingOptions,
  retryBudgetOf,
  unanalysedTimeNotCounted,
} from '../activity-options';
import type { AnalysisProgress } from '../messages';
import { automaticRollback, CONTINUE, type StepContext, type StepOutcome } from './context';
import { gatewayOf } from './targets';

/**
 * A canary bake: one heartbeating `analyseCanary` activity samples green every `analysis.interval`
 * until the bake time is analysed, so history does not grow with the bake's length. It hands back
 * on a breach (rollback), on each bad sample and on a recovery (recorded here, so every failure is
 * in the timeline); healthy samples live only in its heartbeat, which `cutover status` and the UI
 * show. Pause stops the bake clock and promote ends the bake: both cancel the activity; rollback
 * cancels the whole step. Between hand-backs the run may continue as new, keeping the progress.
 */
export async function canaryBake(ctx: StepContext, duration: string, entry: string): Promise<StepOutcome> {
  return analysedBake(ctx, duration, entry, analysisConfig(ctx.plan.canary!.analysis));
}

/**
 * A blue/green bake under the same analysis (patch `blue-green-bake-analysis`): green, which takes
 * every new query, against blue's baseline of the `analysis.baselineWindow` before the bake.
 */
export async function blueGreenBake(ctx: StepContext, duration: string): Promise<StepOutcome> {
  return analysedBake(ctx, duration, ctx.plan.green.name, analysisConfig(ctx.plan.analysis));
}

async function analysedBake(
  ctx: StepContext,
  duration: string,
  entry: string,
  analysis: AnalysisConfig,
): Promise<StepOutcome> {
  const { plan, status } = ctx;
  const canary = plan.strategy === 'canary';
  const bakeMs = durationMs(duration);
  const progress = (ctx.bakeProgress ??= {
    elapsedMs: 0,
    failures: 0,
    since: Date.now(),
    samples: status.analysis?.samples ?? 0,
  });
  if (progress.elapsedMs === 0)
    ctx.setPhase(
      'BAKING',
      `${status.trafficPercent}% on ${plan.green.name}: baking ${duration}, a sample every ${analysis.interval}`,
    );
  status.analysis ??= { samples: 0, consecutiveFailures: 0 };
  try {
    while (progress.elapsedMs < bakeMs || (progress.failures > 0 && bakeEndsOnGoodSample())) {
      const input: AnalyseCanaryInput = {
        gateway: gatewayOf(ctx),
        green: plan.green.name,
        entry: status.trafficPercent === 100 ? plan.green.name : entry,
        url: ctx.facts.greenUrl ?? plan.green.url ?? '',
        version: plan.green.version,
        maxErrorRate: analysis.maxErrorRate,
        maxQueuedGrowth: analysis.maxQueuedGrowth,
        maxConsecutiveFailures: analysis.maxConsecutiveFailures,
        greenName: plan.green.name,
        blue: ctx.facts.blue.map((blue) => ({ name: blue.name, url: blue.proxyTo })),
        comparison: {
          minQueries: analysis.minQueries,
          maxLatencyRatio: analysis.maxLatencyRatio,
          latencySlackMs: durationMs(analysis.latencySlack),
          minLatencyQueries: analysis.minLatencyQueries,
          inconclusiveTimeoutMs: durationMs(analysis.inconclusiveTimeout),
          baselineWindowMs: durationMs(analysis.baselineWindow),
        },
        intendedPercent: status.trafficPercent,
        // Below 100% green takes a share of the selected traffic only: blue is judged on the same.
        ...(canary && status.trafficPercent < 100 && plan.canary?.selector ? { selector: plan.canary.selector } : {}),
        bakeMs,
        intervalMs: durationMs(analysis.interval),
        progress: { ...progress },
      };
      const run = await analyseUntilInterrupted(
        ctx,
        input,
        `bake ${duration} at ${status.trafficPercent}%: analyse ${plan.green.name}`,
      );
      Object.assign(progress, run.progress);
      record(ctx, run.verdict, progress, analysis.maxConsecutiveFailures);
      if (run.verdict === 'breach') {
        noteUnwatched(ctx, progress, duration);
        return automaticRollback(
          canary
            ? `canary analysis failed ${progress.failures} times in a row at ${status.trafficPercent}%: ${progress.last?.problem}`
            : `${plan.green.name} failed while baking: ${progress.last?.problem} (${progress.failures} samples in a row)`,
          'cutover (analysis)',
        );
      }
      if (run.verdict === 'inconclusiveTimeout') {
        const undecided = `no verdict on ${plan.green.name} at ${status.trafficPercent}% for ${formatSeconds(progress.inconclusiveMs ?? 0)} of samples (${progress.last?.inconclusive ?? 'too little traffic'})`;
        ctx.notify('inconclusive', `${undecided} (analysis.onInconclusive: ${analysis.onInconclusive})`);
        switch (analysis.onInconclusive) {
          case 'rollback':
            noteUnwatched(ctx, progress, duration);
            return automaticRollback(
              `${undecided}: rolling back (analysis.onInconclusive: rollback)`,
              'cutover (analysis)',
            );
          case 'proceed':
            ctx.note(
              `${undecided}: ending this bake without a verdict (analysis.onInconclusive: proceed); ${formatSeconds(progress.elapsedMs)} of ${duration} were analysed`,
            );
            return CONTINUE;
          case 'wait':
            ctx.note(
              `${undecided}: still waiting for queries to judge green by (analysis.onInconclusive: wait); roll back or promote by hand to end the wait`,
            );
            break;
          default: {
            const unknown: never = analysis.onInconclusive;
            throw new Error(`unknown onInconclusive ${String(unknown)}`);
          }
        }
      }
      if (status.paused) {
        await ctx.holdWhilePaused();
        // The analysis resumes with a new watch: the paused time is not a gap in it.
        progress.observedAt = undefined;
      }
      if (ctx.rollingBack) return CONTINUE;
      const promotion = ctx.takePromotion();
      if (promotion) {
        ctx.note(`bake at ${status.trafficPercent}% ended early: promoted by ${promotion.by}`);
        return CONTINUE;
      }
      // Canaries run for hours across many bakes; a blue/green upgrade's history stays small without it.
      if (canary) await ctx.continueAsNewIfSuggested();
    }
    noteUnwatched(ctx, progress, duration);
    const unwatched = progress.unwatchedMs ? `; ${formatSeconds(progress.unwatchedMs)} unwatched, made up` : '';
    ctx.note(
      canary
        ? `bake of ${duration} at ${status.trafficPercent}% passed (${counted(status.analysis.samples, 'analysis sample')} since the first step${unwatched})`
        : `bake of ${duration} passed (${counted(status.analysis.samples, 'analysis sample')}${unwatched})`,
    );
    return CONTINUE;
  } finally {
    ctx.bakeProgress = undefined;
  }
}

/**
 * Runs the analysis activity until it hands back, or until a pause or promote cancels it (a
 * rollback cancels the enclosing step scope, and that cancellation propagates from here).
 */
async function analyseUntilInterrupted(
  ctx: StepContext,
  input: AnalyseCanaryInput,
  summary: string,
): Promise<{ verdict: AnalysisVerdict | 'interrupted'; progress: AnalysisProgress }> {
  const scheduledAt = Date.now();
  let interruptedAt: number | undefined;
  const analysis = new CancellationScope();
  const watcher = new CancellationScope();
  void watcher
    .run(() => condition(() => ctx.status.paused || ctx.promotionPending))
    .then(
      () => {
        interruptedAt = Date.now();
        analysis.cancel();
      },
      () => undefined,
    );
  // The analysed time left, a bad last sample's follow-ups, and the inconclusive time after which it hands back.
  const remaining = `${
    Math.max(0, input.bakeMs - input.progress.elapsedMs) +
    input.maxConsecutiveFailures * input.intervalMs +
    (input.comparison?.inconclusiveTimeoutMs ?? 0) +
    input.intervalMs
  }ms`;
  try {
    return await analysis.run(() =>
      long.analyseCanary.executeWithOptions(
        pollingOptions(summary, `${input.intervalMs}ms`, remaining, retryBudgetOf(ctx.plan)),
        [input],
      ),
    );
  } catch (error) {
    if (interruptedAt === undefined || ctx.rollingBack || !isCancellation(error)) throw error;
    // The activity's progress at the cancel (in history, so replays agree). Without it the analysis
    // was not running (an activity waiting for a worker is cancelled without its progress): no time analysed.
    const progress =
      progressAtCancel(error) ??
      (unanalysedTimeNotCounted()
        ? input.progress
        : {
            ...input.progress,
            elapsedMs: Math.min(input.bakeMs, input.progress.elapsedMs + interruptedAt - scheduledAt),
          });
    // A pause (or promote) interrupted the watch: the analysis resumes with a new one.
    return { verdict: 'interrupted', progress: { ...progress, observedAt: undefined } };
  } finally {
    watcher.cancel();
  }
}

/** Says in the timeline how long green went unwatched during the bake (time the bake made up), if at all. */
function noteUnwatched(ctx: StepContext, progress: AnalysisProgress, duration: string): void {
  if (!progress.unwatchedMs) return;
  ctx.note(
    `${ctx.plan.green.name} went unwatched for ${formatSeconds(progress.unwatchedMs)} at ${ctx.status.trafficPercent}% (worker outage or gateway unreachable); the bake went on until ${duration} were analysed`,
  );
}

/** The progress the activity attached to its cancellation, if it was running when cancelled. */
function progressAtCancel(error: unknown): AnalysisProgress | undefined {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  const details = cause instanceof CancelledFailure ? (cause.details[0] as AnalysisProgress | undefined) : undefined;
  return details && typeof details.elapsedMs === 'number' ? details : undefined;
}

/** Puts what the analysis saw into the status (and the timeline, for bad samples and recoveries). */
function record(
  ctx: StepContext,
  verdict: AnalysisVerdict | 'interrupted',
  progress: AnalysisProgress,
  max: number,
): void {
  const { status } = ctx;
  const sample = progress.last;
  status.analysis = {
    last: sample,
    samples: progress.samples,
    consecutiveFailures: progress.failures,
    inconclusiveSamples: progress.inconclusiveSamples ?? 0,
  };
  if (sample) {
    status.health = {
      ...status.health,
      gatewayStatus: sample.gatewayStatus,
      version: sample.version,
      message:
        sample.problem ??
        (sample.verdict === 'inconclusive'
          ? `inconclusive: ${sample.inconclusive}`
          : `healthy: ${sample.finished} finished, ${sample.failed} failed`),
      checkedAt: sample.at,
    };
  }
  if (verdict === 'problem')
    ctx.note(
      `analysis at ${status.trafficPercent}%: bad sample ${progress.failures} of ${max} in a row: ${sample?.problem}`,
    );
  else if (verdict === 'recovered')
    ctx.note(
      `analysis at ${status.trafficPercent}%: green healthy again (${sample?.finished} finished, ${sample?.failed} failed)`,
    );
  else if (verdict === 'inconclusive') {
    const text = `analysis at ${status.trafficPercent}%: inconclusive, ${sample?.inconclusive ?? 'too little traffic on green'}; the bake clock holds at ${formatSeconds(progress.elapsedMs)} until green can be judged`;
    ctx.note(text);
    ctx.notify('inconclusive', text);
  } else if (verdict === 'conclusive')
    ctx.note(
      `analysis at ${status.trafficPercent}%: green can be judged again (${sample?.finished} finished, ${sample?.failed} failed); the bake clock runs again`,
    );
  else ctx.refreshDetails();
}
