import { ApplicationFailure } from '@temporalio/activity';
import type { PlanSchedule } from '../schedule/schema';
import { evaluateSchedule, type SourcedFreeze } from '../schedule/windows';
import type { ActivityDeps } from './types';

export interface CheckChangeWindowInput {
  /** The plan's schedule (absent: any time, unless the worker policy freezes it). */
  schedule?: PlanSchedule;
}

/** Whether traffic may move now; instants are the worker's clock, durations count from the check. */
export interface ChangeWindowCheck {
  open: boolean;
  /** The worker's clock at the check (ISO). */
  checkedAt: string;
  /** Closed: how long from the check until it opens (absent: not within a year; look again later). */
  opensInMs?: number;
  opensAt?: string;
  /** "Tue 22:00 Europe/Berlin". */
  opensAtText?: string;
  /** Open: how long from the check until it closes (absent: nothing closes it within a year). */
  closesInMs?: number;
  closesAt?: string;
  closesAtText?: string;
  /** Closed: why ("outside the change window ...", "frozen by the worker policy: ..."). */
  reason?: string;
  frozen?: boolean;
}

/** The change window check, run right before each step that moves traffic or retires blue. */
export function changeWindowActivities(deps: ActivityDeps) {
  return {
    /**
     * Judges the plan's windows and freezes together with the freezes of the worker policy in force
     * (read now, so a freeze added to a running worker's policy applies to the next step).
     */
    async checkChangeWindow(input: CheckChangeWindowInput): Promise<ChangeWindowCheck> {
      const now = deps.now?.() ?? Date.now();
      const schedule = input.schedule;
      const planZone = schedule?.windows[0]?.timeZone ?? 'UTC';
      const policy = deps.policy()?.schedule;
      const freezes: SourcedFreeze[] = [
        ...(schedule?.freeze ?? []).map((freeze) => ({ freeze, source: 'plan', defaultZone: planZone })),
        ...(policy?.freeze ?? []).map((freeze) => ({
          freeze,
          source: 'worker policy',
          defaultZone: policy?.timeZone ?? 'UTC',
        })),
      ];
      let verdict;
      try {
        verdict = evaluateSchedule(schedule?.windows ?? [], freezes, now);
      } catch (error) {
        // A zone this worker's Intl data lacks: nothing can be judged, so nothing moves.
        throw ApplicationFailure.nonRetryable(
          `the change window cannot be judged on this worker: ${error instanceof Error ? error.message : String(error)}`,
          'ScheduleUnreadable',
        );
      }
      const iso = (instant: number | undefined) =>
        instant === undefined ? undefined : new Date(instant).toISOString();
      return {
        open: verdict.open,
        checkedAt: new Date(now).toISOString(),
        opensInMs: verdict.opensAt === undefined ? undefined : verdict.opensAt - now,
        opensAt: iso(verdict.opensAt),
        opensAtText: verdict.opensAtText,
        closesInMs: verdict.closesAt === undefined ? undefined : verdict.closesAt - now,
        closesAt: iso(verdict.closesAt),
        closesAtText: verdict.closesAtText,
        reason: verdict.reason,
        frozen: verdict.frozen,
      };
    },
  };
}
