import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { startUpgrade } from '../../src/client/upgrades';
import { sleep, until, untilHealthy, waitForStatus } from '../../src/devserver/wait';
import { canaryReadyRules } from '../../src/sandbox/canary-rules';
import type { SandboxFleet } from '../../src/sandbox/fleet';
import { validatePlan } from '../../src/plan/load';
import type { Overrides } from '../../src/plan/merge';
import { startQueryLoad, type LoadReport, type QueryLoad } from '../../src/sandbox/load';
import { javaFloorMod, javaStringHashCode } from '../../src/sandbox/routing-rules';
import type { UpgradeResult } from '../../src/workflows/messages';
import { gatewayBackends, versionThroughGateway } from '../support/faults';
import { assertJournal, journalMark, nothingTwice, rolledBackOnce } from '../support/journal';
import { fastPlan } from '../support/plans';
import { assertReplays } from '../support/temporal';
import { useTestbed } from '../support/testbed';

/** Fault matrix row 4: a fault of green rolls the upgrade back on its own; users served by blue never see a failure. */
describe('fault matrix: green faults roll back automatically, blue users never see a failure', () => {
  const testbed = useTestbed();

  /** A fleet with blue HEALTHY in `group` and the canary rule ready, plus query load through its gateway. */
  async function fleetUnderLoad(group: string): Promise<{ fleet: SandboxFleet; load: QueryLoad; since: number }> {
    const fleet = await testbed.fleet({
      healthIntervalMs: 100,
      rulesRefreshMs: 300,
      rules: canaryReadyRules(`${group}-canary`),
      clusters: [{ name: `${group}-blue`, version: '470', routingGroup: group }],
    });
    await untilHealthy(fleet, `${group}-blue`);
    const since = await journalMark();
    const load = startQueryLoad({
      gatewayUrl: fleet.gatewayUrl,
      users: 40,
      concurrency: 4,
      durationMs: [50, 600],
      routingGroup: group,
    });
    return { fleet, load, since };
  }

  async function run(fleet: SandboxFleet, group: string, overrides: Overrides): Promise<WorkflowHandle> {
    return startUpgrade(
      testbed.env.client,
      fastPlan(fleet.gatewayUrl, group, { approval: { required: false }, ...overrides }),
      { startedBy: 'fault-matrix' },
    );
  }

  /** The rolled-back end state every case shares: blue alone, active and answering through the gateway. */
  async function assertRolledBackToBlue(
    fleet: SandboxFleet,
    group: string,
    result: UpgradeResult,
    reason: RegExp,
  ): Promise<void> {
    assert.equal(result.outcome, 'ROLLED_BACK', result.status.timeline.map((e) => e.message).join('\n'));
    assert.equal(result.status.phase, 'ROLLED_BACK');
    assert.match(result.reason ?? '', reason);
    assert.deepEqual(
      await gatewayBackends(fleet),
      [[`${group}-blue`, true]],
      'blue is the only backend, active; green and its canary entry are gone',
    );
    await untilHealthy(fleet, `${group}-blue`);
    assert.equal(await versionThroughGateway(fleet.gatewayUrl, group), '470', 'a new query lands on blue');
  }

  const failed = (report: LoadReport, accept: (q: LoadReport['queries'][number]) => boolean) =>
    report.queries.filter((q) => q.state === 'FAILED' && accept(q));

  it(
    'blue/green: green crashes while baking at 100%: rollback, blue serves again, no query on blue failed',
    { timeout: 180_000 },
    async () => {
      const group = 'crashbake';
      const { fleet, load, since } = await fleetUnderLoad(group);
      let report: LoadReport | undefined;
      try {
        const handle = await run(fleet, group, { bake: '1m', health: { maxConsecutiveFailures: 2, timeout: '8s' } });
        await waitForStatus(handle, (s) => s.phase === 'BAKING', 'baking at 100%');
        await sleep(500);
        const crashAt = Date.now();
        await fleet.applyFaults(`${group}-green`, { crash: true });
        const result = (await handle.result()) as UpgradeResult;
        report = await load.stop();
        await assertRolledBackToBlue(fleet, group, result, /failed while baking/);

        assert.equal(failed(report, (q) => q.backend === `${group}-blue`).length, 0, 'no query on blue failed');
        const journal = fleet.journal(since);
        const blueBack = journal.find((e) => e.kind === 'backend.activated' && e.name === `${group}-blue`)!.at;
        const outage = failed(report, (q) => q.backend !== `${group}-green`);
        assert.ok(
          outage.every((q) => q.endedAt >= crashAt && q.startedAt <= blueBack),
          `the only other failures are queries sent to the gateway while crashed green was its sole backend: ${JSON.stringify(outage.slice(0, 2))}`,
        );
        // Green's crash left the group without a HEALTHY backend until blue was back: never before the crash, never after.
        const unserved = journal.filter((e) => e.kind === 'group.unserved' && e.group === group);
        assert.ok(
          unserved.every((e) => e.at >= crashAt && e.at <= blueBack),
          'the group was unserved only between the crash and the rollback',
        );
        assert.equal(
          journal.filter((e) => e.group === group && /group\./.test(e.kind)).at(-1)?.kind ?? 'group.served',
          'group.served',
          'the group is served at the end',
        );
        assertJournal(journal, {
          counts: [
            ...rolledBackOnce(group),
            ['cluster.deleted', `${group}-blue`, 0, 'blue kept'],
            ...nothingTwice(group),
          ],
        });
        await assertReplays(handle);
      } finally {
        if (!report) await load.stop().catch(() => undefined);
      }
    },
  );

  it(
    'canary at 10% (routing rule): green crashes in the bake: analysis rolls back, users on blue see no failure',
    { timeout: 180_000 },
    async () => {
      const group = 'crashcanary';
      const { fleet, load, since } = await fleetUnderLoad(group);
      let report: LoadReport | undefined;
      try {
        const handle = await run(fleet, group, {
          strategy: 'canary',
          health: { timeout: '8s' },
          canary: {
            traffic: 'routing-rule',
            rulesRefresh: '300ms',
            steps: [
              { weight: 10, bake: '1m' },
              { weight: 100, bake: '1s' },
            ],
            analysis: { interval: '300ms', maxConsecutiveFailures: 2 },
          },
        });
        await waitForStatus(handle, (s) => s.phase === 'BAKING' && s.trafficPercent === 10, 'baking at 10%');
        await sleep(500);
        await fleet.applyFaults(`${group}-green`, { crash: true });
        const result = (await handle.result()) as UpgradeResult;
        report = await load.stop();
        await assertRolledBackToBlue(fleet, group, result, /.+/);

        const blueUsers = (q: { user: string }) => javaFloorMod(javaStringHashCode(q.user), 100) >= 10;
        assert.ok(report.queries.some(blueUsers), 'blue users ran queries');
        assert.deepEqual(failed(report, blueUsers), [], 'no query of a user outside the 10% canary bucket failed');
        assert.equal(failed(report, (q) => q.backend === `${group}-blue`).length, 0, 'no query on blue failed');
        const journal = fleet.journal(since);
        assertJournal(journal, {
          alwaysServed: group,
          counts: [
            ...rolledBackOnce(group),
            ['backend.activated', `${group}-green`, 0, "green never took blue's group"],
            ...nothingTwice(group),
          ],
        });
        await assertReplays(handle);
      } finally {
        if (!report) await load.stop().catch(() => undefined);
      }
    },
  );

  it(
    'green answers with another Trino version than the plan: rollback before any traffic moves, nothing failed',
    { timeout: 180_000 },
    async () => {
      const group = 'wrongversion';
      const { fleet, load, since } = await fleetUnderLoad(group);
      let report: LoadReport | undefined;
      try {
        // The cluster already runs (static provisioner), but someone deployed 479 where the plan expects 480.
        const { cluster } = await fleet.createCluster({ name: `${group}-green`, version: '479' });
        const plan = fastPlan(fleet.gatewayUrl, group, { approval: { required: false } });
        const handle = await startUpgrade(
          testbed.env.client,
          validatePlan(
            {
              ...plan,
              green: { name: plan.green.name, version: '480', url: cluster.url, provisioner: { type: 'static' } },
            },
            'static plan',
          ),
        );
        const result = await handle.result();
        report = await load.stop();
        await assertRolledBackToBlue(fleet, group, result, /runs Trino 479, the plan expects 480/);
        assert.equal(report.failed, 0, 'no query failed');
        assert.ok(
          report.finished > 0 && report.byBackend[`${group}-blue`]?.finished === report.finished,
          'every query ran on blue',
        );
        assert.equal(result.status.trafficPercent, 0);
        const journal = fleet.journal(since);
        assertJournal(journal, {
          alwaysServed: group,
          counts: [
            [['backend.added', 'backend.updated'], `${group}-green`, 0, 'green was never registered'],
            ['cluster.deleted', `${group}-green`, 0, 'a cluster this run did not create is not torn down'],
          ],
        });
        assert.ok(fleet.cluster(`${group}-green`), 'the pre-existing cluster still runs');
        await assertReplays(handle);
      } finally {
        if (!report) await load.stop().catch(() => undefined);
      }
    },
  );

  it(
    'a smoke query fails on green: rollback before registration, green torn down, nothing failed',
    { timeout: 180_000 },
    async () => {
      const group = 'smokefail';
      const { fleet, load, since } = await fleetUnderLoad(group);
      let report: LoadReport | undefined;
      try {
        const handle = await run(fleet, group, { green: { provisioner: { startupDelay: '2s' } } });
        // Green exists but still starts: every query it runs from now on fails.
        await until('green created', () => fleet.cluster(`${group}-green`) !== undefined, 30_000);
        await fleet.applyFaults(`${group}-green`, { failRate: 1 });
        const result = (await handle.result()) as UpgradeResult;
        report = await load.stop();
        await assertRolledBackToBlue(fleet, group, result, /smoke query "SELECT 1" failed/);
        assert.equal(report.failed, 0, 'no query failed');
        assert.equal(result.status.trafficPercent, 0);
        const journal = fleet.journal(since);
        assertJournal(journal, {
          alwaysServed: group,
          counts: [
            ...rolledBackOnce(group),
            [['backend.added', 'backend.updated'], `${group}-green`, 0, 'green was never registered'],
          ],
        });
        await assertReplays(handle);
      } finally {
        if (!report) await load.stop().catch(() => undefined);
      }
    },
  );

  it(
    'backend-pool canary at 50%: green fails half its queries in the bake: analysis rolls back, no query on blue failed',
    { timeout: 180_000 },
    async () => {
      const group = 'poolerrors';
      const { fleet, load, since } = await fleetUnderLoad(group);
      let report: LoadReport | undefined;
      try {
        const handle = await run(fleet, group, {
          strategy: 'canary',
          canary: {
            traffic: 'backend-pool',
            steps: [
              { weight: 50, bake: '1m' },
              { weight: 100, bake: '1s' },
            ],
            analysis: { interval: '500ms', maxConsecutiveFailures: 1 },
          },
        });
        await waitForStatus(handle, (s) => s.phase === 'BAKING' && s.trafficPercent === 50, 'baking at 50%');
        await fleet.applyFaults(`${group}-green`, { failRate: 0.5 });
        const result = (await handle.result()) as UpgradeResult;
        report = await load.stop();
        await assertRolledBackToBlue(fleet, group, result, /error rate/);
        assert.ok((report.byBackend[`${group}-blue`]?.finished ?? 0) > 0, 'blue served queries');
        assert.equal(report.byBackend[`${group}-blue`]?.failed ?? 0, 0, 'no query on blue failed');
        assert.deepEqual(
          failed(report, (q) => q.backend !== `${group}-green`),
          [],
          'every failed query ran on green',
        );
        const journal = fleet.journal(since);
        assertJournal(journal, {
          alwaysServed: group,
          counts: [
            ...rolledBackOnce(group),
            ['backend.deactivated', `${group}-blue`, 0, 'blue was never deactivated'],
            ...nothingTwice(group),
          ],
        });
        await assertReplays(handle);
      } finally {
        if (!report) await load.stop().catch(() => undefined);
      }
    },
  );
});
