import type { ActivityOptions } from '@temporalio/workflow';
import { trafficMode } from '../../integrations/traffic';
import { durationMs } from '../../plan/duration';
import {
  compensationOptions,
  forwardOptions,
  long,
  pollingOptions,
  quick,
  retryBudgetOf,
  stepNamed,
} from '../activity-options';
import {
  CONTINUE,
  namesWith,
  skipped,
  type CompensationKind,
  type StepContext,
  type StepKind,
  type StepOutcome,
} from './context';
import { canaryOf, gatewayOf, hasSeparateCanaryEntry } from './targets';

export type ShiftStep = { kind: 'shift'; percent: number };

/**
 * Moves new queries to green. Below 100% through the plan's traffic mode (a rule or pool share);
 * at 100% the flip: green is activated and blue deactivated once the gateway reports green HEALTHY,
 * so the group always has an active HEALTHY backend. Queries running on blue finish there.
 */
export const shift: StepKind<ShiftStep, 'restoreBlue' | 'resetCanary' | 'drainGreen'> = {
  describe: (step, names) => `shift ${step.percent}% to ${names.green}`,

  async run(ctx, step) {
    if (step.percent < 100) return shiftShare(ctx, step.percent);
    const { plan, status } = ctx;
    const green = plan.green.name;
    const budget = retryBudgetOf(plan);
    ctx.setPhase(
      'SHIFTING',
      `activating ${green}, then deactivating ${status.blue.join(', ')} once the gateway reports ${green} HEALTHY`,
    );
    ctx.registerCompensation({ kind: 'restoreBlue' });
    const { interval, timeout } = plan.health;
    await shiftTraffic(
      ctx,
      { to: green, from: status.blue },
      pollingOptions(`shift ${plan.routingGroup} to ${green}`, interval, timeout, budget),
    );
    ctx.setTraffic(100);
    ctx.note(
      `${green} takes every new query of ${plan.routingGroup}${onReplicas(ctx, 'HEALTHY on')}; queries running on blue finish there`,
    );
    if (hasSeparateCanaryEntry(ctx)) {
      const canary = canaryOf(ctx);
      await long.resetCanary.executeWithOptions(
        pollingOptions(`set rule ${canary.ruleName} to 0%`, plan.health.interval, canary.rulesRefresh, budget),
        [canary],
      );
      await quick.removeBackend.executeWithOptions(forwardOptions(`remove ${canary.entry}`, budget), [
        { gateway: gatewayOf(ctx), name: canary.entry, expected: { routingGroup: canary.canaryGroup } },
      ]);
      ctx.note(
        `canary rule ${canary.ruleName} back to 0% and ${canary.entry} removed: ${green} serves ${plan.routingGroup} directly`,
      );
    }
    return CONTINUE;
  },

  compensations: {
    /** Blue serves every new query again (first blue backend first, green off once it does). */
    async restoreBlue(ctx) {
      const { plan, status } = ctx;
      const [first, ...others] = status.blue;
      const back = (to: string) =>
        compensationOptions(`shift ${plan.routingGroup} back to ${to}`, plan.health.interval);
      await shiftTraffic(ctx, { to: first, from: [plan.green.name] }, back(first));
      for (const other of others) await shiftTraffic(ctx, { to: other, from: [] }, back(other));
      ctx.setTraffic(0);
      ctx.note(`${namesWith(status.blue, 'serves', 'serve')} ${plan.routingGroup} again`);
    },

    /** The canary share goes back to blue: the rule (if any) at 0%, then the canary entry inactive. */
    async resetCanary(ctx) {
      const { status } = ctx;
      await long.resetCanary.executeWithOptions(
        compensationOptions(`send canary traffic back to ${status.blue.join(', ')}`, ctx.plan.health.interval),
        [canaryOf(ctx)],
      );
      ctx.setTraffic(0);
      ctx.note(`canary traffic back on ${status.blue.join(', ')}`);
    },

    /** Green's running queries finish where they run, once no new query can reach it (after TRAFFIC_COMPENSATIONS). */
    async drainGreen(ctx) {
      const { plan, facts } = ctx;
      if (!facts.greenUrl) return;
      ctx.note(`draining ${plan.green.name} (its queries finish, none is killed)`);
      await long.drainBackends.executeWithOptions(
        compensationOptions(`drain ${plan.green.name}`, plan.drain.interval),
        [
          {
            backends: [{ name: plan.green.name, proxyTo: facts.greenUrl }],
            interval: plan.drain.interval,
            unreachableFor: plan.health.timeout,
          },
        ],
      );
    },
  },
};

/** The compensations of this step that move traffic back to blue; green drains only after all of them. */
export const TRAFFIC_COMPENSATIONS: readonly CompensationKind[] = ['restoreBlue', 'resetCanary'];

/** Moves a share (< 100%) of new queries to green through the plan's traffic mode. */
async function shiftShare(ctx: StepContext, percent: number): Promise<StepOutcome> {
  if (ctx.promoteAll) return skipped(ctx, `${percent}% step`);
  const { plan } = ctx;
  const canary = canaryOf(ctx);
  ctx.setPhase('SHIFTING', `moving ${percent}% of new queries to ${plan.green.name} (${canary.mode})`);
  ctx.registerCompensation({ kind: 'resetCanary' });
  const wait = durationMs(canary.rulesRefresh) + durationMs(canary.timeout);
  const shifted = await long.shiftCanary.executeWithOptions(
    pollingOptions(`shift ${percent}% to ${canary.entry}`, canary.interval, `${wait}ms`, retryBudgetOf(plan)),
    [{ ...canary, percent, blueCount: ctx.facts.blue.length }],
  );
  ctx.setTraffic(shifted.appliedPercent);
  const mode = trafficMode(canary.mode);
  const described = mode.describeShift({
    percent,
    appliedPercent: shifted.appliedPercent,
    entry: canary.entry,
    routingGroup: plan.routingGroup,
    canaryGroup: canary.canaryGroup,
    selector: canary.selector,
  });
  ctx.note(mode.rewritesRule ? `${described}${onReplicas(ctx, 'read back from')}` : described);
  return CONTINUE;
}

/** `" (<what> each of N gateway replicas)"` when the plan lists replicas, else nothing. */
function onReplicas(ctx: StepContext, what: string): string {
  const replicas = ctx.plan.gateway.replicas;
  return replicas ? ` (${what} each of ${replicas.length} gateway replicas)` : '';
}

/** All new queries of the group to `to`; `from` stop getting new queries once `to` is active and HEALTHY. */
async function shiftTraffic(
  ctx: StepContext,
  move: { to: string; from: string[] },
  options: ActivityOptions,
): Promise<void> {
  const { plan, facts } = ctx;
  const { interval, timeout } = plan.health;
  const activity = stepNamed() ? long.shiftTraffic : long.flip;
  // The target must be the backend this upgrade means: in the group, at the address it was registered with.
  const toProxyTo =
    move.to === plan.green.name ? facts.greenUrl : facts.blue.find((backend) => backend.name === move.to)?.proxyTo;
  await activity.executeWithOptions(options, [
    { gateway: gatewayOf(ctx), ...move, interval, timeout, routingGroup: plan.routingGroup, toProxyTo },
  ]);
}
