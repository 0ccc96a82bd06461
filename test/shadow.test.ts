import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { startUpgrade } from '../src/client/upgrades';
import { until, waitForPhase, waitForStatus } from '../src/devserver/wait';
import { TrinoHttpClient } from '../src/integrations/trino/client';
import type { UpgradePlan } from '../src/plan/schema';
import { RELEASE_ANSWER_QUERY, SHADOW_SAMPLE_QUERIES } from '../src/sandbox/coordinator-results';
import type { SandboxFleet } from '../src/sandbox/fleet';
import { approveUpdate, rollbackSignal, statusQuery, type UpgradeResult } from '../src/workflows/messages';
import { runCli } from './support/cli';
import { fastPlan } from './support/plans';
import { assertReplays } from './support/temporal';
import { TEST_SECRETS } from './support/secret-scan';
import { queriesOn, runThroughGateway } from './support/shadow';
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

  async function activeBackends(fleet: SandboxFleet, authorization?: string): Promise<string[]> {
    const response = await fetch(`${fleet.gatewayUrl}/gateway/backend/active`, {
      headers: authorization ? { authorization } : {},
    });
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

  it('a history holding SELECT version() (BI tools and notebooks run it) does not hold an upgrade with block: skipped before it runs, with the reason', async () => {
    const group = 'shadowversion';
    const fleet = await testbed.fleetWithBlue(group);
    await runThroughGateway(fleet, group, [
      { sql: 'SELECT version()', user: 'dmitri' },
      { sql: 'SELECT 1', user: 'alice' },
    ]);
    const handle = await start(
      fastPlan(fleet.gatewayUrl, group, {
        // A held acknowledgement would time out and roll back: the test fails at once rather than waiting.
        approval: { required: false, timeout: '10s' },
        retire: { teardown: false },
        shadow: { source: ['history'], sample: 10, onMismatch: 'block' },
      }),
    );
    const result = await handle.result();
    assert.equal(result.outcome, 'SUCCEEDED', result.reason);
    const report = result.status.shadow?.report;
    assert.deepEqual(
      [report?.queries, report?.matched, report?.mismatched, report?.skipped],
      [2, 1, 0, 1],
      JSON.stringify(report),
    );
    assert.deepEqual(report?.skippedReasons, [{ reason: "version() answers each cluster's own release", count: 1 }]);
    assert.equal(result.status.shadow?.acknowledgedBy, undefined, 'nothing to acknowledge');
    const byDmitri = async (name: string) =>
      (await queriesOn(fleet.cluster(name)!.url)).filter((query) => query.user === 'dmitri').length;
    assert.equal(await byDmitri(`${group}-blue`), 1, 'only the run through the gateway: no replay on blue');
    assert.equal(await byDmitri(`${group}-green`), 0, 'never run on green');
    await assertReplays(handle);
  });

  it('a mismatch with block holds the approval until `cutover approve` acknowledges the report (query ids and hashes in it)', async () => {
    const group = 'shadowblock';
    const fleet = await testbed.fleetWithBlue(group);
    const handle = await start(
      fastPlan(fleet.gatewayUrl, group, {
        approval: { required: true },
        shadow: { source: ['queries'], queries: ['SELECT 1', RELEASE_ANSWER_QUERY], onMismatch: 'block' },
      }),
    );
    await waitForPhase(handle, 'AWAITING_APPROVAL');
    const held = await handle.query(statusQuery);
    assert.equal(held.gate, '3:shadow', 'the gate names the shadow step');
    assert.deepEqual(await activeBackends(fleet), [`${group}-blue`], 'no traffic moved while held');
    const mismatch = held.shadow?.report.mismatches[0];
    assert.ok(mismatch, 'the report lists the mismatch');
    assert.equal(mismatch.sha256, createHash('sha256').update(RELEASE_ANSWER_QUERY).digest('hex'));
    assert.equal(mismatch.text, undefined, 'no query text in history by default');
    assert.equal(mismatch.kind, 'rows');
    assert.deepEqual(mismatch.firstDifferences, [{ blue: ['release 470'], green: ['release 480'] }]);
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
        shadow: { source: ['queries'], queries: [RELEASE_ANSWER_QUERY], onMismatch: 'rollback' },
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
    const fleet = await testbed.canaryFleetWithBlue(group);
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
        shadow: { source: ['queries'], queries: [RELEASE_ANSWER_QUERY, 'SELECT 1'], onMismatch: 'warn' },
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

  it('every mismatch kind at once on green, with warn: each query classified exactly (kind per hash, error names, counts), the upgrade goes on', async () => {
    const group = 'shadowkinds';
    const fleet = await testbed.fleetWithBlue(group);
    const { orders, ordered, totals, nested, limited, volatile, missing } = SHADOW_SAMPLE_QUERIES;
    // Each query carries a marker comment the sandbox's fault rules select it by (comments do not change its result).
    const q = {
      match: `/* case:match */ ${orders}`,
      rows: `/* case:rows */ ${ordered}`,
      rowCount: `/* case:rowCount */ ${nested}`,
      type: `/* case:type */ ${orders}`,
      floatBeyond: `/* case:floatBeyond */ ${orders}`,
      greenError: `/* case:greenError */ ${ordered}`,
      sameError: `/* case:sameError */ ${missing}`,
      // Its double average is summed in another order on green: the last bits differ, within the tolerance.
      floatWithin: `/* case:floatWithin */ ${totals}`,
      nowRandom: volatile,
      uuid: 'SELECT uuid() AS id',
      limit: limited,
      // Differs between two runs on blue too (the `unstable` result change on both clusters), whatever its text says.
      unstable: `/* case:unstable */ ${nested}`,
      // 300 ms on blue; green runs every query 20 times slower, so this one takes 6 s there: far past the
      // ratio of 10. The others run 20 ms (400 ms on green), which the latency floor (100 ms) keeps at a ratio of about 4.
      slow: `/* sandbox:duration=300ms */ /* case:slow */ ${ordered}`,
    };
    await fleet.applyFaults(`${group}-blue`, { resultChanges: [{ sqlContains: 'case:unstable', change: 'unstable' }] });
    const greenFaults = fleet.applyFaults.bind(fleet, `${group}-green`, {
      queryLatencyFactor: 20,
      resultChanges: [
        { sqlContains: 'case:rows', change: 'rows' },
        { sqlContains: 'case:rowCount', change: 'rowCount' },
        { sqlContains: 'case:type', change: 'type' },
        { sqlContains: 'case:floatBeyond', change: 'float' },
        { sqlContains: 'case:unstable', change: 'unstable' },
      ],
      errors: [{ rate: 1, errorType: 'USER_ERROR', errorName: 'FUNCTION_NOT_FOUND', sqlContains: 'case:greenError' }],
    });
    const handle = await start(
      fastPlan(fleet.gatewayUrl, group, {
        approval: { required: false },
        retire: { teardown: false },
        shadow: {
          source: ['queries'],
          queries: Object.values(q),
          sample: 20,
          concurrency: 4,
          maxLatencyRatio: 10,
          onMismatch: 'warn',
        },
      }),
    );
    // Green's faults go on as soon as the provisioner created it: before it is verified, registered or shadowed.
    await until('green created', () => fleet.cluster(`${group}-green`) !== undefined, 60_000, 10);
    await greenFaults();
    const result = await handle.result();
    assert.equal(result.outcome, 'SUCCEEDED', result.reason);
    assert.deepEqual(await activeBackends(fleet), [`${group}-green`], 'the upgrade went on: green serves the group');

    const report = result.status.shadow?.report;
    assert.ok(report, 'the status carries the shadow report');
    assert.deepEqual(
      {
        queries: report.queries,
        matched: report.matched,
        mismatched: report.mismatched,
        skipped: report.skipped,
        slow: report.slow,
        unlisted: report.unlisted,
      },
      { queries: 13, matched: 3, mismatched: 5, skipped: 4, slow: 1, unlisted: 0 },
    );
    const sha = (sql: string) => createHash('sha256').update(sql).digest('hex');
    const byHash = new Map(Object.entries(q).map(([name, sql]) => [sha(sql), name]));
    const listed = Object.fromEntries(
      report.mismatches.map((mismatch) => [
        byHash.get(mismatch.sha256) ?? `unknown ${mismatch.sha256}`,
        {
          verdict: mismatch.verdict,
          kind: mismatch.kind,
          blueError: mismatch.blueError,
          greenError: mismatch.greenError,
          ids: Boolean(mismatch.blueQueryId && mismatch.greenQueryId),
        },
      ]),
    );
    const clean = { blueError: undefined, greenError: undefined, ids: true };
    assert.deepEqual(listed, {
      rows: { verdict: 'mismatch', kind: 'rows', ...clean },
      rowCount: { verdict: 'mismatch', kind: 'rowCount', ...clean },
      type: { verdict: 'mismatch', kind: 'types', ...clean },
      floatBeyond: { verdict: 'mismatch', kind: 'rows', ...clean },
      greenError: { verdict: 'mismatch', kind: 'error', ...clean, greenError: 'FUNCTION_NOT_FOUND' },
      slow: { verdict: 'slow', kind: 'latency', ...clean },
    });
    const slow = report.mismatches.find((mismatch) => mismatch.verdict === 'slow');
    assert.ok((slow?.latencyRatio ?? 0) > 10, `the slow query's ratio: ${slow?.latencyRatio}`);
    const floatBeyond = report.mismatches.find((mismatch) => mismatch.sha256 === sha(q.floatBeyond));
    assert.match(floatBeyond?.reason ?? '', /double within a relative 1e-9/);
    assert.deepEqual(
      [...report.skippedReasons].sort((a, b) => a.reason.localeCompare(b.reason)),
      [
        { reason: 'LIMIT without ORDER BY returns any subset of the rows', count: 1 },
        { reason: 'now() differs between runs; random() differs between runs', count: 1 },
        { reason: 'two runs on blue differ: rows differ', count: 1 },
        { reason: 'uuid() differs between runs', count: 1 },
      ],
    );

    // What blue ran: the text-skipped queries never, the unstable one twice (the second run told it apart),
    // the same error on both sides, and green's results really differ from blue's within the tolerance.
    const onBlue = await queriesOn(fleet.cluster(`${group}-blue`)!.url);
    const runsOnBlue = (sql: string) => onBlue.filter((query) => query.query === sql);
    for (const sql of [q.nowRandom, q.uuid, q.limit]) assert.equal(runsOnBlue(sql).length, 0, `${sql} not run`);
    assert.equal(runsOnBlue(q.unstable).length, 2);
    assert.equal(runsOnBlue(q.match).length, 1);
    const onGreen = await queriesOn(fleet.cluster(`${group}-green`)!.url);
    for (const side of [onBlue, onGreen])
      assert.deepEqual(
        side.filter((query) => query.query === q.sameError).map((query) => [query.state, query.errorName]),
        [['FAILED', 'TABLE_NOT_FOUND']],
      );
    const averages = async (url: string) => {
      const client = new TrinoHttpClient({ url, connections: 1 });
      try {
        const { rows } = await client.execute(q.floatWithin, { user: 'test' });
        return new Map(rows.map((row) => [row[0], row[3]]));
      } finally {
        await client.close();
      }
    };
    const [blueAverages, greenAverages] = [
      await averages(fleet.cluster(`${group}-blue`)!.url),
      await averages(fleet.cluster(`${group}-green`)!.url),
    ];
    assert.ok(
      [...blueAverages].some(([customer, value]) => greenAverages.get(customer) !== value),
      'the float-within-tolerance query really returns other doubles on green',
    );

    const messages = result.status.timeline.map((entry) => entry.message);
    assert.ok(
      messages.some((message) =>
        /shadow validation: 3 matched, 5 mismatched, 4 skipped, 1 slow of 13 queries/.test(message),
      ),
      messages.join(' | '),
    );
    assert.ok(messages.some((message) => /going on as the plan says \(shadow.onMismatch: warn\)/.test(message)));
    await assertReplays(handle);
  });

  it('nothing to compare is inconclusive, never a pass: an empty history holds the gate (block, the default) until acknowledged', async () => {
    const group = 'shadowempty';
    const fleet = await testbed.fleetWithBlue(group);
    const handle = await start(
      fastPlan(fleet.gatewayUrl, group, { approval: { required: false }, shadow: { source: ['history'] } }),
    );
    const held = await waitForStatus(handle, (status) => status.awaitingApproval, 'the shadow gate');
    assert.equal(held.gate, '3:shadow');
    assert.deepEqual(await activeBackends(fleet), [`${group}-blue`], 'no traffic moved while held');
    assert.equal(
      held.shadow?.report.inconclusive,
      '0 of 0 queries compared, fewer than shadow.minQueries 1 (nothing to replay: no read-only query in the sources)',
    );
    assert.ok(
      held.timeline.some((entry) =>
        /^shadow validation could not judge green \(0 of 0 queries compared/.test(entry.message),
      ),
      'the timeline says why it holds',
    );
    const status = await runCli(testbed.env.address, ['status', handle.workflowId]);
    assert.match(status.stdout, /INCONCLUSIVE: 0 of 0 queries compared/);
    await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] });
    const result = await handle.result();
    assert.equal(result.outcome, 'SUCCEEDED');
    assert.equal(result.status.shadow?.acknowledgedBy, 'alice');
    assert.ok(result.status.timeline.some((entry) => /^shadow validation inconclusive: 0 of 0/.test(entry.message)));
    await assertReplays(handle);
  });

  it('a gateway user without the ADMIN role: the history (only its own queries) is not sampled, the step says why; rollback rolls back', async () => {
    const group = 'shadownoadmin';
    const fleet = await testbed.fleet({
      healthIntervalMs: 100,
      users: {
        [TEST_SECRETS.CUTOVER_GATEWAY_USER]: {
          password: TEST_SECRETS.CUTOVER_GATEWAY_PASSWORD,
          roles: ['API', 'USER'],
        },
      },
      clusters: [{ name: `${group}-blue`, version: '470', routingGroup: group }],
    });
    // untilHealthy reads the gateway's API without credentials: ask the sandbox gateway itself.
    await until('blue HEALTHY', () => fleet.gateway.backendState(`${group}-blue`)?.trinoStatus === 'HEALTHY');
    await runThroughGateway(fleet, group, [{ sql: 'SELECT 1', user: 'alice' }]);
    const handle = await start(
      fastPlan(fleet.gatewayUrl, group, {
        approval: { required: false },
        shadow: { source: ['history'], onInconclusive: 'rollback' },
      }),
    );
    const result = await handle.result();
    assert.equal(result.outcome, 'ROLLED_BACK', result.reason);
    const report = result.status.shadow?.report;
    assert.equal(report?.queries, 0, "alice's query was not replayed as if it were all the group ran");
    assert.match(
      report?.historyRestricted ?? '',
      /lacks the ADMIN role, so the gateway's query history shows it only its own queries/,
    );
    assert.match(
      result.reason ?? '',
      /shadow validation inconclusive: .*history was not sampled.*shadow.onInconclusive: rollback/,
    );
    const basic = Buffer.from(`${TEST_SECRETS.CUTOVER_GATEWAY_USER}:${TEST_SECRETS.CUTOVER_GATEWAY_PASSWORD}`);
    assert.deepEqual(await activeBackends(fleet, `Basic ${basic.toString('base64')}`), [`${group}-blue`]);
    await assertReplays(handle);
  });

  it('history stays flat in the number of queries: 20 and 200 replayed queries give the same number of events', async () => {
    const events: number[] = [];
    for (const count of [20, 200]) {
      const group = `shadowflat${count}`;
      const fleet = await testbed.fleetWithBlue(group);
      const queries = Array.from({ length: count }, (_, i) => `SELECT ${i + 1}`);
      queries[0] = RELEASE_ANSWER_QUERY;
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
