import { automaticRollback, CONTINUE, skipped, type StepKind } from './context';

export type ApprovalStep = { kind: 'approval' };

/** A manual gate: green waits at its own address for people to test it, until someone approves or the timeout acts. */
export const approval: StepKind<ApprovalStep> = {
  describe: () => 'wait for approval',

  async run(ctx) {
    const { plan, status } = ctx;
    if (ctx.promoteAll) return skipped(ctx, 'approval gate');
    status.awaitingApproval = true;
    ctx.setPhase(
      'AWAITING_APPROVAL',
      `${plan.green.name} is ready for testing at ${ctx.facts.greenUrl}; approve with: cutover approve ${status.id}`,
    );
    const decision = await ctx.awaitApproval(plan.approval.timeout, `await approval (${plan.approval.timeout})`);
    switch (decision.kind) {
      case 'approved': {
        const { by, comment } = decision.approval;
        ctx.note(`approved by ${by}${comment ? `: ${comment}` : ''}`);
        return CONTINUE;
      }
      case 'rollback':
        return CONTINUE;
      case 'timeout':
        if (plan.approval.onTimeout === 'rollback')
          return automaticRollback(`no approval within ${plan.approval.timeout}`);
        ctx.note(
          `no approval within ${plan.approval.timeout}; proceeding as the plan says (approval.onTimeout: proceed)`,
        );
        return CONTINUE;
      default: {
        const unhandled: never = decision;
        throw new Error(`unknown approval decision ${JSON.stringify(unhandled)}`);
      }
    }
  },

  compensations: {},
};
