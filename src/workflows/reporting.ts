import { ActivityFailure, CancellationScope, condition, metricMeter, uuid4 } from '@temporalio/workflow';
import { upgradeMetrics, type RollbackReason, type StepEnd } from '../metrics';
import type { UpgradePlan } from '../plan/schema';
import type { UpgradeEvent, UpgradeEventKind } from '../upgrade-events';
import { NOTIFICATIONS_SETTLE, notifications, notificationsSent } from './activity-options';
import type { Phase, UpgradeStatus } from './messages';

/** What the reporter reads of an upgrade, and its timeline. */
export interface ReportedUpgrade {
  readonly plan: UpgradePlan;
  readonly status: UpgradeStatus;
  note(message: string): void;
}

/** The event a phase announces each time the upgrade enters it. */
const PHASE_EVENTS: Partial<Record<Phase, UpgradeEventKind>> = {
  AWAITING_APPROVAL: 'gate',
  ROLLING_BACK: 'rollback',
  SUCCEEDED: 'succeeded',
  FAILED: 'failed',
};

/**
 * What an upgrade tells the world outside Temporal: cutover's metrics, recorded with the
 * workflow's meter (which drops what a replay records again), and events for the worker's
 * webhooks, each sent by a `notify` activity that the upgrade does not wait for, except for a few
 * seconds at its very end. A failed delivery is noted in the timeline, never more.
 */
export class UpgradeReporter {
  private readonly metrics = upgradeMetrics(metricMeter);
  private rollback?: { reason: RollbackReason; step: string; text: string };
  private pending = 0;

  /** `lastPhase`: the phase a continued run resumes in (a phase is counted when it is entered). */
  constructor(
    private readonly upgrade: ReportedUpgrade,
    private lastPhase?: Phase,
  ) {}

  /** The upgrade's phase is set (again, when only the message changes). */
  phaseSet(phase: Phase, message: string): void {
    const { strategy } = this.upgrade.plan;
    if (phase !== this.lastPhase) {
      this.lastPhase = phase;
      this.metrics.phaseEntered(phase, strategy);
      if (phase === 'ROLLING_BACK')
        this.metrics.rollbackStarted(this.rollback?.reason ?? 'automatic', this.rollback?.step ?? 'unknown', strategy);
    }
    const event = PHASE_EVENTS[phase];
    if (event) this.notify(event, message);
  }

  /** A rollback was asked for (the first request counts), during `step`. */
  rollbackRequested(reason: RollbackReason, step: string, text: string): void {
    this.rollback ??= { reason, step, text };
  }

  /** A step ended; `startedAt` is workflow time, so a replay measures the same. */
  stepEnded(step: string, startedAt: number, end: StepEnd): void {
    this.metrics.stepEnded(step, this.upgrade.plan.strategy, (Date.now() - startedAt) / 1000, end);
  }

  /** Sends an event to the worker's webhooks without waiting for it; a failure is noted in the timeline. */
  notify(kind: UpgradeEventKind, message: string): void {
    if (!notificationsSent()) return;
    const { plan, status } = this.upgrade;
    const event: UpgradeEvent = {
      kind,
      eventId: uuid4(),
      upgradeId: status.id,
      runId: status.runId,
      strategy: plan.strategy,
      routingGroup: plan.routingGroup,
      phase: status.phase,
      trafficPercent: status.trafficPercent,
      green: { name: plan.green.name, version: plan.green.version },
      blue: status.blue,
      message,
      ...(kind === 'rollback' && this.rollback ? { reason: this.rollback.text } : {}),
      at: new Date().toISOString(),
    };
    this.pending += 1;
    // Not cancellable: a rollback cancels the step under way, and the event of it must still go out.
    void CancellationScope.nonCancellable(() =>
      notifications.notify.executeWithOptions({ summary: `notify: ${kind}` }, [{ event }]),
    )
      .then(
        (result) => result.refused.forEach((why) => this.upgrade.note(`${kind} event not delivered: ${why}`)),
        (error) => this.upgrade.note(`${kind} event not delivered: ${failureText(error)}`),
      )
      .finally(() => {
        this.pending -= 1;
      });
  }

  /** Waits a few seconds for events still being delivered: once the run closes, their activities cannot run. */
  async settle(): Promise<void> {
    if (this.pending === 0) return;
    await CancellationScope.nonCancellable(() =>
      condition(() => this.pending === 0, NOTIFICATIONS_SETTLE, { summary: 'deliver the last events' }),
    );
  }
}

/**
 * Why a step's own decision rolls back, from who it names as asking: `cutover` is the engine's
 * word for a step that failed, `cutover (analysis)` the canary analysis'.
 */
export function stepRollbackReason(by: string): RollbackReason {
  if (by === 'cutover') return 'step-failed';
  if (by === 'cutover (analysis)') return 'analysis';
  return 'automatic';
}

function failureText(error: unknown): string {
  const cause = error instanceof ActivityFailure ? error.cause : undefined;
  if (cause instanceof Error && cause.message) return cause.message;
  return error instanceof Error ? error.message : String(error);
}
