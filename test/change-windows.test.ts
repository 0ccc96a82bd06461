import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { renderView } from '../src/client/commands/status';
import { readUpgrade } from '../src/client/commands/upgrade-handle';
import { startUpgrade } from '../src/client/upgrades';
import { waitForStatus } from '../src/devserver/wait';
import type { Overrides } from '../src/plan/merge';
import type { UpgradePlan } from '../src/plan/schema';
import { validatePolicy } from '../src/policy/load';
import type { WorkerPolicy } from '../src/policy/schema';
import type { SandboxFleet } from '../src/sandbox/fleet';
import { approveUpdate, rollbackUpdate, type UpgradeStatus } from '../src/workflows/messages';
import { gatewayBackends } from './support/faults';
import { assertJournal, journalMark } from './support/journal';
import { fastPlan } from './support/plans';
import { TEST_POLICY, TEST_POLICY_INPUT } from './support/policy';
import { assertReplays } from './support/temporal';
import { useTestbed } from './support/testbed';

/**
 * Change windows on a real dev server. The worker judges windows by its own clock (ActivityDeps.now),
 * which these tests set to a chosen wall time (a Tuesday evening in Berlin, 2025-06-03, CEST = UTC+2)
 * so that a window opens seconds from now; the workflow's timers run on the server's real clock.
 */
describe('change windows: traffic moves only inside the window, on durable timers', () => {
  let offsetMs = 0;
  /** Set by a test: the next checks of the window find the worker's clock at these instants (epoch ms; undefined: as it runs). */
  let scriptedChecks: (number | undefined)[] = [];
  let policy: WorkerPolicy = TEST_POLICY;
  const workerClock = () => {
    const setTo = scriptedChecks.shift();
    if (setTo !== undefined) offsetMs = setTo - Date.now();
    return Date.now() + offsetMs;
  };
  const testbed = useTestbed({}, { now: workerClock, policy: () => policy });

  /** Sets the worker's clock to `iso` now. */
  function setWorkerClock(iso: string): void {
    offsetMs = Date.parse(iso) - Date.now();
  }

  /** The real time at which the worker's clock shows `iso`. */
  function realTimeOf(iso: string): number {
    return Date.parse(iso) - offsetMs;
  }

  const BERLIN_EVENING = { days: ['tue'], from: '22:00', to: '23:00', timeZone: 'Europe/Berlin' };

  function start(plan: UpgradePlan) {
    return startUpgrade(testbed.env.client, plan, { startedBy: 'test' });
  }

  function plan(fleet: SandboxFleet, group: string, overrides: Overrides): UpgradePlan {
    return fastPlan(fleet.gatewayUrl, group, { approval: { required: false }, ...overrides });
  }

  /** When the gateway activated `name` (epoch ms), from the sandbox journal. */
  function activatedAt(fleet: SandboxFleet, name: string, since: number): number | undefined {
    return fleet.journal(since).find((entry) => entry.kind === 'backend.activated' && entry.name === name)?.at;
  }

  /** How many window checks (local activities: one marker each) the run made, and how many timers it started to wait for a window. */
  async function windowCommandsOf(handle: WorkflowHandle): Promise<{ checks: number; timers: number }> {
    const events = (await handle.fetchHistory()).events ?? [];
    const text = (data: Uint8Array | null | undefined) => (data ? Buffer.from(data).toString() : '');
    const isCheck = (event: (typeof events)[number]) =>
      Object.values(event.markerRecordedEventAttributes?.details ?? {}).some((payloads) =>
        (payloads.payloads ?? []).some((payload) => text(payload.data).includes('"checkChangeWindow"')),
      );
    return {
      checks: events.filter(isCheck).length,
      timers: events.filter(
        (event) =>
          event.timerStartedEventAttributes &&
          (JSON.parse(text(event.userMetadata?.summary?.data) || '""') as string).startsWith('change window: '),
      ).length,
    };
  }

  it('a window closed now holds the flip, says until when, and the flip happens when it opens', async () => {
    const group = 'cwhold';
    const fleet = await testbed.fleetWithBlue(group);
    const since = await journalMark();
    setWorkerClock('2025-06-03T19:59:30Z'); // 21:59:30 in Berlin
    const opening = realTimeOf('2025-06-03T20:00:00Z');
    const handle = await start(plan(fleet, group, { schedule: { windows: [BERLIN_EVENING] } }));

    const waiting = await waitForStatus(handle, (s) => s.changeWindow?.state === 'waiting', 'the flip to wait', 25_000);
    assert.equal(waiting.step.description, `shift 100% to ${group}-green`);
    assert.equal(waiting.phase, 'SHIFTING');
    assert.equal(waiting.trafficPercent, 0);
    assert.equal(waiting.changeWindow?.opensAtText, 'Tue 22:00 Europe/Berlin');
    assert.equal(waiting.changeWindow?.reason, 'outside the change window tue 22:00-23:00 Europe/Berlin');
    assert.deepEqual(
      await gatewayBackends(fleet),
      [
        [`${group}-blue`, true],
        [`${group}-green`, false],
      ],
      'blue serves while the flip waits',
    );
    const status = renderView(await readUpgrade(testbed.env.client, handle.workflowId, 5_000)).join('\n');
    assert.match(
      status,
      /window: {4}waiting for the change window: shift 100% to cwhold-green opens Tue 22:00 Europe\/Berlin \(in \d+ s\); outside the change window tue 22:00-23:00 Europe\/Berlin/,
    );
    const details = await handle.query<{ currentDetails: string }>('__temporal_workflow_metadata');
    assert.match(
      details.currentDetails,
      /\*\*Waiting for the change window:\*\* shift 100% to cwhold-green opens Tue 22:00 Europe\/Berlin \(\d{4}-\d\d-\d\d \d\d:\d\d UTC\); outside/,
    );

    const result = await handle.result();
    assert.equal(result.outcome, 'SUCCEEDED');
    const flippedAt = activatedAt(fleet, `${group}-green`, since);
    assert.ok(flippedAt !== undefined && flippedAt >= opening, `green was activated at the opening, not before`);
    assert.ok(
      flippedAt < opening + 15_000,
      `green was activated within 15 s of the opening (${flippedAt - opening} ms)`,
    );
    assertJournal(fleet.journal(since), { alwaysServed: group });
    assert.ok(
      result.status.timeline.some((entry) => /^waiting for the change window: shift 100%/.test(entry.message)),
      'the timeline says what waited',
    );
    // One check and one timer for the wait, one check at the opening, one before the retire.
    assert.deepEqual(await windowCommandsOf(handle), { checks: 3, timers: 1 });
    await assertReplays(handle);
  });

  it('an upgrade without a schedule asks the worker before each traffic step and goes on at once', async () => {
    const group = 'cwnone';
    const fleet = await testbed.fleetWithBlue(group);
    setWorkerClock('2025-06-03T10:00:00Z');
    const handle = await start(plan(fleet, group, {}));
    const result = await handle.result();
    assert.equal(result.outcome, 'SUCCEEDED');
    assert.equal(result.status.changeWindow, undefined, 'no window to show');
    // The flip and the retire: one check each (the policy could freeze them), no wait.
    assert.deepEqual(await windowCommandsOf(handle), { checks: 2, timers: 0 });
    await assertReplays(handle);
  });

  it('a freeze refuses to move traffic: the flip waits, saying why, until rolled back', async () => {
    const group = 'cwfreeze';
    const fleet = await testbed.fleetWithBlue(group);
    setWorkerClock('2025-06-03T10:00:00Z');
    const handle = await start(
      plan(fleet, group, {
        schedule: { freeze: [{ from: '2025-06-03', timeZone: 'Europe/Berlin', reason: 'quarter close' }] },
      }),
    );
    const waiting = await waitForStatus(handle, (s) => s.changeWindow?.state === 'waiting', 'the flip to wait', 15_000);
    assert.equal(waiting.changeWindow?.frozen, true);
    assert.equal(waiting.changeWindow?.reason, 'frozen by the plan: quarter close (2025-06-03 Europe/Berlin)');
    assert.equal(waiting.changeWindow?.opensAtText, 'Wed 00:00 Europe/Berlin');
    assert.equal(waiting.trafficPercent, 0);

    await handle.executeUpdate(rollbackUpdate, { args: [{ by: 'carol', reason: 'not this quarter' }] });
    const result = await handle.result();
    assert.equal(result.outcome, 'ROLLED_BACK');
    assert.deepEqual(await gatewayBackends(fleet), [[`${group}-blue`, true]], 'blue alone serves; green is gone');
    assert.equal(activatedAt(fleet, `${group}-green`, 0), undefined, 'green never took traffic');
    assert.equal(result.status.changeWindow, undefined, 'nothing waits any more');
    // The 14-hour wait is one check and one timer.
    assert.deepEqual(await windowCommandsOf(handle), { checks: 1, timers: 1 });
    await assertReplays(handle);
  });

  it('approve during a closed window is accepted at once and the flip applies at the opening', async () => {
    const group = 'cwapprove';
    const fleet = await testbed.fleetWithBlue(group);
    const since = await journalMark();
    setWorkerClock('2025-06-03T19:59:20Z');
    const opening = realTimeOf('2025-06-03T20:00:00Z');
    const handle = await start(
      fastPlan(fleet.gatewayUrl, group, { approval: { required: true }, schedule: { windows: [BERLIN_EVENING] } }),
    );
    await waitForStatus(handle, (s) => s.awaitingApproval, 'the approval gate', 30_000);
    assert.ok(Date.now() < opening - 5_000, 'the gate opened well before the window');
    const ack = await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] });
    assert.match(ack.message, /approved by alice/);
    const waiting = await waitForStatus(handle, (s) => s.changeWindow?.state === 'waiting', 'the flip to wait', 10_000);
    assert.ok(
      waiting.timeline.some((entry) => entry.message === 'approved by alice'),
      'the approval is recorded',
    );
    assert.equal(waiting.awaitingApproval, false);

    const result = await handle.result();
    assert.equal(result.outcome, 'SUCCEEDED');
    const flippedAt = activatedAt(fleet, `${group}-green`, since);
    assert.ok(flippedAt !== undefined && flippedAt >= opening, 'the flip waited for the opening');
    assert.ok(flippedAt < opening + 15_000, `and came with it (${flippedAt - opening} ms after)`);
    await assertReplays(handle);
  });

  it('a freeze added to the worker policy while an upgrade waits applies when its timer fires: still frozen, wait again', async () => {
    const group = 'cwpolicy';
    const fleet = await testbed.fleetWithBlue(group);
    const since = await journalMark();
    // 19:59:30 UTC: the plan's window (UTC, from 20:00) opens in 30 s; the policy will freeze 20:00-20:01.
    setWorkerClock('2025-06-03T19:59:30Z');
    try {
      const handle = await start(
        plan(fleet, group, {
          schedule: { windows: [{ days: ['tue'], from: '20:00', to: '23:00', timeZone: 'UTC' }] },
        }),
      );
      await waitForStatus(handle, (s) => s.changeWindow?.state === 'waiting', 'the flip to wait', 25_000);
      policy = validatePolicy(
        {
          ...TEST_POLICY_INPUT,
          schedule: { freeze: [{ from: '2025-06-03T20:00', to: '2025-06-03T20:01', reason: 'incident 4711' }] },
        },
        'test policy',
      );
      // The worker's clock jumps 45 s, so that the check at the opening finds 14 s of the freeze left, not 59.
      offsetMs += 45_000;
      const freezeEnds = realTimeOf('2025-06-03T20:01:00Z');
      const frozen = await waitForStatus(
        handle,
        (s) => s.changeWindow?.frozen === true,
        'the check at the opening to find the freeze',
        // The timer runs up to 30 s plus a 1 s margin: on an idle machine the flip waits almost all of
        // it (seen in CI: "in 31 s" against a 30 s wait here).
        45_000,
      );
      assert.equal(
        frozen.changeWindow?.reason,
        'frozen by the worker policy: incident 4711 (2025-06-03T20:00 to 2025-06-03T20:01 UTC)',
      );
      assert.equal(frozen.changeWindow?.opensAtText, 'Tue 20:01 UTC');
      assert.equal(frozen.trafficPercent, 0);

      const result = await handle.result();
      assert.equal(result.outcome, 'SUCCEEDED');
      const flippedAt = activatedAt(fleet, `${group}-green`, since);
      assert.ok(flippedAt !== undefined && flippedAt >= freezeEnds, 'the flip waited for the end of the freeze');
      assert.ok(flippedAt < freezeEnds + 15_000, `and came with it (${flippedAt - freezeEnds} ms after)`);
      // Closed, still frozen at the opening, open: three checks and two timers for the flip; one check before the retire.
      assert.deepEqual(await windowCommandsOf(handle), { checks: 4, timers: 2 });
      await assertReplays(handle);
    } finally {
      policy = TEST_POLICY;
    }
  });

  /** A canary of three traffic steps, each made to wait `waitMs` for the window by moving the worker's clock back before it. */
  async function canaryThroughThreeWindows(
    group: string,
    waitMs: number,
  ): Promise<{ events: number; status: UpgradeStatus }> {
    const fleet = await testbed.canaryFleetWithBlue(group);
    // Each shift's first check finds the worker's clock `waitMs` before Tuesday's window, its second (after the
    // timer) the window open: each of the three waits exactly that long.
    const beforeOpening = Date.parse('2025-06-03T20:00:00Z') - waitMs;
    scriptedChecks = [beforeOpening, undefined, beforeOpening, undefined, beforeOpening];
    const handle = await start(
      plan(fleet, group, {
        strategy: 'canary',
        bake: '1500ms',
        retire: { keepBlueFor: '0s' },
        canary: {
          traffic: 'routing-rule',
          rulesRefresh: '200ms',
          steps: [{ weight: 10 }, { weight: 50 }, { weight: 100 }],
          analysis: { interval: '300ms' },
        },
        schedule: { windows: [BERLIN_EVENING] },
      }),
    );
    const result = await handle.result();
    assert.equal(result.outcome, 'SUCCEEDED');
    const waits = result.status.timeline.filter((entry) => /^waiting for the change window: shift/.test(entry.message));
    assert.equal(waits.length, 3, 'each of the three traffic steps waited for the window');
    await assertReplays(handle);
    return { events: (await handle.fetchHistory()).events?.length ?? 0, status: result.status };
  }

  it('an upgrade that waits through 3 windows has a flat history: the same events for 2 s and 8 s waits', async () => {
    const short = await canaryThroughThreeWindows('cwflat2', 2_000);
    const long = await canaryThroughThreeWindows('cwflat8', 8_000);
    process.stderr.write(
      `history events of a canary that waited through 3 windows: ${short.events} (2 s waits), ${long.events} (8 s waits)\n`,
    );
    assert.equal(long.events, short.events, 'the history does not grow with the wait');
  });

  it('onWindowClose: pause pauses a canary bake when the window closes and resumes it when the window opens', async () => {
    const group = 'cwpause';
    const fleet = await testbed.canaryFleetWithBlue(group);
    // 22:00:30 in Berlin: the first window closes at 22:01, the next opens at 22:02. The check at the close
    // finds the worker's clock at 22:01:50, so that the pause lasts 10 s rather than a minute.
    setWorkerClock('2025-06-03T20:00:30Z');
    const closing = realTimeOf('2025-06-03T20:01:00Z');
    scriptedChecks = [undefined, Date.parse('2025-06-03T20:01:50Z')];
    const handle = await start(
      plan(fleet, group, {
        strategy: 'canary',
        retire: { keepBlueFor: '0s' },
        canary: {
          traffic: 'routing-rule',
          rulesRefresh: '200ms',
          steps: [
            { weight: 50, bake: '40s' },
            { weight: 100, bake: '1s' },
          ],
          analysis: { interval: '300ms' },
        },
        schedule: {
          windows: [
            { days: ['tue'], from: '22:00', to: '22:01', timeZone: 'Europe/Berlin' },
            { days: ['tue'], from: '22:02', to: '23:00', timeZone: 'Europe/Berlin' },
          ],
          onWindowClose: 'pause',
        },
      }),
    );
    const paused = await waitForStatus(
      handle,
      (s) => s.paused && s.changeWindow?.state === 'waiting',
      'the pause at the close',
      60_000,
    );
    assert.ok(Date.now() >= closing, 'paused at the close, not before');
    assert.equal(paused.trafficPercent, 50);
    assert.equal(paused.changeWindow?.state, 'waiting');
    assert.equal(paused.changeWindow?.opensAtText, 'Tue 22:02 Europe/Berlin');
    assert.ok(
      paused.timeline.some((entry) =>
        /^paused: the change window closed at Tue 22:01 Europe\/Berlin/.test(entry.message),
      ),
      'the timeline says why it paused',
    );
    const reopening = realTimeOf('2025-06-03T20:02:00Z');
    const resumed = await waitForStatus(handle, (s) => !s.paused, 'the resume at the opening', 60_000);
    assert.ok(Date.now() >= reopening, 'resumed at the opening, not before');
    assert.ok(resumed.timeline.some((entry) => entry.message === 'resumed: the change window opened'));
    const result = await handle.result();
    assert.equal(result.outcome, 'SUCCEEDED');
    assert.ok(
      result.status.timeline.some((entry) => /^bake of 40s at 50% passed/.test(entry.message)),
      'the bake finished its 40 s after the pause',
    );
    await assertReplays(handle);
  });
});
