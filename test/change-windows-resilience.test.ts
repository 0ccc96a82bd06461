import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startUpgrade } from '../src/client/upgrades';
import { waitForStatus } from '../src/devserver/wait';
import { WEEKDAY_NAMES } from '../src/schedule/windows';
import { startBlueFleet } from './support/faults';
import { assertJournal, journalMark, upgradedOnce } from './support/journal';
import { fastPlan } from './support/plans';
import { useProcessTestbed } from './support/process-testbed';
import { assertReplays } from './support/temporal';

describe('change windows survive a worker crash: real worker processes on a real Temporal dev server', () => {
  const testbed = useProcessTestbed();

  it('worker killed with SIGKILL while the flip waits for the window: a new worker flips at the opening, once', async () => {
    const group = 'cwkill';
    const fleet = await startBlueFleet(group);
    testbed.onStop(() => fleet.stop());
    // A UTC window opening at the next whole minute at least 25 s away (the worker's own clock: no test seam here).
    const now = Date.now();
    let opening = Math.ceil(now / 60_000) * 60_000;
    if (opening - now < 25_000) opening += 60_000;
    const at = new Date(opening);
    const hhmm = (date: Date) =>
      `${String(date.getUTCHours()).padStart(2, '0')}:${String(date.getUTCMinutes()).padStart(2, '0')}`;
    const window = {
      days: [WEEKDAY_NAMES[at.getUTCDay()]],
      from: hhmm(at),
      to: hhmm(new Date(opening + 30 * 60_000)),
      timeZone: 'UTC',
    };
    const since = await journalMark();
    const handle = await startUpgrade(
      testbed.env.client,
      fastPlan(fleet.gatewayUrl, group, {
        approval: { required: false },
        retire: { keepBlueFor: '0s' },
        schedule: { windows: [window] },
      }),
    );
    const waiting = await waitForStatus(handle, (s) => s.changeWindow?.state === 'waiting', 'the flip to wait', 20_000);
    assert.equal(waiting.changeWindow?.opensAtText?.endsWith(`${window.from} UTC`), true);

    const second = await testbed.replaceWorker('SIGKILL', 3_000);
    const result = await handle.result();
    assert.equal(result.outcome, 'SUCCEEDED', second.output());

    const journal = fleet.journal(since);
    assertJournal(journal, { alwaysServed: group, counts: upgradedOnce(group) });
    const flippedAt = journal.find(
      (entry) => entry.kind === 'backend.activated' && entry.name === `${group}-green`,
    )?.at;
    assert.ok(flippedAt !== undefined && flippedAt >= opening, 'the new worker flipped at the opening, not before');
    assert.ok(flippedAt < opening + 15_000, `and within 15 s of it (${flippedAt - opening} ms after)`);
    // The wait was a durable timer: it fired on the server while no worker of the first kind was left.
    const events = (await handle.fetchHistory()).events ?? [];
    const fired = events.filter((event) => event.timerFiredEventAttributes).length;
    assert.ok(fired >= 1, 'the wait fired as a timer');
    await assertReplays(handle);
  });
});
