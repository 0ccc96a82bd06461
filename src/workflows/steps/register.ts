import { compensationOptions, forwardOptions, long, pollingOptions, quick, retryBudgetOf } from '../activity-options';
import { CONTINUE, type StepContext, type StepKind } from './context';
import { canaryOf, gatewayOf, greenUrl, hasSeparateCanaryEntry } from './targets';

export type RegisterStep = { kind: 'register' };

/**
 * Registers green inactive in the routing group, so the gateway health-checks it before it gets a
 * query, and the canary entry beside it when the traffic mode has one.
 */
export const register: StepKind<RegisterStep, 'removeGreenBackend' | 'removeCanaryEntry'> = {
  describe: (_step, names) => `register ${names.green} inactive in the gateway`,

  async run(ctx) {
    const { plan, status } = ctx;
    const green = plan.green.name;
    const budget = retryBudgetOf(plan);
    ctx.registerCompensation({ kind: 'removeGreenBackend' });
    await quick.registerGreen.executeWithOptions(forwardOptions(`register ${green} inactive`, budget), [
      { gateway: gatewayOf(ctx), name: green, url: greenUrl(ctx), routingGroup: plan.routingGroup },
    ]);
    const health = await long.waitForGatewayHealthy.executeWithOptions(
      pollingOptions(
        `wait until the gateway reports ${green} HEALTHY`,
        plan.health.interval,
        plan.health.timeout,
        budget,
      ),
      [{ gateway: gatewayOf(ctx), name: green, interval: plan.health.interval, timeout: plan.health.timeout }],
    );
    status.health = { ...status.health, gatewayStatus: health.status };
    if (hasSeparateCanaryEntry(ctx)) {
      const canary = canaryOf(ctx);
      ctx.registerCompensation({ kind: 'removeCanaryEntry' });
      await quick.registerCanary.executeWithOptions(
        forwardOptions(`register ${canary.entry} inactive in ${canary.canaryGroup}`, budget),
        [{ ...canary, url: greenUrl(ctx) }],
      );
      ctx.note(`${canary.entry} registered inactive in canary group ${canary.canaryGroup}`);
    }
    ctx.note(
      health.monitored
        ? `${green} registered inactive in ${plan.routingGroup}; the gateway reports it HEALTHY`
        : `${green} registered inactive in ${plan.routingGroup}; this gateway does not health-check inactive backends, so health is confirmed at the flip`,
    );
    return CONTINUE;
  },

  compensations: {
    async removeGreenBackend(ctx) {
      const green = ctx.plan.green.name;
      const left = await removeBackend(ctx, green, ctx.plan.routingGroup);
      ctx.note(left ? `${green} left in the gateway: ${left}` : `${green} removed from the gateway`);
    },
    async removeCanaryEntry(ctx) {
      const { entry, canaryGroup } = canaryOf(ctx);
      const left = await removeBackend(ctx, entry, canaryGroup);
      if (left) ctx.note(`${entry} left in the gateway: ${left}`);
    },
  },
};

/** Removes a backend this upgrade registered in `routingGroup` at green's address; says why one was left instead. */
async function removeBackend(ctx: StepContext, name: string, routingGroup: string): Promise<string | undefined> {
  const result = await long.removeBackend.executeWithOptions(
    compensationOptions(`remove ${name} from the gateway`, ctx.plan.health.interval),
    [
      {
        gateway: gatewayOf(ctx),
        name,
        expected: { routingGroup, proxyTo: ctx.facts.greenUrl, addressOf: "green's address" },
      },
    ],
  );
  // Histories from before ownership checks recorded no result: the backend was removed.
  return result?.leftBecause;
}
