import { addDays, describeInstant, instantOf, localTimeOf, weekdayOf, type LocalDate } from './zoned-time';

/**
 * Change windows and freezes: when an upgrade may move traffic. A pure function of the schedule and
 * an instant, evaluated by the `checkChangeWindow` activity with the worker's clock and policy.
 */

export const WEEKDAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAY_NAMES)[number];

/** Weekly hours in a time zone; `to` at or before `from` ends the next day (22:00-06:00). */
export interface ChangeWindow {
  /** The days the window opens on (a window wrapping midnight belongs to the day it opens). */
  days: Weekday[];
  /** "HH:MM", local time. */
  from: string;
  /** "HH:MM" (or "24:00"), local time. */
  to: string;
  timeZone: string;
}

/** A time no traffic moves: whole dates (`YYYY-MM-DD`, `to` included) or local times (`YYYY-MM-DDTHH:MM`, `to` excluded). */
export interface Freeze {
  from: string;
  to?: string;
  /** Default: the schedule's own (the plan's first window's zone, the policy's `schedule.timeZone`). */
  timeZone?: string;
  reason?: string;
}

/** A freeze and who declared it, for the reason an upgrade gives. */
export interface SourcedFreeze {
  freeze: Freeze;
  /** `plan` or `worker policy`. */
  source: string;
  /** The zone the freeze's dates are in when it names none. */
  defaultZone: string;
}

export interface WindowVerdict {
  /** True when traffic may move now. */
  open: boolean;
  /** Closed: the next instant it opens (epoch ms); absent when it does not open within HORIZON_DAYS. */
  opensAt?: number;
  /** "Tue 22:00 Europe/Berlin". */
  opensAtText?: string;
  /** Open: the next instant it closes; absent when nothing closes it within HORIZON_DAYS. */
  closesAt?: number;
  closesAtText?: string;
  /** Closed: why ("outside the change window mon,tue 22:00-06:00 Europe/Berlin", "frozen by the worker policy: ..."). */
  reason?: string;
  /** Closed by a freeze (rather than by the windows' hours). */
  frozen?: boolean;
}

/** How far ahead openings and closings are looked for; a schedule that opens later waits this long and looks again. */
export const HORIZON_DAYS = 400;

interface Interval {
  start: number;
  end: number;
  zone: string;
}
interface FreezeInterval extends Interval {
  what: string;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/;

/** Minutes since midnight of "HH:MM" (up to "24:00"). */
export function minutesOf(hhmm: string): number {
  const [hours, minutes] = hhmm.split(':').map(Number);
  return hours * 60 + minutes;
}

/** "mon,tue 22:00-06:00 Europe/Berlin". */
export function describeWindow(window: ChangeWindow): string {
  return `${window.days.join(',')} ${window.from}-${window.to} ${window.timeZone}`;
}

/** Whether traffic may move at `now`, and when that changes next. */
export function evaluateSchedule(windows: ChangeWindow[], freezes: SourcedFreeze[], now: number): WindowVerdict {
  const from = now - 2 * 24 * 3600_000;
  const until = now + HORIZON_DAYS * 24 * 3600_000;
  const open =
    windows.length === 0 ? [{ start: -Infinity, end: Infinity, zone: 'UTC' }] : windowIntervals(windows, from, until);
  const frozen = freezes.map(freezeInterval).filter((freeze) => freeze.end > from && freeze.start < until);
  const isOpen = (instant: number) =>
    open.some((interval) => interval.start <= instant && instant < interval.end) &&
    !frozen.some((freeze) => freeze.start <= instant && instant < freeze.end);

  if (isOpen(now)) {
    const closings = [
      ...open.map((interval) => ({ at: interval.end, zone: interval.zone })),
      ...frozen.map((freeze) => ({ at: freeze.start, zone: freeze.zone })),
    ]
      .filter((boundary) => boundary.at > now && boundary.at < until)
      .sort((a, b) => a.at - b.at);
    const closing = closings.find((boundary) => !isOpen(boundary.at));
    return closing
      ? { open: true, closesAt: closing.at, closesAtText: describeInstant(closing.at, closing.zone, now) }
      : { open: true };
  }

  const freezeNow = frozen.find((freeze) => freeze.start <= now && now < freeze.end);
  const reason = freezeNow
    ? freezeNow.what
    : `outside the change window${windows.length === 1 ? '' : 's'} ${windows.map(describeWindow).join('; ')}`;
  const openings = [
    ...open.map((interval) => ({ at: interval.start, zone: interval.zone })),
    ...frozen.map((freeze) => ({ at: freeze.end, zone: freeze.zone })),
  ]
    .filter((boundary) => boundary.at > now && boundary.at < until)
    .sort((a, b) => a.at - b.at);
  const opening = openings.find((boundary) => isOpen(boundary.at));
  return {
    open: false,
    reason,
    frozen: freezeNow !== undefined,
    ...(opening ? { opensAt: opening.at, opensAtText: describeInstant(opening.at, opening.zone, now) } : {}),
  };
}

/** Every opening of every window between `from` and `until`, as instants. */
function windowIntervals(windows: ChangeWindow[], from: number, until: number): Interval[] {
  const intervals: Interval[] = [];
  for (const window of windows) {
    const days = new Set(window.days.map((day) => WEEKDAY_NAMES.indexOf(day)));
    const start = minutesOf(window.from);
    const end = minutesOf(window.to);
    const wraps = end <= start;
    const first = localDateOf(from, window.timeZone);
    const count = Math.ceil((until - from) / (24 * 3600_000)) + 2;
    for (let offset = -1; offset < count; offset++) {
      const date = addDays(first, offset);
      if (!days.has(weekdayOf(date))) continue;
      const opens = instantOf(date, start, window.timeZone);
      const closes = instantOf(wraps ? addDays(date, 1) : date, end, window.timeZone);
      // A window that the clocks' change swallows entirely (e.g. 02:00-02:30 on the spring-forward night) does not open.
      if (closes > opens) intervals.push({ start: opens, end: closes, zone: window.timeZone });
    }
  }
  return intervals;
}

function freezeInterval({ freeze, source, defaultZone }: SourcedFreeze): FreezeInterval {
  const zone = freeze.timeZone ?? defaultZone;
  const start = instantOfStamp(freeze.from, zone, 'start');
  const end = instantOfStamp(freeze.to ?? freeze.from, zone, 'end');
  const span = freeze.to && freeze.to !== freeze.from ? `${freeze.from} to ${freeze.to}` : freeze.from;
  const what = `frozen by the ${source}${freeze.reason ? `: ${freeze.reason}` : ''} (${span} ${zone})`;
  return { start, end, zone, what };
}

/** A freeze bound: a date's start (or, as `end`, the start of the day after it), or a local date and time. */
function instantOfStamp(stamp: string, zone: string, bound: 'start' | 'end'): number {
  const fields = stampFields(stamp);
  if (!fields) throw new Error(`not a date (YYYY-MM-DD) or local time (YYYY-MM-DDTHH:MM): ${stamp}`);
  if (fields.hasTime) return instantOf(fields.date, fields.minutes, zone);
  return instantOf(bound === 'start' ? fields.date : addDays(fields.date, 1), 0, zone);
}

function localDateOf(instant: number, zone: string): LocalDate {
  const { year, month, day } = localTimeOf(instant, zone);
  return { year, month, day };
}

/** A freeze bound's fields: date, and minutes since midnight (0 for a date), or undefined when malformed. */
function stampFields(
  stamp: string,
): { date: LocalDate; hour: number; minute: number; minutes: number; hasTime: boolean } | undefined {
  const match = DATE_TIME.exec(stamp) ?? DATE.exec(stamp);
  if (!match) return undefined;
  const [year, month, day, hour = 0, minute = 0] = match.slice(1).map(Number);
  return { date: { year, month, day }, hour, minute, minutes: hour * 60 + minute, hasTime: match.length > 4 };
}

/** True for `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM` naming a real date (and time). */
export function isFreezeStamp(stamp: string): boolean {
  const fields = stampFields(stamp);
  if (!fields) return false;
  const { year, month, day } = fields.date;
  const date = new Date(Date.UTC(year, month - 1, day));
  return (
    date.getUTCFullYear() === year &&
    date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day &&
    fields.hour < 24 &&
    fields.minute < 60
  );
}

/** Whether a freeze ends after it starts (a date `to` ends with its day); a freeze from a local time needs a `to`. */
export function freezeEndsAfterStart(freeze: Freeze): boolean {
  const from = stampFields(freeze.from);
  if (!from) return false;
  if (freeze.to === undefined) return !from.hasTime;
  const to = stampFields(freeze.to);
  if (!to) return false;
  const wall = (fields: { date: LocalDate; minutes: number }, days: number) =>
    Date.UTC(fields.date.year, fields.date.month - 1, fields.date.day + days) + fields.minutes * 60_000;
  return wall(from, 0) < wall(to, to.hasTime ? 0 : 1);
}
