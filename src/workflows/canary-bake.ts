import { durationMs } from '../plan/duration';
import { forwardOptions, quick, retryBudgetOf } from './activity-options';
import type { UpgradeEngine } from './engine';
import type { StepOutcome } from './step-actions';

/**
 * A canary bake: every `analysis.interval` one measurement of green, shown in status and the UI.
 * The clock stops while paused; promote ends the bake; `maxConsecutiveFailures` failed samples in
 * a row roll back. The loop lives in the workflow so each sample is visible, and continue-as-new
 * keeps a long canary's history small.
 */
export async function canaryBake(engine: UpgradeEngine, duration: string, entry: string): Promise<StepOutcome> {
  const { plan, status } = engine;
  const analysis = plan.canary!.analysis;
  const total = durationMs(duration);
  const interval = durationMs(analysis.interval);
  const progress = (engine.bakeProgress ??= { elapsedMs: 0, failures: 0, since: Date.now() });
  if (progress.elapsedMs === 0) engine.setPhase('BAKING', `${status.trafficPercent}% on ${plan.green.name}: baking ${duration}, a sample every ${analysis.interval}`);
  status.analysis ??= { samples: 0, consecutiveFailures: 0 };
  try {
    while (progress.elapsedMs < total) {
      progress.elapsedMs += await engine.bakeFor(Math.min(interval, total - progress.elapsedMs), `bake ${duration} at ${status.trafficPercent}%`);
      if (engine.rollingBack) return { kind: 'continue' };
      const promotion = engine.takePromotion();
      if (promotion) {
        engine.note(`bake at ${status.trafficPercent}% ended early: promoted by ${promotion.by}`);
        return { kind: 'continue' };
      }
      const sample = await quick.measureCanary.executeWithOptions(forwardOptions(`analyse ${plan.green.name}`, retryBudgetOf(plan)), [
        {
          gateway: { url: plan.gateway.url, requestTimeout: plan.gateway.requestTimeout },
          entry: status.trafficPercent === 100 ? plan.green.name : entry,
          url: engine.facts.greenUrl ?? plan.green.url ?? '',
          version: plan.green.version,
          since: progress.since,
          previousQueued: progress.previousQueued,
          maxErrorRate: analysis.maxErrorRate,
          maxQueuedGrowth: analysis.maxQueuedGrowth,
        },
      ]);
      progress.since = Date.parse(sample.at);
      progress.previousQueued = sample.queued;
      progress.failures = sample.problem ? progress.failures + 1 : 0;
      status.analysis = { last: sample, samples: status.analysis.samples + 1, consecutiveFailures: progress.failures };
      status.health = { ...status.health, gatewayStatus: sample.gatewayStatus, version: sample.version, message: sample.problem ?? `healthy: ${sample.finished} finished, ${sample.failed} failed` };
      engine.refreshDetails();
      if (sample.problem && progress.failures >= analysis.maxConsecutiveFailures) {
        return { kind: 'rollback', request: { by: 'cutover (analysis)', reason: `canary analysis failed ${progress.failures} times in a row at ${status.trafficPercent}%: ${sample.problem}` } };
      }
      await engine.continueAsNewIfSuggested();
    }
    engine.note(`bake of ${duration} at ${status.trafficPercent}% passed (${status.analysis.samples} samples)`);
    return { kind: 'continue' };
  } finally {
    engine.bakeProgress = undefined;
  }
}
