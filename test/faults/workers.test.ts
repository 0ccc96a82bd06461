import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startUpgrade } from '../../src/client/upgrades';
import { sleep, waitForPhase, waitForStatus } from '../../src/devserver/wait';
import type { Overrides } from '../../src/plan/merge';
import type { SandboxFleet } from '../../src/sandbox/fleet';
import { startQueryLoad, type LoadReport, type QueryLoad } from '../../src/sandbox/load';
import { approveSignal, rollbackSignal } from '../../src/workflows/messages';
import { runCli } from '../support/cli';
import { approveWhenAsked, gatewayBackends, startBlueFleet, versionThroughGateway } from '../support/faults';
import { assertJournal, journalMark, rolledBackOnce, upgradedOnce } from '../support/journal';
import { fastPlan } from '../support/plans';
import { useProcessTestbed } from '../support/process-testbed';
import { assertReplays } from '../support/temporal';

const CANARY: Overrides = {
  strategy: 'canary',
  approval: { required: false },
  canary: {
    rulesRefresh: '1s',
    steps: [{ weight: 10, bake: '2s' }, { approval: true }, { weight: 100, bake: '2s' }],
    analysis: { interval: '500ms' },
  },
};

/** Fault matrix row 6: several workers, and workers that are away while an operator sends a message. */
describe('fault matrix: two workers at once, and messages sent while no worker runs', () => {
  // Each test starts the workers it needs and stops them all at its end.
  const testbed = useProcessTestbed({ workers: 0 });

  async function fleetUnderLoad(group: string): Promise<{ fleet: SandboxFleet; load: QueryLoad; since: number }> {
    const fleet = await startBlueFleet(group);
    testbed.onStop(() => fleet.stop());
    const since = await journalMark();
    return {
      fleet,
      load: startQueryLoad({
        gatewayUrl: fleet.gatewayUrl,
        users: 20,
        concurrency: 3,
        durationMs: [50, 800],
        routingGroup: group,
      }),
      since,
    };
  }

  for (const strategy of ['blue-green', 'canary'] as const) {
    it(
      `${strategy}: two workers poll at once: every step runs once, the upgrade succeeds, nothing fails`,
      { timeout: 180_000 },
      async () => {
        await Promise.all([testbed.startWorker(), testbed.startWorker()]);
        const group = `two${strategy === 'canary' ? 'canary' : 'bg'}`;
        const { fleet, load, since } = await fleetUnderLoad(group);
        const stop = new AbortController();
        let report: LoadReport | undefined;
        let approver: Promise<void> = Promise.resolve();
        try {
          const handle = await startUpgrade(
            testbed.env.client,
            fastPlan(fleet.gatewayUrl, group, strategy === 'canary' ? CANARY : {}),
          );
          approver = approveWhenAsked(handle, Promise.resolve(), stop.signal);
          const result = await handle.result();
          report = await load.stop();
          assert.equal(result.outcome, 'SUCCEEDED', result.reason);
          assert.equal(report.failed, 0, 'no query failed');
          assert.ok((report.byBackend[`${group}-green`]?.finished ?? 0) > 0, 'green served queries');
          assert.deepEqual(await gatewayBackends(fleet), [[`${group}-green`, true]]);
          assertJournal(fleet.journal(since), { alwaysServed: group, counts: upgradedOnce(group) });
          const activityWorkers = new Set(
            ((await handle.fetchHistory()).events ?? [])
              .map((event) => event.activityTaskStartedEventAttributes?.identity)
              .filter(Boolean),
          );
          process.stderr.write(`${strategy} with two workers: activities ran on ${activityWorkers.size} worker(s)\n`);
          await assertReplays(handle);
        } finally {
          stop.abort();
          await approver;
          if (!report) await load.stop().catch(() => undefined);
          await testbed.stopWorkers();
        }
      },
    );
  }

  /** Starts an upgrade with one worker and stops that worker with SIGKILL at the approval gate. */
  async function atGateWithoutWorker(group: string, overrides: Overrides = {}) {
    const only = await testbed.startWorker();
    const { fleet, load, since } = await fleetUnderLoad(group);
    const handle = await startUpgrade(testbed.env.client, fastPlan(fleet.gatewayUrl, group, overrides));
    await waitForPhase(handle, 'AWAITING_APPROVAL');
    await only.kill('SIGKILL');
    assert.equal(
      testbed.workers.filter((running) => running.child.exitCode === null && running.child.signalCode === null).length,
      0,
      'no worker runs',
    );
    return { fleet, load, since, handle };
  }

  it(
    'an approve signal sent while the only worker is dead is kept: a new worker passes the gate and the upgrade succeeds',
    { timeout: 180_000 },
    async () => {
      const group = 'sigapprove';
      const { fleet, load, since, handle } = await atGateWithoutWorker(group);
      let report: LoadReport | undefined;
      try {
        await handle.signal(approveSignal, { by: 'alice', comment: 'sent while the worker was down' });
        await sleep(1000);
        await testbed.startWorker();
        const result = await handle.result();
        report = await load.stop();
        assert.equal(result.outcome, 'SUCCEEDED', result.reason);
        assert.ok(
          result.status.timeline.some((e) => e.message === 'approved by alice: sent while the worker was down'),
          'the approval was taken',
        );
        assert.equal(report.failed, 0, 'no query failed');
        assert.deepEqual(await gatewayBackends(fleet), [[`${group}-green`, true]]);
        assertJournal(fleet.journal(since), { alwaysServed: group, counts: upgradedOnce(group) });
        await assertReplays(handle);
      } finally {
        if (!report) await load.stop().catch(() => undefined);
        await testbed.stopWorkers();
      }
    },
  );

  it(
    'a rollback signal sent while the only worker is dead is kept: a new worker rolls back, blue serves, green torn down',
    { timeout: 180_000 },
    async () => {
      const group = 'sigrollback';
      const { fleet, load, since, handle } = await atGateWithoutWorker(group, CANARY);
      let report: LoadReport | undefined;
      try {
        await handle.signal(rollbackSignal, { by: 'bob', reason: 'green misbehaves, sent while the worker was down' });
        await sleep(1000);
        await testbed.startWorker();
        const result = await handle.result();
        report = await load.stop();
        assert.equal(result.outcome, 'ROLLED_BACK');
        assert.match(result.reason ?? '', /sent while the worker was down/);
        assert.equal(report.failed, 0, 'no query failed');
        assert.deepEqual(
          await gatewayBackends(fleet),
          [[`${group}-blue`, true]],
          'blue alone serves; green and its canary entry are gone',
        );
        assert.equal(await versionThroughGateway(fleet.gatewayUrl, group), '470', 'a new query lands on blue');
        assertJournal(fleet.journal(since), { alwaysServed: group, counts: rolledBackOnce(group) });
        await assertReplays(handle);
      } finally {
        if (!report) await load.stop().catch(() => undefined);
        await testbed.stopWorkers();
      }
    },
  );

  it(
    'cutover approve while no worker runs: the CLI says no worker answered (exit 1) instead of hanging, and the approval takes effect once a worker is back',
    { timeout: 180_000 },
    async () => {
      const group = 'cliapprove';
      const { fleet, load, handle } = await atGateWithoutWorker(group);
      let report: LoadReport | undefined;
      try {
        const startedAt = Date.now();
        const run = await runCli(testbed.env.address, ['approve', handle.workflowId, '--by', 'carol']);
        const tookMs = Date.now() - startedAt;
        assert.equal(run.code, 1, `exit code 1: ${run.stdout}${run.stderr}`);
        assert.match(
          run.stderr,
          /did not acknowledge the approve within \d+ s: is a worker running\? start one with `cutover worker`/,
        );
        assert.ok(tookMs < 60_000, `the CLI gave up after ${tookMs} ms`);
        assert.match(
          run.stderr,
          /the request may still be applied when a worker picks it up, so check `cutover status/,
        );

        // The server kept the update it could not deliver: the next worker applies it, no second approve needed.
        await testbed.startWorker();
        await waitForStatus(handle, (s) => !s.awaitingApproval, 'the new worker to apply the approval', 30_000);
        const result = await handle.result();
        report = await load.stop();
        assert.equal(result.outcome, 'SUCCEEDED', result.reason);
        assert.equal(
          result.status.timeline.filter((e) => e.message === 'approved by carol').length,
          1,
          'carol approved exactly once',
        );
        assert.equal(report.failed, 0, 'no query failed');
        assert.deepEqual(await gatewayBackends(fleet), [[`${group}-green`, true]]);
      } finally {
        if (!report) await load.stop().catch(() => undefined);
        await testbed.stopWorkers();
      }
    },
  );
});
