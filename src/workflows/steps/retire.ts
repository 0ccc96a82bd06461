import { ActivityFailure, ApplicationFailure, isCancellation } from '@temporalio/workflow';
import type { RoutingGroupState } from '../../activities/types';
import { failedRetireFails, forwardOptions, long, quick, retireOptions, retireTimeoutOf } from '../activity-options';
import { CONTINUE, type StepContext, type StepKind } from './context';
import { deletesClusters, retireIntent, retireOutcome } from './retire-text';
import { gatewayOf, provisionerOf } from './targets';

export type RetireStep = { kind: 'retire' };

/** The point of no return: blue leaves the gateway and, when the plan says so, its clusters are deleted. */
export const retire: StepKind<RetireStep> = {
  describe: (_step, names) => `retire ${names.blue.join(', ') || 'blue'}`,

  async run(ctx) {
    const { plan, status, facts } = ctx;
    ctx.pointOfNoReturn();
    const names = status.blue.join(', ');
    ctx.setPhase('RETIRING', retireIntent(plan, status.blue));
    let retired: { deleted: string[] };
    try {
      retired = await long.retireBlue.executeWithOptions(retireOptions(`retire ${names}`, plan), [
        {
          gateway: gatewayOf(ctx),
          provisioner: provisionerOf(ctx),
          backends: facts.blue,
          teardown: plan.retire.teardown,
          routingGroup: plan.routingGroup,
        },
      ]);
    } catch (error) {
      if (isCancellation(error) || !failedRetireFails()) throw error;
      throw ApplicationFailure.create({
        message: await whatIsLeft(ctx, error),
        type: 'RetireFailed',
        nonRetryable: true,
      });
    }
    ctx.note(retireOutcome(plan, status.blue, retired.deleted));
    return CONTINUE;
  },

  compensations: {},
};

/** Why the retire failed, which of blue it retired and which not, and what the gateway's group serves now. */
async function whatIsLeft(ctx: StepContext, error: unknown): Promise<string> {
  const { plan, facts } = ctx;
  const blue = facts.blue.map((backend) => backend.name);
  const cause = error instanceof ActivityFailure && error.cause ? error.cause.message : String(error);
  const gaveUp =
    error instanceof ActivityFailure && error.retryState === 'TIMEOUT'
      ? ` (still failing when retire.timeout ${retireTimeoutOf(plan)} ran out)`
      : '';
  let state: RoutingGroupState;
  try {
    state = await quick.readRoutingGroup.executeWithOptions(forwardOptions(`read ${plan.routingGroup}`, '1m'), [
      { gateway: gatewayOf(ctx), routingGroup: plan.routingGroup, names: blue },
    ]);
  } catch (readError) {
    const reason =
      readError instanceof ActivityFailure && readError.cause ? readError.cause.message : String(readError);
    return `${cause}${gaveUp}; the gateway's state could not be read (${reason}): check which of ${blue.join(', ')} it still lists before retrying by hand`;
  }
  const listed = (name: string) => state.find((backend) => backend.name === name);
  const gone = blue.filter((name) => !listed(name));
  const left = blue.filter((name) => listed(name));
  const active = state.filter((backend) => backend.active && backend.routingGroup === plan.routingGroup);
  const inactive = state.filter((backend) => !backend.active && backend.routingGroup === plan.routingGroup);
  const list = (backends: RoutingGroupState) => backends.map((backend) => backend.name).join(', ') || 'none';
  return (
    `${cause}${gaveUp}. ` +
    `Retired: ${gone.length ? `${gone.join(', ')} (removed from the gateway${deletesClusters(plan) ? '; cluster deletion not confirmed' : ''})` : 'none'}. ` +
    `Not retired: ${left.length ? left.map((name) => `${name} (still in the gateway, ${listed(name)?.active ? 'active' : 'inactive'}${deletesClusters(plan) ? ', cluster not deleted' : ''})`).join(', ') : 'none'}. ` +
    `The gateway's routing group ${plan.routingGroup} has active: ${list(active)}; inactive: ${list(inactive)}. ` +
    `Remove what is left of blue by hand`
  );
}
