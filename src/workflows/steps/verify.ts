import { counted } from '../../plural';
import { long, pollingOptions, retryBudgetOf, stepNamed } from '../activity-options';
import { CONTINUE, type StepKind } from './context';
import { greenUrl } from './targets';

export type VerifyStep = { kind: 'verify' };

/** Waits until green runs the target version with enough workers and passes the smoke queries, at its own address. */
export const verify: StepKind<VerifyStep> = {
  describe: (_step, names) => `verify ${names.green} (version, workers, smoke queries)`,

  async run(ctx) {
    const { plan, status } = ctx;
    const green = plan.green.name;
    const { interval, timeout, smokeQueries, minActiveWorkers } = plan.health;
    ctx.setPhase(
      'VERIFYING',
      `waiting until ${green} runs ${plan.green.version}${minActiveWorkers > 0 ? ` with at least ${counted(minActiveWorkers, 'active worker')}` : ''}${smokeQueries.length > 0 ? ` and passes ${counted(smokeQueries.length, 'smoke query', 'smoke queries')}` : ''}`,
    );
    const verifyGreen = stepNamed() ? long.verifyGreen : long.waitForGreenReady;
    status.health = await verifyGreen.executeWithOptions(
      pollingOptions(`verify ${green}`, interval, timeout, retryBudgetOf(plan)),
      [{ url: greenUrl(ctx), version: plan.green.version, interval, timeout, smokeQueries, minActiveWorkers }],
    );
    ctx.note(`${green} is ready: ${status.health.message}`);
    return CONTINUE;
  },

  compensations: {},
};
