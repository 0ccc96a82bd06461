import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startUpgrade } from '../../src/client/upgrades';
import { sleep, until, untilHealthy, waitForStatus } from '../../src/devserver/wait';
import type { Overrides } from '../../src/plan/merge';
import { startSandboxFleet, type SandboxFleet } from '../../src/sandbox/fleet';
import { startQueryLoad, type QueryLoad } from '../../src/sandbox/load';
import type { UpgradeResult } from '../../src/workflows/messages';
import { approveWhenAsked, assertGreenAlone, inPhase } from '../support/faults';
import { GatewayOutageProxy, type OutageMode } from '../support/gateway-outage-proxy';
import { assertJournal, journalMark, rolledBackOnce, upgradedOnce } from '../support/journal';
import { fastPlan } from '../support/plans';
import { useProcessTestbed } from '../support/process-testbed';
import { assertReplays } from '../support/temporal';

type UpgradeHandle = Awaited<ReturnType<typeof startUpgrade>>;

/** A pending activity as `describe()` (and the Temporal UI) shows it. */
interface PendingActivity {
  name: string;
  attempt: number;
  lastFailure: string;
}

async function pendingActivities(handle: UpgradeHandle): Promise<PendingActivity[]> {
  const { raw } = await handle.describe();
  return (raw.pendingActivities ?? []).map((activity) => ({
    name: activity.activityType?.name ?? '',
    attempt: activity.attempt ?? 0,
    lastFailure: activity.lastFailure?.message ?? '',
  }));
}

/** Waits until `describe()` shows `activity` retried after a failure matching `failure`: what an operator sees in the UI. */
async function untilRetrying(
  handle: UpgradeHandle,
  activity: string,
  failure: RegExp,
  minAttempt = 2,
  timeoutMs = 60_000,
): Promise<PendingActivity> {
  let seen: PendingActivity[] = [];
  let retrying: PendingActivity | undefined;
  await until(
    () => `${activity} retrying after ${failure}; pending: ${JSON.stringify(seen)}`,
    async () => {
      seen = await pendingActivities(handle);
      retrying = seen.find(
        (pending) => pending.name === activity && pending.attempt >= minAttempt && failure.test(pending.lastFailure),
      );
      return retrying !== undefined;
    },
    timeoutMs,
    200,
  );
  return retrying!;
}

describe('gateway unavailable for cutover: the worker cannot reach the gateway API while clients keep being served', () => {
  const testbed = useProcessTestbed();

  /** A fleet with blue serving, a proxy on cutover's path to its gateway, and query load straight to the fleet. */
  async function scenario(group: string, overrides: Overrides = {}) {
    const fleet: SandboxFleet = await startSandboxFleet({
      healthIntervalMs: 100,
      clusters: [{ name: `${group}-blue`, version: '470', routingGroup: group }],
    });
    testbed.onStop(() => fleet.stop());
    const proxy = await GatewayOutageProxy.start(fleet.gatewayUrl);
    testbed.onStop(() => proxy.stop());
    await untilHealthy(fleet, `${group}-blue`);
    const since = await journalMark();
    const load: QueryLoad = startQueryLoad({
      gatewayUrl: fleet.gatewayUrl,
      users: 20,
      concurrency: 3,
      durationMs: [300, 2000],
      routingGroup: group,
    });
    testbed.onStop(() => load.stop());
    const plan = fastPlan(proxy.url, group, {
      gateway: { requestTimeout: '1s' },
      green: { provisioner: { controlUrl: fleet.gatewayUrl } },
      bake: '3s',
      ...overrides,
    });
    return { fleet, proxy, since, load, plan };
  }

  /** Starts the upgrade with an approver; `finish` waits for the result and stops load and approver. */
  async function run(plan: Parameters<typeof startUpgrade>[1], load: QueryLoad) {
    const handle = await startUpgrade(testbed.env.client, plan);
    const stopApproving = new AbortController();
    const approver = approveWhenAsked(() => handle, Promise.resolve(), stopApproving.signal);
    testbed.onStop(async () => {
      stopApproving.abort();
      await approver;
    });
    return {
      handle,
      async finish() {
        const result = await handle.result();
        stopApproving.abort();
        await approver;
        return { result, report: await load.stop() };
      },
    };
  }

  const timelineOf = (result: UpgradeResult) =>
    `${result.reason ?? ''}\n${result.status.timeline.map((entry) => entry.message).join('\n')}`;

  /** Short outages, one per mode, each starting at a chosen moment and lasting 3 s and at least until cutover retried once. */
  const SHORT: Array<{
    title: string;
    mode: OutageMode;
    activity: string;
    failure: RegExp;
    start: (group: string, proxy: GatewayOutageProxy, handle: UpgradeHandle) => Promise<void>;
  }> = [
    {
      title: 'gateway refuses connections for 3 s from the flip on: the upgrade goes on, nothing fails',
      mode: 'refuse',
      activity: 'shiftTraffic',
      failure: /unreachable/,
      start: (group, proxy) =>
        proxy.outageFrom(
          (method, path) => method === 'POST' && path === `/gateway/backend/activate/${group}-green`,
          'refuse',
        ),
    },
    {
      title: "gateway answers 503 for 3 s from green's registration on: the upgrade goes on, nothing fails",
      mode: 'unavailable',
      activity: 'registerGreen',
      failure: /HTTP 503/,
      start: (_group, proxy) =>
        proxy.outageFrom((method, path) => method === 'POST' && path === '/gateway/backend/modify/add', 'unavailable'),
    },
    {
      title:
        'gateway hangs past the request timeout for 3 s in the middle of the bake: the bake goes on, nothing fails',
      mode: 'hang',
      activity: 'analyseCanary',
      failure: /no answer within 1000 ms/,
      start: async (_group, proxy, handle) => {
        await waitForStatus(handle, inPhase('BAKING'), 'the bake', 90_000);
        proxy.begin('hang');
      },
    },
  ];

  SHORT.forEach((outage, index) => {
    it(outage.title, { timeout: 240_000 }, async () => {
      const group = `go${index}`;
      const { fleet, proxy, since, load, plan } = await scenario(group);
      const upgrade = await run(plan, load);
      await outage.start(group, proxy, upgrade.handle);
      const startedAt = Date.now();
      const retrying = await untilRetrying(upgrade.handle, outage.activity, outage.failure);
      await sleep(Math.max(0, 3000 - (Date.now() - startedAt)));
      await proxy.end();
      const { result, report } = await upgrade.finish();

      assert.ok(proxy.faulted > 0, `cutover met the ${outage.mode} outage`);
      assert.ok(retrying.attempt >= 2, 'the UI showed the retries while the gateway was away');
      assert.equal(result.outcome, 'SUCCEEDED', timelineOf(result));
      assert.equal(
        report.failed,
        0,
        `no client query failed: ${JSON.stringify(report.queries.filter((q) => q.state === 'FAILED').slice(0, 2))}`,
      );
      assertGreenAlone(fleet, group);
      assertJournal(fleet.journal(since), { alwaysServed: group, counts: upgradedOnce(group) });
      await assertReplays(upgrade.handle);
    });
  });

  it(
    'gateway answers 503 between activating green and deactivating blue for longer than the retry budget: the upgrade rolls back, blue alone serves once the gateway is back',
    { timeout: 240_000 },
    async () => {
      const group = 'go-long';
      const { fleet, proxy, since, load, plan } = await scenario(group, {
        gateway: { retryBudget: '6s' },
        health: { timeout: '5s' },
      });
      const upgrade = await run(plan, load);
      await proxy.outageFrom(
        (method, path) => method === 'POST' && path === `/gateway/backend/deactivate/${group}-blue`,
        'unavailable',
      );

      // While the budget lasts, the forward flip retries in plain sight.
      const forward = await untilRetrying(upgrade.handle, 'shiftTraffic', /HTTP 503/);
      assert.match(forward.lastFailure, /^Trino Gateway answered (GET|POST) \/\S+ with HTTP 503/);
      // Then the upgrade rolls back; the compensation retries until the gateway is back.
      const rollingBack = await waitForStatus(upgrade.handle, inPhase('ROLLING_BACK'), 'the rollback', 90_000);
      assert.match(
        rollingBack.timeline.map((entry) => entry.message).join('\n'),
        /rollback requested by cutover: shift 100% to go-long-green failed: Trino Gateway answered .* with HTTP 503.* \(still failing when its retry budget ran out\)/,
      );
      await untilRetrying(upgrade.handle, 'shiftTraffic', /HTTP 503/, 3);
      const stuck = await waitForStatus(upgrade.handle, inPhase('ROLLING_BACK'), 'still rolling back');
      assert.equal(stuck.phase, 'ROLLING_BACK', 'the rollback waits for the gateway, it does not give up');
      assert.deepEqual(
        fleet.gateway
          .backends()
          .filter((backend) => backend.active && backend.routingGroup === group)
          .map((backend) => backend.name)
          .sort(),
        [`${group}-blue`, `${group}-green`],
        'the outage froze the gateway mid-flip: both serve, so clients still do',
      );
      await proxy.end();
      const { result, report } = await upgrade.finish();

      assert.equal(result.outcome, 'ROLLED_BACK', timelineOf(result));
      assert.match(result.reason ?? '', /HTTP 503/, 'the reason names the gateway failure');
      assert.equal(
        report.failed,
        0,
        `no client query failed: ${JSON.stringify(report.queries.filter((q) => q.state === 'FAILED').slice(0, 2))}`,
      );
      assert.deepEqual(
        fleet.gateway
          .backends()
          .filter((backend) => backend.routingGroup === group)
          .map((backend) => [backend.name, backend.active]),
        [[`${group}-blue`, true]],
        'blue alone serves the group; green is removed',
      );
      assert.equal(fleet.gateway.backendState(`${group}-blue`)?.trinoStatus, 'HEALTHY');
      assertJournal(fleet.journal(since), {
        alwaysServed: group,
        counts: [
          ...rolledBackOnce(group),
          ['backend.activated', `${group}-green`, 1, 'green activated once'],
          ['backend.deactivated', `${group}-green`, 1, 'green deactivated once'],
          ['backend.deactivated', `${group}-blue`, 0, 'blue never deactivated'],
        ],
      });
      await assertReplays(upgrade.handle);
    },
  );
});
