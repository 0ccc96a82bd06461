import { long } from '../activity-options';
import { CONTINUE, type StepKind } from './context';
import { gatewayOf, provisionerOf } from './targets';

export type RetireStep = { kind: 'retire' };

/** The point of no return: blue leaves the gateway and, when the plan says so, its clusters are deleted. */
export const retire: StepKind<RetireStep> = {
  describe: (_step, names) => `retire ${names.blue.join(', ') || 'blue'}`,

  async run(ctx) {
    const { plan, status, facts } = ctx;
    ctx.pointOfNoReturn();
    const names = status.blue.join(', ');
    ctx.setPhase(
      'RETIRING',
      `removing ${names} from the gateway${plan.retire.teardown ? ' and deleting the clusters' : ''}`,
    );
    const retired = await long.retireBlue.executeWithOptions({ summary: `retire ${names}` }, [
      {
        gateway: gatewayOf(ctx),
        provisioner: provisionerOf(ctx),
        backends: facts.blue,
        teardown: plan.retire.teardown,
      },
    ]);
    ctx.note(retired.deleted.length ? `deleted ${retired.deleted.join(', ')}` : `${names} removed from the gateway`);
    return CONTINUE;
  },

  compensations: {},
};
