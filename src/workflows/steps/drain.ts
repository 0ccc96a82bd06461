import { durationMs } from '../../plan/duration';
import { long, pollingOptions, retryBudgetOf } from '../activity-options';
import { automaticRollback, CONTINUE, type StepKind } from './context';

export type DrainStep = { kind: 'drain' };

/**
 * Blue gets no new query any more; its running and queued queries finish where they run. Past
 * `drain.timeout` the plan decides: wait on (with an alert), proceed, or roll back. Drained means also
 * `drain.resultGrace` after the last query ended (polled inside the activity: no timer in history),
 * since clients of Trino's spooling protocol fetch result segments from blue after their query ended.
 */
export const drain: StepKind<DrainStep> = {
  describe: (_step, names) => `drain ${names.blue.join(', ') || 'blue'}`,

  async run(ctx) {
    const { plan, status, facts } = ctx;
    const budget = retryBudgetOf(plan);
    const names = status.blue.join(', ');
    ctx.setPhase('DRAINING', `waiting for the queries still running on ${names} to finish`);
    // Plans of upgrades started before the setting existed get its default.
    const resultGrace = plan.drain.resultGrace ?? '2m';
    const drainInput = { backends: facts.blue, interval: plan.drain.interval, resultGrace };
    const waitFor = `${durationMs(plan.drain.timeout) + durationMs(resultGrace)}ms`;
    const first = await long.drainBackends.executeWithOptions(
      pollingOptions(`drain ${names}`, plan.drain.interval, waitFor, budget),
      [{ ...drainInput, timeout: plan.drain.timeout }],
    );
    if (first.drained) {
      ctx.note(`${names} drained`);
      return CONTINUE;
    }
    const late = `${first.remaining} queries still run on ${names} after ${plan.drain.timeout}`;
    switch (plan.drain.onTimeout) {
      case 'proceed':
        ctx.note(`${late}; proceeding as the plan says (drain.onTimeout: proceed)`);
        return CONTINUE;
      case 'rollback':
        return automaticRollback(late);
      case 'wait':
        status.health = { ...status.health, message: `ALERT: ${late}; still waiting (drain.onTimeout: wait)` };
        ctx.note(`ALERT: ${late}; waiting until they finish (drain.onTimeout: wait)`);
        await long.drainBackends.executeWithOptions(
          pollingOptions(`drain ${names} (past timeout)`, plan.drain.interval, undefined, budget),
          [drainInput],
        );
        ctx.note(`${names} drained`);
        return CONTINUE;
      default: {
        const unhandled: never = plan.drain.onTimeout;
        throw new Error(`unknown drain.onTimeout ${String(unhandled)}`);
      }
    }
  },

  compensations: {},
};
