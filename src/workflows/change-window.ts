import { CancellationScope, condition, patched } from '@temporalio/workflow';
import type { ChangeWindowCheck } from '../activities/change-window';
import type { UpgradePlan } from '../plan/schema';
import { local } from './activity-options';
import { changeWindowText, RESUME } from './change-window-text';
import { FINAL_PHASES, type Phase, type UpgradeStatus } from './messages';
import type { Step } from './steps';

/**
 * Patch id of change windows: right before each step that moves traffic or retires blue, the
 * `checkChangeWindow` local activity (the worker's clock and policy, no I/O) judges the plan's windows and freezes with the worker policy's
 * freezes, and the step waits on a durable timer for the opening. Every upgrade asks (a freeze in
 * the policy applies to upgrades without a schedule too); histories from before it replay without.
 */
export const CHANGE_WINDOWS = 'change-windows';

/** Added to each wait: the check at the opening lands after it even with a little clock skew between worker and server. */
const OPENING_MARGIN_MS = 1_000;
/** With no opening within a year, the check runs again after this long. */
const NO_OPENING_RECHECK_MS = 7 * 24 * 3600_000;

/** The steps that wait for the change window: every move of traffic (unless `promote --full` skips it) and the retire. */
export function waitsForWindow(step: Step, promoteAll: boolean): boolean {
  if (step.kind === 'retire') return true;
  if (step.kind === 'shift') return step.percent === 100 || !promoteAll;
  return false;
}

/** What the window gate reads and changes of a running upgrade (the engine implements it). */
export interface WindowHost {
  readonly plan: UpgradePlan;
  readonly status: UpgradeStatus;
  readonly rollingBack: boolean;
  note(message: string): void;
  setPhase(phase: Phase, message: string): void;
  refreshDetails(): void;
  holdWhilePaused(): Promise<void>;
}

/**
 * The change window of one upgrade: waits for openings (one activity and one timer per wait, however
 * long), and with `onWindowClose: pause` pauses the upgrade when the window closes and resumes it
 * when the window opens again.
 */
export class ChangeWindowGate {
  private closeTimer?: CancellationScope;

  constructor(private readonly host: WindowHost) {}

  /**
   * Returns once `what` may run: the window is open and no freeze holds (or a rollback was asked
   * for). `phase`: the phase the wait shows (the step's own), if any.
   */
  async awaitOpening(what: string, phase?: Phase): Promise<void> {
    if (!patched(CHANGE_WINDOWS)) return;
    const { host } = this;
    let announced: string | undefined;
    for (;;) {
      await host.holdWhilePaused();
      if (host.rollingBack) return;
      const check = await this.check(what);
      if (check.open) {
        if (announced) host.note(`the change window is open: ${what}`);
        this.opened(what, check);
        return;
      }
      const waitMs = this.showWaiting(what, check);
      // Said once per opening and reason: a wait that looks again and finds the same says nothing new.
      const key = `${check.opensAtText} ${check.reason}`;
      if (key !== announced) {
        const text = changeWindowText(host.status.changeWindow!, Date.now());
        if (phase && host.status.phase !== phase) host.setPhase(phase, text);
        else host.note(text);
        announced = key;
      }
      // A rollback ends the wait (it cancels the step, and with it this timer).
      const rolledBack = await condition(() => host.rollingBack, waitMs, {
        summary: `change window: ${what} at ${check.opensAtText ?? 'a later check'}`,
      });
      if (rolledBack) return;
    }
  }

  /** A continued run keeps the timer of the window's close (`pause`) its predecessor had armed. */
  resumeCloseTimer(): void {
    const window = this.host.status.changeWindow;
    if (window?.state !== 'open' || !window.closesBy || window.onClose !== 'pause') return;
    this.armClose(Math.max(0, Date.parse(window.closesBy) - Date.now()), window.closesAtText ?? 'its end');
  }

  private check(what: string): Promise<ChangeWindowCheck> {
    return local.checkChangeWindow.executeWithOptions({ summary: `change window for ${what}` }, [
      { schedule: this.host.plan.schedule },
    ]);
  }

  /** Puts a wait into the status and returns how long to wait before looking again. */
  private showWaiting(what: string, check: ChangeWindowCheck): number {
    const waitMs = (check.opensInMs ?? NO_OPENING_RECHECK_MS) + OPENING_MARGIN_MS;
    this.host.status.changeWindow = {
      state: 'waiting',
      step: what,
      reason: check.reason,
      frozen: check.frozen,
      opensAtText: check.opensAtText,
      until: new Date(Date.now() + waitMs).toISOString(),
    };
    this.host.refreshDetails();
    return waitMs;
  }

  private opened(what: string, check: ChangeWindowCheck): void {
    const { host } = this;
    const onClose = host.plan.schedule?.onWindowClose;
    host.status.changeWindow =
      host.plan.schedule || check.closesAtText
        ? {
            state: 'open',
            step: what,
            closesAtText: check.closesAtText,
            closesBy:
              check.closesInMs === undefined ? undefined : new Date(Date.now() + check.closesInMs).toISOString(),
            onClose: onClose ?? 'finish-step',
          }
        : undefined;
    host.refreshDetails();
    this.closeTimer?.cancel();
    this.closeTimer = undefined;
    if (onClose === 'pause' && check.closesInMs !== undefined)
      this.armClose(check.closesInMs, check.closesAtText ?? 'its end');
  }

  /** `onWindowClose: pause`: at the window's close, pause the upgrade (as `cutover pause` does) until it opens again. */
  private armClose(inMs: number, closesAtText: string): void {
    const { host } = this;
    const timer = new CancellationScope();
    this.closeTimer = timer;
    void timer
      .run(() => condition(() => host.rollingBack, inMs, { summary: `change window closes ${closesAtText}` }))
      .then(
        (rolledBack) => {
          if (rolledBack || this.closeTimer !== timer) return;
          this.closeTimer = undefined;
          if (FINAL_PHASES.has(host.status.phase) || host.status.phase === 'RETIRING') return;
          if (host.status.paused) {
            host.note(`the change window closed at ${closesAtText}; the upgrade stays paused`);
            return;
          }
          host.status.paused = true;
          host.note(
            `paused: the change window closed at ${closesAtText} (schedule.onWindowClose: pause); the upgrade resumes when it opens again`,
          );
          return this.resumeAtOpening();
        },
        () => undefined,
      )
      .catch((error: unknown) =>
        host.note(
          `the change window could not be checked (${error instanceof Error ? error.message : String(error)}); the upgrade stays paused: resume it by hand`,
        ),
      );
  }

  /** Resumes an upgrade the window's close paused once it opens again; an operator's resume ends the wait first. */
  private async resumeAtOpening(): Promise<void> {
    const { host } = this;
    const what = RESUME;
    for (;;) {
      const check = await this.check(what);
      if (!host.status.paused || host.rollingBack) return this.clearResumeWait();
      if (check.open) {
        host.status.paused = false;
        host.note('resumed: the change window opened');
        this.opened(what, check);
        return;
      }
      const waitMs = this.showWaiting(what, check);
      await condition(() => !host.status.paused || host.rollingBack, waitMs, {
        summary: `change window: resume at ${check.opensAtText ?? 'a later check'}`,
      });
      if (!host.status.paused || host.rollingBack) return this.clearResumeWait();
    }
  }

  /** An operator resumed (or rolled back) before the window opened: the wait for it is over. */
  private clearResumeWait(): void {
    if (this.host.status.changeWindow?.step === RESUME) this.host.status.changeWindow = undefined;
    this.host.refreshDetails();
  }
}
