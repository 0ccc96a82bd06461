import { z } from 'zod';
import { freezeEndsAfterStart, isFreezeStamp, minutesOf, WEEKDAY_NAMES } from './windows';
import { isTimeZone } from './zoned-time';

/** An IANA time zone the platform knows ("Europe/Berlin", "UTC"). */
export const timeZone = z
  .string({ error: 'must be an IANA time zone such as "Europe/Berlin" or "UTC"' })
  .refine(isTimeZone, { error: 'must be an IANA time zone such as "Europe/Berlin" or "UTC"' });

const clockTime = (upTo: '23:59' | '24:00') =>
  z
    .string({ error: 'must be a local time "HH:MM"' })
    .regex(/^([01]\d|2[0-4]):[0-5]\d$/, { error: 'must be a local time "HH:MM" such as "22:00"' })
    .refine((value) => minutesOf(value) <= minutesOf(upTo), { error: `must be at most ${upTo}` });

/** Weekly hours in a time zone; a window whose `to` is at or before its `from` ends the next day. */
const changeWindow = z
  .strictObject({
    days: z
      .array(z.enum(WEEKDAY_NAMES, { error: `must be one of ${WEEKDAY_NAMES.join(', ')}` }))
      .min(1, { error: 'must name at least one day (mon ... sun)' }),
    from: clockTime('23:59'),
    to: clockTime('24:00'),
    timeZone,
  })
  .refine((window) => window.from !== window.to, {
    error: 'from and to are the same time: a window needs a length (all day is "00:00" to "24:00")',
    path: ['to'],
  });

const stamp = z
  .string({ error: 'must be a date "YYYY-MM-DD" or a local time "YYYY-MM-DDTHH:MM"' })
  .refine(isFreezeStamp, { error: 'must be a date "YYYY-MM-DD" or a local time "YYYY-MM-DDTHH:MM"' });

/** A date (`"2025-12-24"`), or a range with an optional zone and reason; `to` of a date range is included. */
const freeze = z
  .preprocess(
    (value) => (typeof value === 'string' ? { from: value } : value),
    z.strictObject(
      {
        from: stamp,
        to: stamp.optional(),
        timeZone: timeZone.optional(),
        reason: z.string().min(1).max(200).optional(),
      },
      { error: 'must be a date "YYYY-MM-DD" or { from, to?, timeZone?, reason? }' },
    ),
  )
  .refine(freezeEndsAfterStart, {
    error: 'must end after it starts (a range from a local time "YYYY-MM-DDTHH:MM" needs a "to")',
  });

/** A plan's `schedule`: when its traffic may move (README "Change windows"). */
export const planSchedule = z
  .strictObject({
    /** Weekly windows; none: any time outside freezes. */
    windows: z.array(changeWindow).default([]),
    /** Dates (in the first window's zone, else UTC) or ranges no traffic moves in. */
    freeze: z.array(freeze).default([]),
    /** A window that closes while a step runs: `finish-step` starts no further traffic-moving step; `pause` pauses until it opens. */
    onWindowClose: z
      .enum(['finish-step', 'pause'], { error: 'must be "finish-step" or "pause"' })
      .default('finish-step'),
  })
  .refine((schedule) => schedule.windows.length > 0 || schedule.freeze.length > 0, {
    error: 'must give windows, freeze, or both (leave schedule out for upgrades that may move traffic any time)',
  });

/** The worker policy's `schedule`: freezes every upgrade of the worker respects, running ones included. */
export const policySchedule = z
  .strictObject({
    /** The zone of freezes that name none. */
    timeZone: timeZone.default('UTC'),
    freeze: z.array(freeze).default([]),
  })
  .prefault({});

export type PlanSchedule = z.output<typeof planSchedule>;
export type PolicySchedule = z.output<typeof policySchedule>;
