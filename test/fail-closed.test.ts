import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { startUpgrade } from '../src/client/upgrades';
import { until, waitForStatus } from '../src/devserver/wait';
import { pendingActivityOf, retryText } from '../src/client/pending-activity';
import type { SandboxFleet } from '../src/sandbox/fleet';
import { rollbackSignal, statusQuery } from '../src/workflows/messages';
import { gatewayBackends } from './support/faults';
import { GatewayOutageProxy, type RequestMatch } from './support/gateway-outage-proxy';
import { fastPlan } from './support/plans';
import { assertReplays } from './support/temporal';
import { useTestbed } from './support/testbed';

describe('fail closed: what cutover cannot read or do is never taken for healthy or done', () => {
  const testbed = useTestbed();

  it('a canary whose query list answers 401 is a bad sample and rolls back, not a 0% error rate', async () => {
    const group = 'unread';
    const fleet = await testbed.canaryFleetWithBlue(group);
    const handle = await startUpgrade(
      testbed.env.client,
      fastPlan(fleet.gatewayUrl, group, {
        strategy: 'canary',
        approval: { required: false },
        canary: {
          traffic: 'routing-rule',
          rulesRefresh: '200ms',
          analysis: { interval: '300ms', maxConsecutiveFailures: 2 },
          steps: [{ weight: 10, bake: '3s' }, { weight: 100 }],
        },
      }),
    );
    await waitForStatus(handle, (s) => s.phase === 'BAKING' && s.trafficPercent === 10, 'baking at 10%', 60_000);
    await fleet.applyFaults(`${group}-green`, { queryListStatus: 401 });
    // Green's drain during the rollback reads the same list: the coordinator answers again once rolling back.
    await waitForStatus(handle, (s) => s.phase === 'ROLLING_BACK', 'rolling back', 30_000);
    await fleet.applyFaults(`${group}-green`, { queryListStatus: 0 });
    const result = await handle.result();
    assert.equal(result.outcome, 'ROLLED_BACK');
    assert.match(result.reason ?? '', /could not read green's query list: .*HTTP 401/);
    assert.deepEqual(await gatewayBackends(fleet), [[`${group}-blue`, true]]);
    await assertReplays(handle as WorkflowHandle);
  });

  /** Blue serving `group`, and a proxy on cutover's path to the gateway (clients and the provisioner go straight to the fleet). */
  async function behindProxy(group: string): Promise<{ fleet: SandboxFleet; proxy: GatewayOutageProxy }> {
    const fleet = await testbed.fleetWithBlue(group);
    const proxy = await GatewayOutageProxy.start(fleet.gatewayUrl);
    return { fleet, proxy };
  }

  /** Waits until `cutover status` shows `activity` retrying after the gateway's 403; returns its retry line. */
  async function untilRetryingOn403(handle: WorkflowHandle, activity: string): Promise<string> {
    let line: string | undefined;
    let timeline = '';
    await until(
      () => `${activity} retrying after HTTP 403; last seen: ${line ?? 'nothing'}; timeline: ${timeline}`,
      async () => {
        const pending = pendingActivityOf(await handle.describe());
        const status = await handle.query(statusQuery);
        timeline = status.timeline.map((entry) => entry.message).join(' | ');
        line = retryText(pending, status);
        return pending?.type === activity && /HTTP 403/.test(line ?? '');
      },
      60_000,
      200,
    );
    return line!;
  }

  const gatewayWrites: RequestMatch = (method, path) => method === 'POST' && path.startsWith('/gateway/backend/');

  it('a rollback whose gateway refuses the credentials (403) retries, shows it in the status, and finishes once they work', async () => {
    const group = 'rotated';
    const { fleet, proxy } = await behindProxy(group);
    try {
      const handle = await startUpgrade(
        testbed.env.client,
        fastPlan(proxy.url, group, { green: { provisioner: { controlUrl: fleet.gatewayUrl } } }),
      );
      await waitForStatus(handle, (s) => s.awaitingApproval, 'awaiting approval', 60_000);
      proxy.begin('forbidden', gatewayWrites);
      await handle.signal(rollbackSignal, { by: 'alice', reason: 'testing a rotated password' });
      const line = await untilRetryingOn403(handle as WorkflowHandle, 'removeBackend');
      assert.match(line, /retrying: removeBackend .*attempt \d+: Trino Gateway refused the credentials/);
      await proxy.end();
      const result = await handle.result();
      assert.equal(result.outcome, 'ROLLED_BACK');
      assert.deepEqual(await gatewayBackends(fleet), [[`${group}-blue`, true]]);
      await assertReplays(handle as WorkflowHandle);
    } finally {
      await proxy.stop();
    }
  });

  it('a retire the gateway keeps refusing (403) ends FAILED after retire.timeout, naming what was not retired', async () => {
    const group = 'unretired';
    const { fleet, proxy } = await behindProxy(group);
    // Only the retire deletes a backend: its password was rotated since the upgrade started.
    proxy.begin('forbidden', (method, path) => method === 'POST' && path === '/gateway/backend/modify/delete');
    try {
      const handle = await startUpgrade(
        testbed.env.client,
        fastPlan(proxy.url, group, {
          green: { provisioner: { controlUrl: fleet.gatewayUrl } },
          approval: { required: false },
          retire: { timeout: '6s' },
        }),
      );
      await untilRetryingOn403(handle as WorkflowHandle, 'retireBlue');
      await assert.rejects(handle.result());
      const status = await handle.query(statusQuery);
      assert.equal(status.phase, 'FAILED');
      assert.match(status.error ?? '', /HTTP 403/);
      assert.match(status.error ?? '', /still failing when retire\.timeout 6s ran out/);
      assert.match(status.error ?? '', new RegExp(`Not retired: ${group}-blue \\(still in the gateway, inactive`));
      assert.match(
        status.error ?? '',
        new RegExp(`routing group ${group} has active: ${group}-green; inactive: ${group}-blue`),
      );
      assert.deepEqual(await gatewayBackends(fleet), [
        [`${group}-blue`, false],
        [`${group}-green`, true],
      ]);
      await assertReplays(handle as WorkflowHandle);
    } finally {
      await proxy.stop();
    }
  });
});
