import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startUpgrade } from '../../src/client/upgrades';
import { waitForStatus } from '../../src/devserver/wait';
import { startQueryLoad } from '../../src/sandbox/load';
import type { UpgradeStatus } from '../../src/workflows/messages';
import { approveWhenAsked, inPhase, lastNote, startBlueFleet, startLongQueries } from '../support/faults';
import { assertJournal, journalMark, upgradedOnce } from '../support/journal';
import { fastPlan } from '../support/plans';
import { useProcessTestbed } from '../support/process-testbed';
import { assertReplays } from '../support/temporal';

/** Where the worker dies: a predicate on the upgrade's status. */
interface KillPoint {
  name: string;
  strategy: 'blue-green' | 'canary';
  at: (status: UpgradeStatus) => boolean;
  /** The worker dies at an approval gate: approve only after the kill. */
  gate?: boolean;
  /** Queries long enough to still run on blue when the drain starts. */
  longQueries?: boolean;
}

// Each point is a window of seconds (start-up delay, bakes, drain, keep-warm, rules refresh), so the
// status poll cannot miss it; the worker dies inside an activity or a timer there.
const POINTS: KillPoint[] = [
  { name: 'inside the readiness wait', strategy: 'blue-green', at: inPhase('VERIFYING', lastNote(/waiting until/)) },
  { name: 'at the approval gate', strategy: 'blue-green', at: inPhase('AWAITING_APPROVAL'), gate: true },
  { name: 'inside the bake', strategy: 'blue-green', at: inPhase('BAKING') },
  {
    name: 'inside the drain',
    strategy: 'blue-green',
    at: inPhase('DRAINING', lastNote(/waiting for the queries/)),
    longQueries: true,
  },
  { name: 'while blue is kept warm', strategy: 'blue-green', at: lastNote(/warm for/) },
  {
    name: 'inside a shift (rules refresh wait)',
    strategy: 'canary',
    at: inPhase('SHIFTING', (s) => s.trafficPercent === 0),
  },
  { name: 'inside the 10% bake', strategy: 'canary', at: inPhase('BAKING', (s) => s.trafficPercent === 10) },
  {
    name: 'at the manual gate',
    strategy: 'canary',
    at: (s) => s.awaitingApproval && s.trafficPercent === 10,
    gate: true,
  },
  {
    name: 'inside the canary clean-up after the flip',
    strategy: 'canary',
    at: inPhase('SHIFTING', (s) => s.trafficPercent === 100),
  },
  { name: 'inside the 100% bake', strategy: 'canary', at: inPhase('BAKING', (s) => s.trafficPercent === 100) },
];

describe('fault matrix: the worker is killed with SIGKILL at each point, a new worker finishes the upgrade', () => {
  const testbed = useProcessTestbed();

  POINTS.forEach((point, index) => {
    it(`${point.strategy}, killed ${point.name}`, { timeout: 240_000 }, async () => {
      const group = `fm${index}`;
      const fleet = await startBlueFleet(group);
      testbed.onStop(() => fleet.stop());
      const since = await journalMark();
      const load = startQueryLoad({
        gatewayUrl: fleet.gatewayUrl,
        users: 20,
        concurrency: 3,
        durationMs: [500, 4000],
        routingGroup: group,
      });
      const plan = fastPlan(fleet.gatewayUrl, group, {
        strategy: point.strategy,
        green: { provisioner: { startupDelay: '3s' } },
        health: { interval: '300ms' },
        bake: '3s',
        retire: { keepBlueFor: '3s' },
        ...(point.strategy === 'canary'
          ? {
              approval: { required: false },
              canary: {
                rulesRefresh: '3s',
                steps: [{ weight: 10, bake: '3s' }, { approval: true }, { weight: 100, bake: '3s' }],
                analysis: { interval: '500ms' },
              },
            }
          : {}),
      });
      const longOnBlue = point.longQueries ? startLongQueries(fleet.gatewayUrl, group) : Promise.resolve([]);
      const handle = await startUpgrade(testbed.env.client, plan);
      let killed!: () => void;
      const afterKill = new Promise<void>((resolve) => (killed = resolve));
      const stopApproving = new AbortController();
      const approver = approveWhenAsked(() => handle, point.gate ? afterKill : Promise.resolve(), stopApproving.signal);
      let loadStopped = false;
      try {
        await waitForStatus(handle, point.at, point.name, 60_000);
        await testbed.replaceWorker('SIGKILL');
        killed();
        const result = await handle.result();
        loadStopped = true;
        const report = await load.stop();
        assert.ok(
          (await longOnBlue).every((state) => state === 'FINISHED'),
          'long queries on blue finished there',
        );

        assert.equal(
          result.outcome,
          'SUCCEEDED',
          `${result.reason ?? ''}\n${result.status.timeline.map((e) => e.message).join('\n')}`,
        );
        assert.equal(
          report.failed,
          0,
          `no client query failed: ${JSON.stringify(report.queries.filter((q) => q.state === 'FAILED').slice(0, 2))}`,
        );
        assertJournal(fleet.journal(since), { alwaysServed: group, counts: upgradedOnce(group) });
        await assertReplays(handle);
      } finally {
        // A failed case must not leave its load or approver running: they would keep the process alive.
        stopApproving.abort();
        await approver;
        if (!loadStopped) await load.stop().catch(() => undefined);
      }
    });
  });
});
