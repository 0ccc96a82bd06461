import { describeShadowMismatch, shadowCounts } from '../../shadow-report';
import { long, shadowOptions } from '../activity-options';
import { automaticRollback, CONTINUE, type StepContext, type StepKind, type StepOutcome } from './context';
import { gatewayOf, greenUrl } from './targets';

export type ShadowStep = { kind: 'shadow' };

/**
 * Shadow validation: read-only queries (the plan's, and the routing group's recent ones from the
 * gateway's history) run on blue and on green at their own addresses and compared, before any
 * traffic moves. One heartbeating activity runs every pair and returns a bounded report; a
 * mismatch blocks (until a signed acknowledgement), rolls back or is noted, as the plan says.
 */
export const shadow: StepKind<ShadowStep> = {
  describe: (_step, names) => `shadow queries on ${names.blue.join(', ') || 'blue'} and ${names.green} and compare`,

  async run(ctx) {
    const { plan, status } = ctx;
    const settings = plan.shadow;
    if (!settings) return CONTINUE;
    const blues = ctx.facts.blue;
    const blue = blues[0];
    if (!blue) throw new Error('shadow validation needs blue (the preflight did not find it)');
    ctx.setPhase(
      'SHADOWING',
      `replaying up to ${settings.sample} read-only queries on ${blues.map((each) => each.name).join(', ')} and ${plan.green.name}, ${settings.concurrency} at a time${blues.length > 1 ? ' on each blue' : ''}`,
    );
    const report = await long.shadowGreen.executeWithOptions(
      shadowOptions(`shadow ${settings.sample} queries`, settings.timeout, plan.gateway.retryBudget),
      [
        {
          gateway: gatewayOf(ctx),
          routingGroup: plan.routingGroup,
          blueUrl: blue.proxyTo,
          blues: blues.map(({ name, proxyTo }) => ({ name, proxyTo })),
          greenUrl: greenUrl(ctx),
          shadow: settings,
        },
      ],
    );
    status.shadow = { report, onMismatch: settings.onMismatch };
    const failing = report.mismatched + report.slow;
    ctx.note(`shadow validation: ${shadowCounts(report)}`);
    if (report.impersonationRefused)
      ctx.note(
        `shadow: Trino (blue and green) refused to let the worker's Trino user impersonate ${report.impersonationRefused.join(', ')}, so their queries were skipped; allow the worker's user to impersonate them in Trino's access control (impersonation rules) to replay them`,
      );
    if (report.historyRestricted) ctx.note(`shadow: ${report.historyRestricted}`);
    for (const mismatch of report.mismatches.slice(0, 5)) ctx.note(`shadow ${describeShadowMismatch(mismatch)}`);
    if (failing === 0 && report.inconclusive) return inconclusive(ctx, report.inconclusive);
    if (failing === 0) return CONTINUE;
    switch (settings.onMismatch) {
      case 'warn':
        ctx.note(
          `green disagrees with blue on ${failing} queries; going on as the plan says (shadow.onMismatch: warn)`,
        );
        return CONTINUE;
      case 'rollback':
        return automaticRollback(`shadow validation: ${shadowCounts(report)} (shadow.onMismatch: rollback)`);
      case 'block':
        return holdForAcknowledgement(
          ctx,
          `shadow validation found green disagreeing with blue (${shadowCounts(report)})`,
        );
      default: {
        const unhandled: never = settings.onMismatch;
        throw new Error(`unknown shadow.onMismatch ${JSON.stringify(unhandled)}`);
      }
    }
  },

  compensations: {},
};

/** Nothing (or too little) was compared: never a pass; `shadow.onInconclusive` decides. */
function inconclusive(ctx: StepContext, why: string): Promise<StepOutcome> | StepOutcome {
  const settings = ctx.plan.shadow;
  const action = settings?.onInconclusive ?? 'block';
  ctx.note(`shadow validation inconclusive: ${why}`);
  switch (action) {
    case 'warn':
      ctx.note('green was not judged by shadow validation; going on as the plan says (shadow.onInconclusive: warn)');
      return CONTINUE;
    case 'rollback':
      return automaticRollback(`shadow validation inconclusive: ${why} (shadow.onInconclusive: rollback)`);
    case 'block':
      return holdForAcknowledgement(ctx, `shadow validation could not judge green (${why})`);
    default: {
      const unhandled: never = action;
      throw new Error(`unknown shadow.onInconclusive ${JSON.stringify(unhandled)}`);
    }
  }
}

/** `block`: the upgrade waits at this step's gate until an approver acknowledges the report (signed where the policy says). */
async function holdForAcknowledgement(ctx: StepContext, finding: string): Promise<StepOutcome> {
  const { plan, status } = ctx;
  status.awaitingApproval = true;
  ctx.setPhase(
    'AWAITING_APPROVAL',
    `${finding}; acknowledge the report to go on with: cutover approve ${status.id}, or roll back`,
  );
  const decision = await ctx.awaitApproval(
    plan.approval.timeout,
    `await acknowledgement of the shadow report (${plan.approval.timeout})`,
  );
  switch (decision.kind) {
    case 'approved': {
      const { by, comment } = decision.approval;
      if (status.shadow) status.shadow.acknowledgedBy = by;
      ctx.note(`shadow report acknowledged by ${by}${comment ? `: ${comment}` : ''}`);
      return CONTINUE;
    }
    case 'rollback':
      return CONTINUE;
    case 'timeout':
      return automaticRollback(`the shadow report was not acknowledged within ${plan.approval.timeout}`);
    default: {
      const unhandled: never = decision;
      throw new Error(`unknown approval decision ${JSON.stringify(unhandled)}`);
    }
  }
}
