/**
 * Wall-clock time in IANA time zones through the platform's Intl data (no library): what a local
 * date and time in a zone is as an instant, and back. Used by activities only, never by workflows.
 */

/** A local calendar date: year, month 1-12, day 1-31. */
export interface LocalDate {
  year: number;
  month: number;
  day: number;
}

/** Local wall-clock fields of an instant in a zone. */
export interface LocalTime extends LocalDate {
  hour: number;
  minute: number;
  /** 0 = Sunday ... 6 = Saturday. */
  weekday: number;
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const formats = new Map<string, Intl.DateTimeFormat>();

function formatOf(timeZone: string): Intl.DateTimeFormat {
  let format = formats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'short',
    });
    formats.set(timeZone, format);
  }
  return format;
}

/** True when the platform knows `timeZone` (an IANA name such as "Europe/Berlin", or "UTC"). */
export function isTimeZone(timeZone: string): boolean {
  try {
    formatOf(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The wall clock of `instant` (epoch ms) in `timeZone`. */
export function localTimeOf(instant: number, timeZone: string): LocalTime & { second: number } {
  const parts: Record<string, string> = {};
  for (const part of formatOf(timeZone).formatToParts(new Date(instant))) parts[part.type] = part.value;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
    weekday: WEEKDAYS.indexOf(parts.weekday),
  };
}

/** How far `timeZone`'s wall clock is ahead of UTC at `instant`, in ms (Europe/Berlin in summer: +2 h). */
function offsetAt(instant: number, timeZone: string): number {
  const local = localTimeOf(instant, timeZone);
  const asUtc = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute, local.second);
  return asUtc - Math.floor(instant / 1000) * 1000;
}

/**
 * The instant a local date and time (minutes since midnight, up to 24:00) has in `timeZone`. A time
 * the clocks skip (spring forward) moves forward by the gap (02:30 becomes 03:30), a time they show
 * twice (fall back) is its first occurrence, as calendar software does.
 */
export function instantOf(date: LocalDate, minutes: number, timeZone: string): number {
  const wall = Date.UTC(date.year, date.month - 1, date.day) + minutes * 60_000;
  // The offsets a few hours either side of the wall time bracket any transition near it.
  const before = offsetAt(wall - 12 * 3600_000, timeZone);
  const after = offsetAt(wall + 12 * 3600_000, timeZone);
  const candidates = [wall - before, wall - after].filter((instant) => wallOf(instant, timeZone) === wall);
  if (candidates.length > 0) return Math.min(...candidates);
  // Skipped by the clocks: the wall time with the offset from before the gap lands after it.
  return wall - before;
}

/** The wall time of `instant` in `timeZone`, as if that wall clock were UTC (epoch ms, whole minutes). */
function wallOf(instant: number, timeZone: string): number {
  const local = localTimeOf(instant, timeZone);
  return Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute);
}

/** The local date `days` after `date` (negative: before). */
export function addDays(date: LocalDate, days: number): LocalDate {
  const moved = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: moved.getUTCFullYear(), month: moved.getUTCMonth() + 1, day: moved.getUTCDate() };
}

/** The weekday of a local date: 0 = Sunday ... 6 = Saturday. */
export function weekdayOf(date: LocalDate): number {
  return new Date(Date.UTC(date.year, date.month - 1, date.day)).getUTCDay();
}

/** "Tue 22:00 Europe/Berlin", with the date when it is not within the next 6 days ("Tue 2025-12-30 22:00 Europe/Berlin"). */
export function describeInstant(instant: number, timeZone: string, now: number): string {
  const local = localTimeOf(instant, timeZone);
  const hhmm = `${pad(local.hour)}:${pad(local.minute)}`;
  const date = `${local.year}-${pad(local.month)}-${pad(local.day)}`;
  const soon = instant - now < 6 * 24 * 3600_000;
  return `${WEEKDAYS[local.weekday]} ${soon ? '' : `${date} `}${hhmm} ${timeZone}`;
}

function pad(value: number): string {
  return String(value).padStart(2, '0');
}
