import { formatSeconds } from '../../observations';
import { blueGreenBakeAnalysis, long, pollingOptions, retryBudgetOf, stepNamed } from '../activity-options';
import { blueGreenBake, canaryBake } from './canary-bake';
import { automaticRollback, CONTINUE, skipped, type StepKind } from './context';
import { canaryOf, gatewayOf, greenUrl } from './targets';

export type BakeStep = { kind: 'bake'; duration: string; analysis?: boolean };

/**
 * Green serves its share for a while under watch: the analysis of canary-bake.ts (green against
 * blue), which a pause stops and a promote ends. Blue/green bakes recorded before the patch
 * `blue-green-bake-analysis` watch green's health alone (`bakeGreen`).
 */
export const bake: StepKind<BakeStep> = {
  describe: (step) => (step.analysis ? `bake ${step.duration} with analysis` : `bake ${step.duration}`),

  async run(ctx, step) {
    if (step.analysis) {
      if (ctx.promoteAll) return skipped(ctx, `${step.duration} bake`);
      return canaryBake(ctx, step.duration, canaryOf(ctx).entry);
    }
    if (blueGreenBakeAnalysis()) return blueGreenBake(ctx, step.duration);
    const { plan, status } = ctx;
    const green = plan.green.name;
    ctx.setPhase('BAKING', `watching ${green} for ${step.duration}`);
    const bakeGreen = stepNamed() ? long.bakeGreen : long.watchGreen;
    // Time green goes unwatched is made up, within the retry budget the polling options add (pollingOptions).
    const watched = await bakeGreen.executeWithOptions(
      pollingOptions(`bake ${step.duration}`, plan.health.interval, step.duration, retryBudgetOf(plan)),
      [
        {
          gateway: gatewayOf(ctx),
          name: green,
          url: greenUrl(ctx),
          version: plan.green.version,
          duration: step.duration,
          interval: plan.health.interval,
          maxConsecutiveFailures: plan.health.maxConsecutiveFailures,
        },
      ],
    );
    status.health = watched.snapshot;
    const unwatchedMs = watched.unwatchedMs ?? 0;
    if (unwatchedMs > 0)
      ctx.note(
        `${green} went unwatched for ${formatSeconds(unwatchedMs)} (worker outage or gateway unreachable); the bake went on until ${step.duration} were watched`,
      );
    if (!watched.healthy) return automaticRollback(`${green} failed while baking: ${watched.reason}`);
    ctx.note(
      unwatchedMs > 0
        ? `bake of ${step.duration} passed (${formatSeconds(unwatchedMs)} unwatched, made up)`
        : `bake of ${step.duration} passed`,
    );
    return CONTINUE;
  },

  compensations: {},
};
