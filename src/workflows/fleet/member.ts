import { getExternalWorkflowHandle } from '@temporalio/workflow';
import { FINAL_PHASES, type UpgradeStatus } from '../messages';
import { memberReportSignal, type FleetMembership } from './messages';

/** Longest reason a report carries: the fleet's status holds one per group. */
const REASON_CHARS = 300;

/**
 * An upgrade started by a fleet reports to it (a signal to the fleet's workflow id, so it reaches
 * the fleet's current run) when its phase changes and when blue starts being kept warm: the fleet
 * learns its groups' progress without polling, one signal per change. Nothing is sent for an
 * upgrade started alone. A fleet that has ended cannot take the report: the upgrade goes on.
 */
export class MemberReporter {
  private last?: string;

  constructor(private readonly membership: FleetMembership | undefined) {}

  report(status: UpgradeStatus, stepKind: string, reason?: string): void {
    if (!this.membership) return;
    const warm = stepKind === 'keepWarm' || stepKind === 'retire';
    const key = `${status.phase}|${warm}`;
    if (key === this.last) return;
    this.last = key;
    getExternalWorkflowHandle(this.membership.workflowId)
      .signal(memberReportSignal, {
        routingGroup: status.routingGroup,
        workflowId: status.id,
        phase: status.phase,
        trafficPercent: status.trafficPercent,
        stepKind,
        step: status.step.description,
        ...(FINAL_PHASES.has(status.phase) && reason ? { reason: reason.slice(0, REASON_CHARS) } : {}),
      })
      .catch(() => undefined);
  }
}
