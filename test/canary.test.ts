import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { startUpgrade } from '../src/client/upgrades';
import { sleep, until, waitForPhase, waitForStatus } from '../src/devserver/wait';
import { canaryCondition } from '../src/integrations/traffic/routing-rule';
import { canaryReadyRules } from '../src/sandbox/canary-rules';
import { javaFloorMod, javaStringHashCode } from '../src/sandbox/routing-rules';
import type { SandboxFleet } from '../src/sandbox/fleet';
import { startQueryLoad, type LoadQuery } from '../src/sandbox/load';
import { renderView } from '../src/client/commands/status';
import { readUpgrade, type UpgradeView } from '../src/client/commands/upgrade-handle';
import {
  approveUpdate,
  pauseUpdate,
  promoteUpdate,
  resumeUpdate,
  statusQuery,
  type AnalysisProgress,
  type UpgradeStatus,
} from '../src/workflows/messages';
import { gatewayBackends } from './support/faults';
import { fastPlan } from './support/plans';
import { assertReplays } from './support/temporal';
import { useTestbed } from './support/testbed';

const RULES_REFRESH_MS = 200;
const SUGGEST_CONTINUE_AS_NEW_AT = 200;

describe('canary upgrade on a real Temporal dev server and the sandbox fleet', () => {
  // Temporal suggests continue-as-new early here, so every canary below also survives a change of run.
  const testbed = useTestbed({
    extraArgs: ['--dynamic-config-value', `limit.historyCount.suggestContinueAsNew=${SUGGEST_CONTINUE_AS_NEW_AT}`],
  });

  /** A fleet whose gateway routes by FILE rules: the routing-group header, then cutover's canary rule at 0%. */
  async function canaryFleet(group: string): Promise<SandboxFleet> {
    return testbed.fleet({
      healthIntervalMs: 100,
      rulesRefreshMs: RULES_REFRESH_MS,
      rules: canaryReadyRules(`${group}-canary`),
      clusters: [{ name: `${group}-blue`, version: '470', routingGroup: group }],
    });
  }

  function canaryPlan(
    fleet: SandboxFleet,
    group: string,
    canary: Record<string, unknown>,
    extra: Record<string, unknown> = {},
  ) {
    return fastPlan(fleet.gatewayUrl, group, {
      strategy: 'canary',
      approval: { required: false },
      canary: {
        traffic: 'routing-rule',
        rulesRefresh: `${RULES_REFRESH_MS}ms`,
        analysis: { interval: '500ms', maxConsecutiveFailures: 1 },
        ...canary,
      },
      ...extra,
    });
  }

  it('routing-rule shares: 500 users, 2,000+ queries per step, each step within 5 points of its weight, users sticky', async () => {
    const group = 'share';
    const fleet = await canaryFleet(group);
    const handle = await startUpgrade(
      testbed.env.client,
      canaryPlan(fleet, group, {
        steps: [
          { weight: 10, bake: '10m' },
          { weight: 50, bake: '10m' },
          { weight: 100, bake: '1s' },
        ],
        // A 2,000-query burst queues on green by design: this test measures shares, not the queue analysis.
        analysis: { interval: '500ms', maxConsecutiveFailures: 1, maxQueuedGrowth: 100_000 },
      }),
    );
    const isGreen = (backend: string) => backend.startsWith(`${group}-green`);
    for (const weight of [10, 50]) {
      await waitForStatus(
        handle,
        (s) => s.phase === 'BAKING' && s.trafficPercent === weight,
        `baking at ${weight}%`,
        60_000,
      );
      const queries = await burst(fleet.gatewayUrl, group, 2000);
      const during = await handle.query(statusQuery);
      assert.ok(
        during.phase === 'BAKING' && during.trafficPercent === weight,
        `still baking at ${weight}% after the burst: ${JSON.stringify(during.timeline.slice(-3))}`,
      );
      const onGreen = queries.filter((q) => isGreen(q.backend)).length;
      const share = (100 * onGreen) / queries.length;
      process.stderr.write(
        `canary step ${weight}%: observed ${share.toFixed(1)}% of ${queries.length} queries on green\n`,
      );
      assert.ok(Math.abs(share - weight) <= 5, `step ${weight}%: observed ${share.toFixed(1)}%`);
      assert.equal(queries.filter((q) => q.state === 'FAILED').length, 0, 'no query failed');
      const sides = new Map<string, Set<boolean>>();
      for (const query of queries)
        (sides.get(query.user) ?? sides.set(query.user, new Set()).get(query.user)!).add(isGreen(query.backend));
      assert.equal(
        [...sides.values()].filter((set) => set.size > 1).length,
        0,
        'no user moved between clusters within a step',
      );
      for (const [user, set] of sides) {
        assert.equal(
          set.has(true),
          javaFloorMod(javaStringHashCode(user), 100) < weight,
          `${user} is on the side its hash bucket says`,
        );
      }
      await handle.executeUpdate(promoteUpdate, { args: [{ by: 'test' }] });
    }
    const result = await handle.result();
    assert.equal(result.outcome, 'SUCCEEDED');
    assert.deepEqual(
      await gatewayBackends(fleet),
      [[`${group}-green`, true]],
      'only green remains; the canary entry is gone',
    );
    const rules = (await (await fetch(`${fleet.gatewayUrl}/webapp/getRoutingRules`)).json()) as {
      data: { name: string; condition: string }[];
    };
    assert.equal(
      rules.data.find((rule) => rule.name === `cutover-canary-${group}`)?.condition,
      canaryCondition(0),
      'the canary rule is back at 0%',
    );
  });

  it('error-rate breach at step 2 rolls back within one analysis interval plus the rules refresh; blue users see no failure', async () => {
    const group = 'breach';
    const fleet = await canaryFleet(group);
    const load = startQueryLoad({
      gatewayUrl: fleet.gatewayUrl,
      users: 200,
      concurrency: 8,
      durationMs: [0, 50],
      routingGroup: group,
    });
    const handle = await startUpgrade(
      testbed.env.client,
      canaryPlan(fleet, group, { steps: [{ weight: 10, bake: '1s' }, { weight: 50, bake: '1m' }, { weight: 100 }] }),
    );
    await waitForStatus(handle, (s) => s.phase === 'BAKING' && s.trafficPercent === 50, 'baking at 50%', 60_000);
    const faultAt = Date.now();
    await fleet.applyFaults(`${group}-green`, { failRate: 0.5 });
    const result = await handle.result();
    const report = await load.stop();
    assert.equal(result.outcome, 'ROLLED_BACK');
    assert.match(result.reason ?? '', /error rate/);
    const ruleBack = fleet.journal(faultAt).find((e) => e.kind === 'rule.updated' && /< 0 =>/.test(e.detail ?? ''));
    assert.ok(
      ruleBack,
      `the canary rule went back to 0%: ${JSON.stringify(fleet.journal(faultAt).map((e) => e.kind))}`,
    );
    const toBlueMs = ruleBack.at + RULES_REFRESH_MS - faultAt;
    process.stderr.write(
      `fault to blue serving every new query: ${toBlueMs} ms (analysis interval 500 ms, rules refresh ${RULES_REFRESH_MS} ms)\n`,
    );
    assert.ok(toBlueMs <= 500 + RULES_REFRESH_MS + 1500, `blue served all traffic ${toBlueMs} ms after the fault`);
    const onBlue = report.queries.filter((q) => q.backend === `${group}-blue`);
    assert.ok(onBlue.length > 0);
    assert.equal(onBlue.filter((q) => q.state === 'FAILED').length, 0, 'no query failed for users on blue');
    assert.deepEqual(await gatewayBackends(fleet), [[`${group}-blue`, true]]);
    assert.equal(fleet.cluster(`${group}-green`), undefined, 'green torn down');
    await assertReplays(handle as WorkflowHandle);
  });

  it('a canary that continues as new keeps its step, bake clock and analysis', async () => {
    const group = 'longbake';
    const fleet = await canaryFleet(group);
    const handle = await startUpgrade(
      testbed.env.client,
      canaryPlan(
        fleet,
        group,
        {
          steps: [
            { weight: 10, bake: '1h' },
            { weight: 100, bake: '1s' },
          ],
          analysis: { interval: '100ms' },
        },
        { retire: { keepBlueFor: '0s' } },
      ),
    );
    await waitForStatus(handle, (s) => s.phase === 'BAKING' && s.trafficPercent === 10, 'baking at 10%');
    // A healthy bake adds no events; each pause/resume hands the analysis back to the workflow, which may then continue as new.
    let continued: UpgradeStatus | undefined;
    for (let cycle = 0; cycle < 30 && !continued; cycle++) {
      await handle.executeUpdate(pauseUpdate, { args: [{ by: 'test' }] });
      await sleep(300);
      await handle.executeUpdate(resumeUpdate, { args: [{ by: 'test' }] });
      await sleep(500);
      const status = await waitForStatus(handle, (s) => !s.paused, 'resumed');
      if (status.timeline.some((e) => e.message.startsWith('continued as a new run'))) continued = status;
    }
    assert.ok(continued, 'Temporal suggested continue-as-new and the canary followed it');
    assert.equal(continued.trafficPercent, 10, 'the new run still holds the canary at 10%');
    assert.equal(continued.phase, 'BAKING');
    assert.ok(
      (continued.analysis?.samples ?? 0) > 10,
      `analysis samples carried over (${continued.analysis?.samples})`,
    );
    const carried = continued.analysis?.samples ?? 0;
    const view = await waitForView(
      testbed.env.client,
      handle.workflowId,
      (v) => (v.liveSample?.samples ?? 0) > carried,
      `the new run's analysis counting on from ${carried} samples`,
    );
    const elapsedMs = (view.pendingActivity?.heartbeat as AnalysisProgress).elapsedMs;
    assert.ok(
      elapsedMs >= carried * 100,
      `the bake clock carried over: ${elapsedMs} ms analysed, ${carried} samples of 100 ms before`,
    );
    await handle.executeUpdate(promoteUpdate, { args: [{ by: 'test', full: true }] });
    const result = await handle.result();
    assert.equal(result.outcome, 'SUCCEEDED');
    const runs: string[] = [];
    for await (const run of testbed.env.client.workflow.list({ query: `WorkflowId = '${handle.workflowId}'` }))
      runs.push(run.runId);
    assert.ok(runs.length >= 2, `the upgrade ran as ${runs.length} runs`);
    const events = (await testbed.env.client.workflow.getHandle(handle.workflowId).fetchHistory()).events?.length ?? 0;
    assert.ok(events <= SUGGEST_CONTINUE_AS_NEW_AT + 60, `the last run's history stays small (${events} events)`);
    await assertReplays(
      testbed.env.client.workflow.getHandle(handle.workflowId, handle.firstExecutionRunId),
      'canaryUpgrade-cutover-longbake-first-run',
    );
    await assertReplays(
      testbed.env.client.workflow.getHandle(handle.workflowId),
      'canaryUpgrade-cutover-longbake-last-run',
    );
    assert.deepEqual(await gatewayBackends(fleet), [[`${group}-green`, true]]);
  });

  it('history does not grow with the bake: 2 s and 8 s bakes sampled every 250 ms have the same number of events', async () => {
    const run = async (group: string, bake: string) => {
      const fleet = await canaryFleet(group);
      const plan = canaryPlan(
        fleet,
        group,
        {
          steps: [
            { weight: 10, bake },
            { weight: 50, bake },
            { weight: 100, bake },
          ],
          analysis: { interval: '250ms' },
        },
        { retire: { keepBlueFor: '0s' } },
      );
      const handle = await startUpgrade(testbed.env.client, plan);
      let live: UpgradeView | undefined;
      if (bake === '8s') {
        await waitForStatus(handle, (s) => s.phase === 'BAKING' && s.trafficPercent === 10, 'baking at 10%');
        live = await waitForView(
          testbed.env.client,
          handle.workflowId,
          (view) => (view.liveSample?.samples ?? 0) >= 3,
          'a live sample in the heartbeat',
        );
      }
      const result = await handle.result();
      assert.equal(result.outcome, 'SUCCEEDED', `${bake}: ${result.reason ?? ''}`);
      const events = (await handle.fetchHistory()).events?.length ?? 0;
      return { events, samples: result.status.analysis?.samples ?? 0, live, handle };
    };
    const [short, long] = await Promise.all([run('flat2', '2s'), run('flat8', '8s')]);
    process.stderr.write(
      `canary history: 3 bakes of 2 s: ${short.events} events (${short.samples} samples); 3 bakes of 8 s: ${long.events} events (${long.samples} samples)\n`,
    );
    assert.ok(
      long.samples >= short.samples + 50,
      `the longer bakes took more samples (${short.samples} vs ${long.samples})`,
    );
    assert.ok(Math.abs(long.events - short.events) <= 2, `same history size: ${short.events} vs ${long.events} events`);
    const view = long.live!;
    assert.equal(view.pendingActivity?.type, 'analyseCanary');
    assert.equal(view.pendingActivity?.attempt, 1);
    assert.ok(
      view.liveSample?.at && view.liveSample.gatewayStatus === 'HEALTHY',
      `the heartbeat carries a sample: ${JSON.stringify(view.liveSample)}`,
    );
    assert.ok(
      renderView(view).some((line) => line.startsWith('  live:      sample ')),
      `status shows the live sample:\n${renderView(view).join('\n')}`,
    );
    await assertReplays(long.handle as WorkflowHandle);
  });

  it('backend-pool traffic: green joins the group and takes its 1/(n+1) share, then everything', async () => {
    const group = 'pool';
    const fleet = await canaryFleet(group);
    const handle = await startUpgrade(
      testbed.env.client,
      canaryPlan(
        fleet,
        group,
        {
          traffic: 'backend-pool',
          steps: [
            { weight: 50, bake: '10m' },
            { weight: 100, bake: '1s' },
          ],
        },
        { retire: { keepBlueFor: '0s' } },
      ),
    );
    await waitForStatus(handle, (s) => s.phase === 'BAKING' && s.trafficPercent === 50, 'baking at 50%');
    const queries = await burst(fleet.gatewayUrl, group, 1000);
    const share = (100 * queries.filter((q) => q.backend === `${group}-green`).length) / queries.length;
    process.stderr.write(
      `backend-pool step 50%: observed ${share.toFixed(1)}% of ${queries.length} queries on green\n`,
    );
    assert.ok(Math.abs(share - 50) <= 7, `observed ${share.toFixed(1)}%`);
    await handle.executeUpdate(promoteUpdate, { args: [{ by: 'test' }] });
    const result = await handle.result();
    assert.equal(result.outcome, 'SUCCEEDED');
    assert.deepEqual(await gatewayBackends(fleet), [[`${group}-green`, true]]);
  });

  it('a manual gate waits for approve, pause freezes the bake, promote --full skips the rest', async () => {
    const group = 'gates';
    const fleet = await canaryFleet(group);
    const handle = await startUpgrade(
      testbed.env.client,
      canaryPlan(
        fleet,
        group,
        {
          steps: [
            { weight: 10, bake: '2s' },
            { approval: true },
            { weight: 50, bake: '1h' },
            { weight: 100, bake: '1h' },
          ],
        },
        { retire: { keepBlueFor: '0s' } },
      ),
    );
    await waitForStatus(handle, (s) => s.phase === 'BAKING' && s.trafficPercent === 10, 'baking at 10%');
    await handle.executeUpdate(pauseUpdate, { args: [{ by: 'test' }] });
    await sleep(3500);
    const paused = await handle.query(statusQuery);
    assert.equal(paused.phase, 'BAKING', 'a paused 2s bake is still baking after 3.5s');
    assert.equal(paused.paused, true);
    await handle.executeUpdate(resumeUpdate, { args: [{ by: 'test' }] });
    const gate = await waitForPhase(handle as WorkflowHandle, 'AWAITING_APPROVAL');
    assert.equal(gate.trafficPercent, 10, 'the gate holds the canary at 10%');
    await handle.executeUpdate(approveUpdate, { args: [{ by: 'test' }] });
    await waitForStatus(handle, (s) => s.phase === 'BAKING' && s.trafficPercent === 50, 'baking at 50%');
    await handle.executeUpdate(promoteUpdate, { args: [{ by: 'test', full: true }] });
    const result = await handle.result();
    assert.equal(result.outcome, 'SUCCEEDED');
    assert.ok(
      result.status.timeline.some((e) => /1h bake skipped \(promoted with --full\)/.test(e.message)),
      'the 100% bake was skipped',
    );
    await assertReplays(handle as WorkflowHandle);
    assert.deepEqual(await gatewayBackends(fleet), [[`${group}-green`, true]]);
  });
});

/** Runs `count` short queries over 500 users through the gateway and returns them, attributed. */
async function burst(gatewayUrl: string, group: string, count: number): Promise<LoadQuery[]> {
  const load = startQueryLoad({ gatewayUrl, users: 500, concurrency: 32, durationMs: [0, 0], routingGroup: group });
  await until(`${count} queries submitted`, () => load.report().submitted >= count, 120_000);
  return (await load.stop()).queries;
}

/** Polls the CLI's view of an upgrade (describe + status query) until `accept` holds. */
async function waitForView(
  client: Client,
  id: string,
  accept: (view: UpgradeView) => boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<UpgradeView> {
  let last: UpgradeView | undefined;
  await until(
    () => `${what}; last view: ${JSON.stringify(last?.pendingActivity)}`,
    async () => accept((last = await readUpgrade(client, id, 5_000))),
    timeoutMs,
    200,
  );
  return last!;
}
