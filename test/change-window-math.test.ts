import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  evaluateSchedule,
  freezeEndsAfterStart,
  isFreezeStamp,
  type ChangeWindow,
  type SourcedFreeze,
} from '../src/schedule/windows';
import { instantOf } from '../src/schedule/zoned-time';
import { checkPlan } from '../src/plan/problems';
import { PolicyError, validatePolicy } from '../src/policy/load';

const at = (iso: string) => Date.parse(iso);
const iso = (instant: number | undefined) => (instant === undefined ? undefined : new Date(instant).toISOString());
const BERLIN_NIGHTS: ChangeWindow = { days: ['mon'], from: '22:00', to: '06:00', timeZone: 'Europe/Berlin' };
const EVERY_DAY = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as ChangeWindow['days'];

describe('change windows: the math of when traffic may move', () => {
  it('a window wrapping midnight opens on its day and closes the next morning', () => {
    // Mon 2 June 2025, 21:00 in Berlin (CEST, UTC+2): an hour before the window.
    const before = evaluateSchedule([BERLIN_NIGHTS], [], at('2025-06-02T19:00:00Z'));
    assert.equal(before.open, false);
    assert.equal(iso(before.opensAt), '2025-06-02T20:00:00.000Z');
    assert.equal(before.opensAtText, 'Mon 22:00 Europe/Berlin');
    assert.match(before.reason ?? '', /outside the change window mon 22:00-06:00 Europe\/Berlin/);

    // Tue 03:00 in Berlin: inside Monday's window, which closes at 06:00.
    const inside = evaluateSchedule([BERLIN_NIGHTS], [], at('2025-06-03T01:00:00Z'));
    assert.equal(inside.open, true);
    assert.equal(iso(inside.closesAt), '2025-06-03T04:00:00.000Z');
    assert.equal(inside.closesAtText, 'Tue 06:00 Europe/Berlin');

    // Tue 23:00: Tuesday has no window; the next one is Monday's.
    const tuesday = evaluateSchedule([BERLIN_NIGHTS], [], at('2025-06-03T21:00:00Z'));
    assert.equal(tuesday.open, false);
    assert.equal(iso(tuesday.opensAt), '2025-06-09T20:00:00.000Z');
  });

  it('spring forward: a night window is an hour shorter, a start the clocks skip opens after the gap', () => {
    // Europe/Berlin skips 02:00-03:00 on Sunday 30 March 2025 (UTC+1 -> UTC+2).
    const nights: ChangeWindow = { days: ['sat'], from: '22:00', to: '06:00', timeZone: 'Europe/Berlin' };
    const night = evaluateSchedule([nights], [], at('2025-03-29T20:00:00Z'));
    assert.equal(iso(night.opensAt), '2025-03-29T21:00:00.000Z', 'opens 22:00 CET');
    const inside = evaluateSchedule([nights], [], at('2025-03-29T23:00:00Z'));
    assert.equal(iso(inside.closesAt), '2025-03-30T04:00:00.000Z', 'closes 06:00 CEST: 7 hours, not 8');

    const skipped: ChangeWindow = { days: ['sun'], from: '02:30', to: '05:00', timeZone: 'Europe/Berlin' };
    const gap = evaluateSchedule([skipped], [], at('2025-03-29T23:00:00Z'));
    assert.equal(iso(gap.opensAt), '2025-03-30T01:30:00.000Z', '02:30 does not exist that night: 03:30 CEST');
    assert.equal(
      instantOf({ year: 2025, month: 3, day: 30 }, 2 * 60 + 30, 'Europe/Berlin'),
      at('2025-03-30T01:30:00Z'),
    );
  });

  it('fall back: a night window is an hour longer, a time shown twice is its first occurrence', () => {
    // Europe/Berlin shows 02:00-03:00 twice on Sunday 26 October 2025 (UTC+2 -> UTC+1).
    const nights: ChangeWindow = { days: ['sat'], from: '22:00', to: '06:00', timeZone: 'Europe/Berlin' };
    const inside = evaluateSchedule([nights], [], at('2025-10-25T21:00:00Z'));
    assert.equal(inside.open, true);
    assert.equal(iso(inside.closesAt), '2025-10-26T05:00:00.000Z', 'closes 06:00 CET: 9 hours');
    assert.equal(
      instantOf({ year: 2025, month: 10, day: 26 }, 2 * 60 + 30, 'Europe/Berlin'),
      at('2025-10-26T00:30:00Z'),
    );
  });

  it('office hours keep their local time across a DST change in another zone (America/New_York)', () => {
    const office: ChangeWindow = { days: ['mon', 'fri'], from: '09:00', to: '17:00', timeZone: 'America/New_York' };
    // Friday 7 March 2025 is EST (UTC-5); Monday 10 March is EDT (UTC-4).
    const friday = evaluateSchedule([office], [], at('2025-03-07T12:00:00Z'));
    assert.equal(iso(friday.opensAt), '2025-03-07T14:00:00.000Z');
    const afterFriday = evaluateSchedule([office], [], at('2025-03-07T23:00:00Z'));
    assert.equal(iso(afterFriday.opensAt), '2025-03-10T13:00:00.000Z');
    assert.equal(afterFriday.opensAtText, 'Mon 09:00 America/New_York');
  });

  it('adjacent windows make one opening; no windows means always open', () => {
    const late: ChangeWindow = { days: ['mon'], from: '20:00', to: '24:00', timeZone: 'UTC' };
    const early: ChangeWindow = { days: ['tue'], from: '00:00', to: '03:00', timeZone: 'UTC' };
    const verdict = evaluateSchedule([late, early], [], at('2025-06-02T21:00:00Z'));
    assert.equal(iso(verdict.closesAt), '2025-06-03T03:00:00.000Z');
    assert.deepEqual(evaluateSchedule([], [], at('2025-06-02T21:00:00Z')), { open: true });
  });

  it('a freeze closes an open window, says why, and the next opening is the first open minute after it', () => {
    const nights: ChangeWindow = { days: EVERY_DAY, from: '22:00', to: '06:00', timeZone: 'Europe/Berlin' };
    const freeze: SourcedFreeze = {
      freeze: { from: '2025-12-24', to: '2025-12-26', reason: 'holidays' },
      source: 'plan',
      defaultZone: 'Europe/Berlin',
    };
    // Tue 23 Dec 23:00 CET: inside the night window, which the freeze cuts at midnight.
    const before = evaluateSchedule([nights], [freeze], at('2025-12-23T22:00:00Z'));
    assert.equal(before.open, true);
    assert.equal(iso(before.closesAt), '2025-12-23T23:00:00.000Z');
    // Wed 24 Dec 23:00: frozen; it opens when the freeze ends (27 Dec 00:00), inside Friday's night window.
    const during = evaluateSchedule([nights], [freeze], at('2025-12-24T22:00:00Z'));
    assert.equal(during.open, false);
    assert.equal(during.frozen, true);
    assert.equal(during.reason, 'frozen by the plan: holidays (2025-12-24 to 2025-12-26 Europe/Berlin)');
    assert.equal(iso(during.opensAt), '2025-12-26T23:00:00.000Z');
    assert.equal(during.opensAtText, 'Sat 00:00 Europe/Berlin');
  });

  it('a policy freeze of local times, without windows', () => {
    const freeze: SourcedFreeze = {
      freeze: { from: '2025-06-02T14:00', to: '2025-06-02T18:30', timeZone: 'Asia/Kolkata', reason: 'quarter close' },
      source: 'worker policy',
      defaultZone: 'UTC',
    };
    const during = evaluateSchedule([], [freeze], at('2025-06-02T10:00:00Z'));
    assert.equal(during.open, false);
    assert.match(during.reason ?? '', /^frozen by the worker policy: quarter close/);
    assert.equal(iso(during.opensAt), '2025-06-02T13:00:00.000Z', '18:30 IST is 13:00 UTC');
    const before = evaluateSchedule([], [freeze], at('2025-06-02T08:00:00Z'));
    assert.equal(iso(before.closesAt), '2025-06-02T08:30:00.000Z');
  });

  it('freeze stamps: real dates and times only, ending after they start', () => {
    assert.ok(isFreezeStamp('2025-12-24'));
    assert.ok(isFreezeStamp('2025-12-24T23:59'));
    assert.ok(!isFreezeStamp('2025-02-30'));
    assert.ok(!isFreezeStamp('2025-12-24T24:00'));
    assert.ok(!isFreezeStamp('2025-12-24T10:60'));
    assert.ok(!isFreezeStamp('24.12.2025'));
    assert.ok(freezeEndsAfterStart({ from: '2025-12-24' }));
    assert.ok(freezeEndsAfterStart({ from: '2025-12-24', to: '2025-12-24' }));
    assert.ok(freezeEndsAfterStart({ from: '2025-12-24T10:00', to: '2025-12-24' }));
    assert.ok(!freezeEndsAfterStart({ from: '2025-12-24T10:00' }));
    assert.ok(!freezeEndsAfterStart({ from: '2025-12-24T10:00', to: '2025-12-24T10:00' }));
    assert.ok(!freezeEndsAfterStart({ from: '2025-12-25', to: '2025-12-24' }));
  });

  it('plan validation: a schedule is checked field by field, with its defaults filled', () => {
    const plan = (schedule: unknown) =>
      checkPlan({
        gateway: { url: 'https://gw.example.com' },
        routingGroup: 'adhoc',
        green: { name: 'trino-green', version: '480', provisioner: { type: 'sandbox' } },
        schedule,
      });
    const good = plan({ windows: [BERLIN_NIGHTS], freeze: ['2025-12-24'] });
    assert.ok(good.ok);
    assert.deepEqual(good.plan.schedule, {
      windows: [BERLIN_NIGHTS],
      freeze: [{ from: '2025-12-24' }],
      onWindowClose: 'finish-step',
    });
    const bad = plan({
      windows: [{ days: ['mon', 'someday'], from: '22:00', to: '22:00', timeZone: 'Europe/Atlantis' }],
      freeze: ['2025-02-30', { from: '2025-12-24T10:00' }, { from: '2025-12-25', to: '2025-12-24' }],
      onWindowClose: 'stop',
    });
    assert.ok(!bad.ok);
    assert.deepEqual(bad.problems, [
      'schedule.windows[0].days[1]: must be one of sun, mon, tue, wed, thu, fri, sat',
      'schedule.windows[0].timeZone: must be an IANA time zone such as "Europe/Berlin" or "UTC"',
      'schedule.freeze[0].from: must be a date "YYYY-MM-DD" or a local time "YYYY-MM-DDTHH:MM"',
      'schedule.freeze[1]: must end after it starts (a range from a local time "YYYY-MM-DDTHH:MM" needs a "to")',
      'schedule.freeze[2]: must end after it starts (a range from a local time "YYYY-MM-DDTHH:MM" needs a "to")',
      'schedule.onWindowClose: must be "finish-step" or "pause"',
    ]);
    const zeroLength = plan({ windows: [{ ...BERLIN_NIGHTS, to: '22:00' }] });
    assert.ok(!zeroLength.ok);
    assert.deepEqual(zeroLength.problems, [
      'schedule.windows[0].to: from and to are the same time: a window needs a length (all day is "00:00" to "24:00")',
    ]);
    const empty = plan({});
    assert.ok(!empty.ok && /^schedule: must give windows, freeze, or both/.test(empty.problems[0]));
  });

  it('policy validation: freezes in the policy zone (UTC unless it says)', () => {
    const base = { gateways: ['https://gw.example.com'] };
    assert.deepEqual(validatePolicy(base).schedule, { timeZone: 'UTC', freeze: [] });
    assert.deepEqual(
      validatePolicy({ ...base, schedule: { timeZone: 'Europe/Berlin', freeze: ['2025-12-24'] } }).schedule,
      { timeZone: 'Europe/Berlin', freeze: [{ from: '2025-12-24' }] },
    );
    assert.throws(
      () => validatePolicy({ ...base, schedule: { freeze: [{ from: '2025-12-24', windows: [] }] } }),
      (error: unknown) => error instanceof PolicyError && /schedule\.freeze\[0\]/.test(error.message),
    );
  });
});
