import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { startUpgrade } from '../src/client/upgrades';
import { until, untilHealthy, waitForStatus } from '../src/devserver/wait';
import { canaryReadyRules } from '../src/sandbox/canary-rules';
import type { SandboxFleet } from '../src/sandbox/fleet';
import { startQueryLoad, type LoadReport } from '../src/sandbox/load';
import { rollbackUpdate } from '../src/workflows/messages';
import { gatewayBackends, inPhase } from './support/faults';
import { GatewayOutageProxy } from './support/gateway-outage-proxy';
import { assertJournal, journalMark, nothingTwice } from './support/journal';
import { fastPlan } from './support/plans';
import { assertReplays } from './support/temporal';
import { useTestbed } from './support/testbed';

/** The gateway's rules refresh period; the plan's `canary.rulesRefresh` is longer, as it must be. */
const GATEWAY_RULES_REFRESH_MS = 300;

/** When each `drainBackends` of `backend` was scheduled (epoch ms, from history), in order. */
async function drainsScheduled(handle: WorkflowHandle, backend: string): Promise<number[]> {
  const events = (await handle.fetchHistory()).events ?? [];
  return events
    .filter((event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'drainBackends')
    .filter((event) => {
      const payload = event.activityTaskScheduledEventAttributes?.input?.payloads?.[0];
      const input = payload
        ? defaultPayloadConverter.fromPayload<{ backends: { name: string }[] }>(payload)
        : undefined;
      return input?.backends.some((drained) => drained.name === backend) ?? false;
    })
    .map((event) => Number(event.eventTime?.seconds ?? 0) * 1000 + Math.floor((event.eventTime?.nanos ?? 0) / 1e6));
}

/** Waits until green's coordinator has run a query of the load (its users are `user-N`): canary users reach it. */
async function untilLoadOnGreen(fleet: SandboxFleet, green: string): Promise<void> {
  await until(
    `a query of the load on ${green}`,
    async () => {
      const url = fleet.cluster(green)?.url;
      if (!url) return false;
      const queries = (await (await fetch(`${url}/v1/query`, { headers: { 'X-Trino-User': 'probe' } })).json()) as {
        session: { user: string };
      }[];
      return queries.some((query) => query.session.user.startsWith('user-'));
    },
    30_000,
    100,
  );
}

describe('canary rollback under load: traffic leaves green before green drains', () => {
  const testbed = useTestbed();

  /**
   * A routing-rule canary of `<group>-blue` under query load (some users in the canary's hash
   * bucket), rolled back by `rollBack`; checks from the gateway's journal and the run's history
   * that the rule was at 0% and the canary entry inactive before green's drain was scheduled.
   */
  async function rollbackUnderLoad(
    group: string,
    steps: Record<string, unknown>[],
    rollBack: (handle: WorkflowHandle, proxy: GatewayOutageProxy, fleet: SandboxFleet) => Promise<void>,
  ): Promise<{ reason: string; report: LoadReport }> {
    const [blue, green, entry] = [`${group}-blue`, `${group}-green`, `${group}-green-canary`];
    const fleet: SandboxFleet = await testbed.fleet({
      healthIntervalMs: 100,
      rulesRefreshMs: GATEWAY_RULES_REFRESH_MS,
      rules: canaryReadyRules(`${group}-canary`),
      clusters: [{ name: blue, version: '470', routingGroup: group }],
    });
    // Cutover reaches the gateway through a proxy, so a test can make one of its calls fail.
    const proxy = await GatewayOutageProxy.start(fleet.gatewayUrl);
    await untilHealthy(fleet, blue);
    const since = await journalMark();
    const load = startQueryLoad({
      gatewayUrl: fleet.gatewayUrl,
      users: 40,
      concurrency: 4,
      durationMs: [50, 800],
      routingGroup: group,
    });
    let report: LoadReport | undefined;
    try {
      const plan = fastPlan(proxy.url, group, {
        strategy: 'canary',
        approval: { required: false },
        green: { provisioner: { controlUrl: fleet.gatewayUrl } },
        canary: { traffic: 'routing-rule', rulesRefresh: '500ms', steps, analysis: { interval: '500ms' } },
      });
      const handle = await startUpgrade(testbed.env.client, plan);
      await rollBack(handle, proxy, fleet);
      const result = await handle.result();
      report = await load.stop();

      assert.equal(result.outcome, 'ROLLED_BACK', result.status.timeline.map((e) => e.message).join('\n'));
      assert.equal(
        report.failed,
        0,
        `no client query failed: ${JSON.stringify(report.queries.filter((q) => q.state === 'FAILED').slice(0, 2))}`,
      );
      assert.ok(
        report.queries.some((q) => q.backend.startsWith(green)),
        'canary users were on green before the rollback',
      );
      assert.deepEqual(await gatewayBackends(fleet), [[blue, true]], 'blue alone; green and its canary entry are gone');

      const journal = fleet.journal(since);
      const drains = await drainsScheduled(handle, green);
      assert.ok(drains.length > 0, 'green was drained');
      const drainStart = drains[0];
      const ruleAtZero = journal.filter((e) => e.kind === 'rule.updated' && /< 0 =>/.test(e.detail ?? '')).at(-1);
      assert.ok(ruleAtZero, 'the canary rule went back to 0%');
      assert.ok(
        ruleAtZero.at + GATEWAY_RULES_REFRESH_MS <= drainStart,
        `the gateway routed by the 0% rule before green's drain started (rule written ${drainStart - ruleAtZero.at} ms before the drain)`,
      );
      const entryOff = journal.find((e) => e.kind === 'backend.deactivated' && e.name === entry);
      assert.ok(
        entryOff && entryOff.at <= drainStart,
        `the canary entry was inactive before green's drain started (${entryOff ? `${drainStart - entryOff.at} ms before` : 'never deactivated'})`,
      );
      const greenOff = journal.filter((e) => e.kind === 'backend.deactivated' && e.name === green).at(-1);
      assert.ok(!greenOff || greenOff.at <= drainStart, 'green itself was inactive before its drain started');
      const lateOnGreen = report.queries.filter((q) => q.backend.startsWith(green) && q.startedAt >= drainStart);
      assert.deepEqual(lateOnGreen, [], 'no query reached green once its drain started');
      assertJournal(journal, { alwaysServed: group, counts: nothingTwice(group) });
      await assertReplays(handle);
      return { reason: result.reason ?? '', report };
    } finally {
      if (!report) await load.stop().catch(() => undefined);
      await proxy.stop();
    }
  }

  it('a failure inside the 100% flip (the gateway refuses to deactivate blue): rule at 0% and canary entry inactive before green drains, no client query fails', async () => {
    const group = 'crbflip';
    const { reason } = await rollbackUnderLoad(
      group,
      [{ weight: 20, bake: '3s' }, { weight: 100 }],
      async (_handle, proxy) => {
        // Green is activated in blue's group, then the gateway refuses cutover's deactivation of blue.
        proxy.begin(
          'forbidden',
          (method, path) => method === 'POST' && path === `/gateway/backend/deactivate/${group}-blue`,
        );
      },
    );
    assert.match(reason, /shift 100% to crbflip-green failed/, 'the flip failed and rolled back');
  });

  it('a rollback from the 20% step: rule at 0% and canary entry inactive before green drains, no client query fails', async () => {
    const group = 'crbshare';
    await rollbackUnderLoad(group, [{ weight: 20, bake: '1m' }, { weight: 100 }], async (handle, _proxy, fleet) => {
      await waitForStatus(
        handle,
        inPhase('BAKING', (s) => s.trafficPercent === 20),
        'baking at 20%',
      );
      await untilLoadOnGreen(fleet, `${group}-green`);
      await handle.executeUpdate(rollbackUpdate, { args: [{ by: 'oncall', reason: 'rollback from the 20% step' }] });
    });
  });
});
