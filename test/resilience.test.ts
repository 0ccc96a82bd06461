import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startUpgrade } from '../src/client/upgrades';
import { sleep, untilHealthy, waitForPhase, waitForStatus } from '../src/devserver/wait';
import { TrinoHttpClient } from '../src/integrations/trino/client';
import { startSandboxFleet } from '../src/sandbox/fleet';
import type { UpgradeStatus } from '../src/workflows/messages';
import { inPhase, startBlueFleet } from './support/faults';
import { assertJournal, journalMark, upgradedOnce } from './support/journal';
import { fastPlan } from './support/plans';
import { useProcessTestbed } from './support/process-testbed';
import { assertReplays } from './support/temporal';

describe('durability: real worker processes on a real Temporal dev server', () => {
  const testbed = useProcessTestbed();

  it('worker killed with SIGKILL while draining: a new worker resumes and nothing is provisioned or registered twice', async () => {
    const group = 'sigkill';
    const fleet = await startSandboxFleet({
      healthIntervalMs: 100,
      clusters: [{ name: `${group}-blue`, version: '470', routingGroup: group }],
    });
    testbed.onStop(() => fleet.stop());

    const since = await journalMark();
    // Long queries on blue keep the drain busy while the worker dies.
    const client = new TrinoHttpClient({ url: fleet.gatewayUrl, connections: 4 });
    await untilHealthy(fleet, `${group}-blue`);
    const longQueries = Array.from({ length: 3 }, (_, i) =>
      client.execute('/* sandbox:duration=12s */ SELECT 1', {
        user: `analyst-${i}`,
        headers: { 'X-Trino-Routing-Group': group },
      }),
    );
    const handle = await startUpgrade(
      testbed.env.client,
      fastPlan(fleet.gatewayUrl, group, {
        approval: { required: false },
        bake: '200ms',
        retire: { keepBlueFor: '0s' },
      }),
    );

    await waitForPhase(handle, 'DRAINING', 30_000);
    const second = await testbed.replaceWorker('SIGKILL');

    const result = await handle.result();
    const outcomes = await Promise.all(longQueries);
    await client.close();

    assert.equal(result.outcome, 'SUCCEEDED', second.output());
    assert.deepEqual(
      outcomes.map((outcome) => outcome.state),
      ['FINISHED', 'FINISHED', 'FINISHED'],
      'queries running on blue finished there',
    );
    const journal = fleet.journal(since);
    assertJournal(journal, {
      counts: [
        ['cluster.created', `${group}-green`, 1, 'green provisioned once'],
        [['backend.added', 'backend.updated'], `${group}-green`, 1, 'green registered once'],
        ['backend.activated', `${group}-green`, 1, 'green activated once'],
        ['cluster.deleted', `${group}-blue`, 1, 'blue torn down once'],
      ],
    });
    const blueDeleted = journal.find((entry) => entry.kind === 'cluster.deleted' && entry.name === `${group}-blue`)!.at;
    assert.ok(blueDeleted >= since + 12_000, 'blue was torn down only after its queries finished');
    const events = (await handle.fetchHistory()).events ?? [];
    const drainScheduled = events.find(
      (event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'drainBackends',
    );
    const drainStarted = events.find(
      (event) => String(event.activityTaskStartedEventAttributes?.scheduledEventId) === String(drainScheduled?.eventId),
    );
    assert.ok(
      (drainStarted?.activityTaskStartedEventAttributes?.attempt ?? 0) >= 2,
      'the drain was resumed by a second attempt on the new worker',
    );
    await assertReplays(handle);
  });

  /** When the first `activity` of the run was scheduled, when its retried attempt started and when it completed (history times, epoch ms). */
  async function resumedActivity(
    handle: Awaited<ReturnType<typeof startUpgrade>>,
    activity: string,
  ): Promise<{ scheduledAt: number; resumedAt: number; closedAt: number }> {
    const events = (await handle.fetchHistory()).events ?? [];
    const at = (event: (typeof events)[number] | undefined) =>
      Number(event?.eventTime?.seconds ?? NaN) * 1000 + Math.floor((event?.eventTime?.nanos ?? 0) / 1e6);
    const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activity);
    const id = String(scheduled?.eventId);
    const started = events.find((e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === id);
    const completed = events.find((e) => String(e.activityTaskCompletedEventAttributes?.scheduledEventId) === id);
    assert.ok(
      (started?.activityTaskStartedEventAttributes?.attempt ?? 0) >= 2 && completed,
      `${activity} was resumed by a retried attempt on the new worker and completed`,
    );
    return { scheduledAt: at(scheduled), resumedAt: at(started), closedAt: at(completed) };
  }

  /** The bake of both tests below (6 s); the worker dies this far into it and stays away past the heartbeat timeout. */
  const BAKE = '6s';
  const BAKE_MS = 6_000;
  const KILLED_AFTER_MS = 1_500;
  /** Longer than the bake activity's heartbeat timeout (10 s): its attempt is retried on the new worker. */
  const DOWN_MS = 12_000;

  /**
   * Kills the worker `KILLED_AFTER_MS` into the bake that `baking` recognises, leaves no worker for
   * `DOWN_MS`, starts a new one and checks that green was watched for the rest of the bake after the
   * outage (from the times in history), and that the timeline says how long it went unwatched.
   */
  async function bakeThroughWorkerOutage(
    group: string,
    strategy: 'blue-green' | 'canary',
    baking: (status: UpgradeStatus) => boolean,
    passed: RegExp,
  ): Promise<void> {
    const fleet = await startBlueFleet(group);
    testbed.onStop(() => fleet.stop());
    const since = await journalMark();
    const handle = await startUpgrade(
      testbed.env.client,
      fastPlan(fleet.gatewayUrl, group, {
        strategy,
        approval: { required: false },
        health: { interval: '300ms' },
        bake: BAKE,
        retire: { keepBlueFor: '0s' },
        ...(strategy === 'canary'
          ? {
              canary: {
                rulesRefresh: '500ms',
                steps: [
                  { weight: 10, bake: BAKE },
                  { weight: 100, bake: '500ms' },
                ],
                analysis: { interval: '500ms' },
              },
            }
          : {}),
      }),
    );
    const baked = await waitForStatus(handle, baking, 'the bake', 60_000);
    const bakeStartedAt = Date.parse(baked.timeline.find((e) => e.phase === 'BAKING')!.at);
    await sleep(Math.max(0, bakeStartedAt + KILLED_AFTER_MS - Date.now()));
    const killedAt = Date.now();
    const second = await testbed.replaceWorker('SIGKILL', DOWN_MS);
    const restartedAt = Date.now();

    const result = await handle.result();
    const timeline = result.status.timeline;
    assert.equal(result.outcome, 'SUCCEEDED', `${second.output()}\n${timeline.map((e) => e.message).join('\n')}`);
    assert.ok(
      timeline.some((e) => passed.test(e.message)),
      `the bake passed: ${timeline.map((e) => e.message).join('\n')}`,
    );
    const bake = await resumedActivity(handle, 'analyseCanary');
    const watchedBefore = killedAt - bake.scheduledAt;
    const watchedAfter = bake.closedAt - bake.resumedAt;
    assert.ok(
      watchedAfter >= BAKE_MS - watchedBefore,
      `the bake passed ${watchedAfter} ms after it resumed on the new worker: at most ${watchedBefore} ms of the ${BAKE_MS} ms bake were watched before the outage`,
    );
    const unwatched = timeline.map((e) => /green went unwatched for (\d+) s/.exec(e.message)).find(Boolean);
    assert.ok(
      unwatched,
      `the timeline says how long green went unwatched: ${timeline.map((e) => e.message).join('\n')}`,
    );
    assert.ok(
      Number(unwatched[1]) >= Math.floor((bake.resumedAt - killedAt) / 1000),
      `${unwatched[0]}: at least the ${bake.resumedAt - killedAt} ms from the kill to the bake's resumption`,
    );
    process.stderr.write(
      `${strategy} bake through a worker outage (new worker ${restartedAt - killedAt} ms after the kill): "${unwatched[0]}"; the bake passed ${watchedAfter} ms after it resumed\n`,
    );
    assertJournal(fleet.journal(since), { alwaysServed: group, counts: upgradedOnce(group) });
    await assertReplays(handle);
  }

  it('blue/green: worker outage during the bake: green is watched for the whole bake after it, the timeline says how long it went unwatched', async () => {
    await bakeThroughWorkerOutage('bakeoutage', 'blue-green', inPhase('BAKING'), /^bake of 6s passed/);
  });

  it('canary: worker outage during an analysed bake: the bake is analysed for its whole length after it, the timeline says how long green went unwatched', async () => {
    await bakeThroughWorkerOutage(
      'canaryoutage',
      'canary',
      inPhase('BAKING', (s) => s.trafficPercent === 10),
      /^bake of 6s at 10% passed/,
    );
  });
});
