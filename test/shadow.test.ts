import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { startUpgrade } from '../src/client/upgrades';
import { untilHealthy, waitForPhase, waitForStatus } from '../src/devserver/wait';
import { canaryReadyRules } from '../src/sandbox/canary-rules';
import { TrinoHttpClient } from '../src/integrations/trino/client';
import type { UpgradePlan } from '../src/plan/schema';
import type { SandboxFleet } from '../src/sandbox/fleet';
import { approveUpdate, rollbackSignal, statusQuery, type UpgradeResult } from '../src/workflows/messages';
import { runCli } from './support/cli';
import { fastPlan } from './support/plans';
import { assertReplays } from './support/temporal';
import { useTestbed } from './support/testbed';

type Handle = WorkflowHandleWithFirstExecutionRunId<(input: { plan: UpgradePlan }) => Promise<UpgradeResult>>;

/**
 * Shadow validation (issue 13) on a real dev server, the real worker and the sandbox fleet: the
 * sample's queries run on blue's and green's own coordinators before any traffic moves, and a
 * mismatch blocks, rolls back or is noted, as the plan says. The engine is the worker's own
 * (src/shadow/), against the sandbox coordinators' result rows and fault switches.
 */
describe('shadow validation on a real Temporal dev server and the sandbox fleet', () => {
  const testbed = useTestbed();

  function start(plan: UpgradePlan): Promise<Handle> {
    return startUpgrade(testbed.env.client, plan, { startedBy: 'test' });
  }

  /** Queries the group's users ran through the gateway: what the gateway's history holds. */
  async function runThroughGateway(fleet: SandboxFleet, group: string, queries: { sql: string; user: string }[]) {
    const client = new TrinoHttpClient({ url: fleet.gatewayUrl, connections: 2 });
    try {
      for (const query of queries)
        await client.execute(query.sql, {
          user: query.user,
          headers: { 'X-Trino-Routing-Group': group, 'X-Trino-Source': 'dashboards' },
        });
    } finally {
      await client.close();
    }
  }

  /** Every query a coordinator ran, as `/v1/query` lists it. */
  async function queriesOn(url: string) {
    const client = new TrinoHttpClient({ url, connections: 1 });
    try {
      return await client.listQueries();
    } finally {
      await client.close();
    }
  }

  async function activeBackends(fleet: SandboxFleet): Promise<string[]> {
    const response = await fetch(`${fleet.gatewayUrl}/gateway/backend/active`);
    return ((await response.json()) as { name: string }[]).map((backend) => backend.name).sort();
  }

  it('a clean green passes: history queries replayed as their users on both sides, report in status, upgrade goes on', async () => {
    const group = 'shadowclean';
    const fleet = await testbed.fleetWithBlue(group);
    await runThroughGateway(fleet, group, [
      { sql: 'SELECT 1', user: 'alice' },
      { sql: 'SELECT 2', user: 'bob' },
      { sql: 'SELECT random()', user: 'bob' },
      { sql: "INSERT INTO t VALUES ('x')", user: 'mallory' },
    ]);
    const handle = await start(
      fastPlan(fleet.gatewayUrl, group, {
        approval: { required: false },
        retire: { teardown: false },
        shadow: { source: ['history', 'queries'], queries: ['SELECT 3'], sample: 10, onMismatch: 'block' },
      }),
    );
    const result = await handle.result();
    assert.equal(result.outcome, 'SUCCEEDED');
    const shadow = result.status.shadow;
    assert.ok(shadow, 'the status carries the shadow report');
    assert.deepEqual(
      {
        queries: shadow.report.queries,
        matched: shadow.report.matched,
        mismatched: shadow.report.mismatched,
        skipped: shadow.report.skipped,
        fromPlan: shadow.report.fromPlan,
        fromHistory: shadow.report.fromHistory,
        notReadOnly: shadow.report.notReadOnly,
      },
      { queries: 4, matched: 3, mismatched: 0, skipped: 1, fromPlan: 1, fromHistory: 3, notReadOnly: 1 },
    );
    assert.deepEqual(shadow.report.skippedReasons, [{ reason: 'random() differs between runs', count: 1 }]);
    // Green (torn down at the end) ran them too; blue's coordinator shows each replay as the user it ran as.
    const onBlue = await queriesOn(fleet.cluster(`${group}-blue`)!.url);
    const replayed = (sql: string, user: string) =>
      onBlue.filter((query) => query.query === sql && query.user === user).length;
    assert.equal(replayed('SELECT 1', 'alice'), 2, "alice's query: once through the gateway, once replayed");
    assert.equal(replayed('SELECT 2', 'bob'), 2, "bob's query: once through the gateway, once replayed");
    assert.equal(replayed('SELECT random()', 'bob'), 1, 'a non-deterministic query is not replayed');
    assert.ok(
      result.status.timeline.some((entry) =>
        /shadow validation: 3 matched, 0 mismatched, 1 skipped/.test(entry.message),
      ),
    );
    await assertReplays(handle);
  });

  it('a mismatch with block holds the approval until `cutover approve` acknowledges the report (query ids and hashes in it)', async () => {
    const group = 'shadowblock';
    const fleet = await testbed.fleetWithBlue(group);
    const handle = await start(
      fastPlan(fleet.gatewayUrl, group, {
        approval: { required: true },
        shadow: { source: ['queries'], queries: ['SELECT 1', 'SELECT version()'], onMismatch: 'block' },
      }),
    );
    await waitForPhase(handle, 'AWAITING_APPROVAL');
    const held = await handle.query(statusQuery);
    assert.equal(held.gate, '3:shadow', 'the gate names the shadow step');
    assert.deepEqual(await activeBackends(fleet), [`${group}-blue`], 'no traffic moved while held');
    const mismatch = held.shadow?.report.mismatches[0];
    assert.ok(mismatch, 'the report lists the mismatch');
    assert.equal(mismatch.sha256, createHash('sha256').update('SELECT version()').digest('hex'));
    assert.equal(mismatch.text, undefined, 'no query text in history by default');
    assert.equal(mismatch.kind, 'rows');
    assert.deepEqual(mismatch.firstDifferences, [{ blue: ['470'], green: ['480'] }]);
    const blueIds = (await queriesOn(fleet.cluster(`${group}-blue`)!.url)).map((query) => query.queryId);
    assert.ok(mismatch.blueQueryId && blueIds.includes(mismatch.blueQueryId), 'blue query id is one blue ran');
    assert.ok(mismatch.greenQueryId && mismatch.greenQueryId !== mismatch.blueQueryId);

    // `cutover approve` says what it acknowledges.
    const ack = await runCli(testbed.env.address, ['approve', handle.workflowId, '--by', 'alice'], {
      CUTOVER_SIGNING_KEY: '',
    });
    assert.equal(ack.code, 0, ack.stderr);
    assert.match(
      ack.stdout,
      /shadow report acknowledged by alice \(1 matched, 1 mismatched, 0 skipped, 0 slow of 2 queries, gate 3:shadow\)/,
    );
    // The plan's own approval gate comes next: the acknowledgement moved nothing.
    await waitForStatus(
      handle,
      (status) => status.gate === '4:approval' && status.awaitingApproval,
      'the approval gate',
    );
    assert.deepEqual(await activeBackends(fleet), [`${group}-blue`]);
    await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] });
    const result = await handle.result();
    assert.equal(result.outcome, 'SUCCEEDED');
    assert.equal(result.status.shadow?.acknowledgedBy, 'alice');
    await assertReplays(handle);
  });

  it('a mismatch with rollback rolls back before any traffic moves: blue serves, green removed', async () => {
    const group = 'shadowrb';
    const fleet = await testbed.fleetWithBlue(group);
    const handle = await start(
      fastPlan(fleet.gatewayUrl, group, {
        shadow: { source: ['queries'], queries: ['SELECT version()'], onMismatch: 'rollback' },
      }),
    );
    const result = await handle.result();
    assert.equal(result.outcome, 'ROLLED_BACK');
    assert.match(result.reason ?? '', /shadow validation: 0 matched, 1 mismatched.*onMismatch: rollback/);
    assert.deepEqual(await activeBackends(fleet), [`${group}-blue`]);
    assert.equal(fleet.cluster(`${group}-green`), undefined, 'green torn down');
    await assertReplays(handle);
  });

  it('rollback while shadowing stops the replay at once: blue serves, green removed', async () => {
    const group = 'shadowstop';
    const fleet = await testbed.fleetWithBlue(group);
    const queries = Array.from({ length: 10 }, (_, i) => `/* sandbox:duration=3s */ SELECT ${i + 1}`);
    const handle = await start(
      fastPlan(fleet.gatewayUrl, group, {
        shadow: { source: ['queries'], queries, sample: 10, concurrency: 1, onMismatch: 'block' },
      }),
    );
    await waitForPhase(handle, 'SHADOWING', 60_000);
    const askedAt = Date.now();
    await handle.signal(rollbackSignal, { by: 'bob', reason: 'changed my mind' });
    const result = await handle.result();
    assert.equal(result.outcome, 'ROLLED_BACK');
    assert.ok(Date.now() - askedAt < 15_000, `rolled back within 15 s, not after the 30 s of replay`);
    assert.equal(result.status.shadow, undefined, 'no report of a replay that was stopped');
    assert.deepEqual(await activeBackends(fleet), [`${group}-blue`]);
    assert.equal(fleet.cluster(`${group}-green`), undefined, 'green torn down');
  });

  it('a canary with warn notes the mismatch and goes on: the shadow step runs before its first shift', async () => {
    const group = 'shadowcanary';
    const fleet = await testbed.fleet({
      healthIntervalMs: 100,
      rulesRefreshMs: 200,
      rules: canaryReadyRules(`${group}-canary`),
      clusters: [{ name: `${group}-blue`, version: '470', routingGroup: group }],
    });
    await untilHealthy(fleet, `${group}-blue`);
    const handle = await start(
      fastPlan(fleet.gatewayUrl, group, {
        strategy: 'canary',
        approval: { required: false },
        canary: {
          traffic: 'routing-rule',
          rulesRefresh: '200ms',
          steps: [
            { weight: 50, bake: '1s' },
            { weight: 100, bake: '1s' },
          ],
          analysis: { interval: '500ms' },
        },
        shadow: { source: ['queries'], queries: ['SELECT version()', 'SELECT 1'], onMismatch: 'warn' },
      }),
    );
    const result = await handle.result();
    assert.equal(result.outcome, 'SUCCEEDED');
    assert.equal(result.status.steps[3], `shadow queries on ${group}-blue and ${group}-green and compare`);
    assert.equal(result.status.shadow?.report.mismatched, 1);
    const messages = result.status.timeline.map((entry) => entry.message);
    const warned = messages.findIndex((message) =>
      /going on as the plan says \(shadow.onMismatch: warn\)/.test(message),
    );
    const shifted = messages.findIndex((message) => /50%/.test(message));
    assert.ok(warned >= 0 && shifted > warned, `the warning comes before the first shift: ${messages.join(' | ')}`);
    await assertReplays(handle);
  });

  it('history stays flat in the number of queries: 20 and 200 replayed queries give the same number of events', async () => {
    const events: number[] = [];
    for (const count of [20, 200]) {
      const group = `shadowflat${count}`;
      const fleet = await testbed.fleetWithBlue(group);
      const queries = Array.from({ length: count }, (_, i) => `SELECT ${i + 1}`);
      queries[0] = 'SELECT version()';
      const handle = await start(
        fastPlan(fleet.gatewayUrl, group, {
          approval: { required: false },
          shadow: { source: ['queries'], queries, sample: count, concurrency: 4, onMismatch: 'warn' },
        }),
      );
      const result = await handle.result();
      assert.equal(result.outcome, 'SUCCEEDED');
      assert.equal(result.status.shadow?.report.queries, count);
      assert.equal(result.status.shadow?.report.mismatched, 1);
      events.push((await handle.fetchHistory()).events?.length ?? 0);
    }
    process.stderr.write(`history events with 20 and 200 shadow queries: ${events.join(', ')}\n`);
    assert.equal(events[0], events[1]);
  });
});
