/**
 * End to end on real things: PostgreSQL, Trino Gateway (jar) and two Trino coordinators of
 * different releases, a Temporal dev server and a cutover worker with its real integrations.
 * `npm run test:real`; docs/real-stack.md.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkRequestAnalyzer, REQUEST_ANALYZER_DISABLED } from '../../src/activities/request-analyzer';
import { TrinoHttpClient } from '../../src/integrations/trino/client';
import { startUpgrade } from '../../src/client/upgrades';
import { sleep, until, waitForPhase } from '../../src/devserver/wait';
import { IntegrationError } from '../../src/integrations/errors';
import { startQueryLoad, type LoadReport } from '../../src/sandbox/load';
import { approveUpdate, rollbackSignal, statusQuery } from '../../src/workflows/messages';
import { shadowCounts, type ShadowReport } from '../../src/shadow-report';
import { progress } from '../../scripts/real-stack/stack';
import {
  BLUE,
  coordinatorIdOf,
  coordinatorQueries,
  coordinatorQueryList,
  type CoordinatorQuery,
  deactivatedAt,
  describeLoad,
  failures,
  GREEN,
  GROUP,
  qualifiedTpch,
  realPlan,
  variedSql,
  versionThrough,
  watchGateway,
  type GatewaySample,
} from './support';
import { signedBy, useRealTestbed } from './testbed';

/** After a backend is deactivated, how long the gateway may still route a new query to it. */
const ROUTING_SETTLE_MS = 1_000;

/**
 * Queries analysts run through the gateway before the upgrade, so that its history holds them: three
 * TPC-H queries and a SELECT version() (470 on blue, 476 on green by design: the shadow step skips it
 * without running it). And the TPC-H queries of the plan's own `shadow.queries`.
 */
const ANALYSTS = [
  { sql: qualifiedTpch(1), user: 'ana', source: 'superset' },
  { sql: qualifiedTpch(3), user: 'bruno', source: 'superset' },
  { sql: qualifiedTpch(10), user: 'chiara', source: 'airflow' },
  { sql: 'SELECT version()', user: 'dmitri', source: 'jupyter' },
];
const PLAN_TPCH = [4, 6];

describe('real stack: Trino Gateway + two Trino releases, blue/green through cutover', { timeout: 15 * 60_000 }, () => {
  const real = useRealTestbed();

  /** Blue registered ACTIVE and HEALTHY in the group, green unknown to the gateway: the state before an upgrade. */
  async function blueOnly(): Promise<void> {
    await real.gateway.upsertBackend({ name: BLUE, proxyTo: real.stack.blue.url, active: true, routingGroup: GROUP });
    await until(
      'blue HEALTHY in the gateway',
      async () => (await real.gateway.backendState(BLUE))?.trinoStatus === 'HEALTHY',
      30_000,
      250,
    );
    await real.gateway.deleteBackend(GREEN);
    assert.deepEqual(await groupBackends(), [[BLUE, true]]);
  }

  async function groupBackends(): Promise<[string, boolean][]> {
    return (await real.gateway.listBackends())
      .filter((b) => b.routingGroup === GROUP)
      .map((b): [string, boolean] => [b.name, b.active])
      .sort((a, b) => a[0].localeCompare(b[0]));
  }

  it('the preflight probe of the request analyzer: this gateway runs without it, and the probe says so (HTTP 500 to a statement mentioning kill_query)', async () => {
    const throughGateway = new TrinoHttpClient({ url: real.stack.gateway.url, user: 'cutover' });
    try {
      await assert.rejects(
        checkRequestAnalyzer(throughGateway, real.stack.gateway.url, GROUP, 10_000),
        (error: Error & { type?: string }) => {
          assert.equal(error.type, REQUEST_ANALYZER_DISABLED, error.message);
          assert.match(error.message, /requestAnalyzerConfig\.analyzeRequest: true/);
          return true;
        },
      );
    } finally {
      await throughGateway.close();
    }
  });

  function load() {
    return startQueryLoad({
      gatewayUrl: real.stack.gateway.url,
      users: 10,
      concurrency: 4,
      durationMs: [0, 0],
      sqlFor: variedSql,
      routingGroup: GROUP,
    });
  }

  /** Every query the gateway attributes to a backend ran on that backend's coordinator (query-id suffix) and finished there. */
  async function assertWhereQueriesRan(report: LoadReport): Promise<void> {
    const unknown = report.queries.filter((q) => !q.queryId || !real.coordinatorOf.has(coordinatorIdOf(q.queryId)));
    assert.deepEqual(unknown, [], 'every query id comes from blue or green');
    const mismatched = report.queries.filter((q) => real.coordinatorOf.get(coordinatorIdOf(q.queryId!)) !== q.backend);
    assert.deepEqual(
      mismatched.slice(0, 5),
      [],
      "the gateway's query history names the coordinator that made the query id",
    );
    const lists = {
      [BLUE]: await coordinatorQueries(real.stack.blue.url),
      [GREEN]: await coordinatorQueries(real.stack.green.url),
    };
    for (const query of report.queries) {
      const state = lists[query.backend as typeof BLUE]?.get(query.queryId!);
      assert.equal(state, 'FINISHED', `${query.queryId} is FINISHED in ${query.backend}'s own /v1/query`);
    }
  }

  function summary(label: string, report: LoadReport, samples: GatewaySample[]): void {
    const lengths = report.queries.map((q) => q.endedAt - q.startedAt).sort((a, b) => a - b);
    const pct = (p: number) => lengths[Math.min(lengths.length - 1, Math.floor(p * lengths.length))];
    progress(
      `${label}: ${report.submitted} queries, ${report.finished} finished, ${report.failed} failed; per backend (submitted/finished/failed) ${describeLoad(report.byBackend)}; ` +
        `query time p0 ${lengths[0]} ms, p50 ${pct(0.5)} ms, p100 ${lengths.at(-1)} ms; ${samples.length} gateway samples`,
    );
  }

  /**
   * The real gateway's `/webapp/findQueryHistory` (rows in PostgreSQL): each query once, newest first
   * by capture time, with its exact text, user, source, group and backend; `page`/`size` page it.
   * test/sandbox-real-parity.test.ts pins the same on the sandbox gateway.
   */
  async function assertRealQueryHistory(ids: string[]): Promise<void> {
    const all = await real.gateway.findQueryHistory(1, 100);
    assert.deepEqual([all.total, all.rows.length], [ids.length, ids.length], 'the history holds the analysts’ queries');
    ANALYSTS.forEach(({ sql, user, source }, i) => {
      const row = all.rows.find((each) => each.queryId === ids[i]);
      assert.deepEqual(
        row && { ...row, captureTime: typeof row.captureTime },
        {
          queryId: ids[i],
          queryText: sql,
          user,
          source,
          backendUrl: real.stack.blue.url,
          captureTime: 'number',
          routingGroup: GROUP,
          externalUrl: real.stack.blue.url,
        },
        `${user}'s query in the gateway history as it ran`,
      );
    });
    assert.ok(
      all.rows.every((row, i) => i === 0 || all.rows[i - 1].captureTime >= row.captureTime),
      'ordered by capture time, newest first',
    );
    const second = await real.gateway.findQueryHistory(2, 1);
    // The analysts' queries start at once: rows captured in the same millisecond come in no defined order
    // (seen: page 2 gave the third row, captured with the second), so page 2 holds one captured with the second.
    assert.equal(second.total, all.total);
    assert.equal(second.rows.length, 1);
    const paged = all.rows.find((row) => row.queryId === second.rows[0]?.queryId);
    assert.deepEqual(second.rows[0], paged, 'page 2 of size 1 is a row of the history, as the whole page shows it');
    assert.equal(
      paged?.captureTime,
      all.rows[1].captureTime,
      'page 2 of size 1 is the second row, or one captured with it',
    );
  }

  /**
   * The shadow step's report, and what the coordinators show of it: the history's queries replayed
   * as the users and sources that ran them, the plan's as cutover, all FINISHED on both sides and
   * all matching; dmitri's SELECT version() (470 on blue, 476 on green by design) skipped, run on
   * neither side.
   */
  async function assertShadowed(report: ShadowReport | undefined, timeline: { message: string }[]): Promise<void> {
    assert.ok(report, 'the upgrade ran the shadow step');
    progress(
      `shadow: ${shadowCounts(report)} (${report.fromPlan} from the plan, ${report.fromHistory} from the gateway history) in ${report.elapsedMs} ms`,
    );
    assert.equal(report.fromPlan, PLAN_TPCH.length);
    assert.equal(report.fromHistory, ANALYSTS.length);
    assert.equal(report.queries, report.fromPlan + report.fromHistory);
    assert.equal(report.notReadOnly, 0);
    assert.deepEqual(
      { mismatched: report.mismatched, skipped: report.skipped, slow: report.slow, matched: report.matched },
      { mismatched: 0, skipped: 1, slow: 0, matched: report.queries - 1 },
      JSON.stringify(report),
    );
    assert.deepEqual(report.skippedReasons, [{ reason: "version() answers each cluster's own release", count: 1 }]);
    assert.ok(
      timeline.some((entry) => entry.message === `shadow validation: ${shadowCounts(report)}`),
      'the timeline notes the counts',
    );

    const [onBlue, onGreen] = await Promise.all([
      coordinatorQueryList(real.stack.blue.url),
      coordinatorQueryList(real.stack.green.url),
    ]);
    const runsOf = (list: CoordinatorQuery[], sql: string, user: string) =>
      list.filter((q) => q.query === sql && q.user === user).map((q) => `${q.source ?? '-'}/${q.state}`);
    for (const { sql, user, source } of ANALYSTS) {
      const run = `${source}/FINISHED`;
      // SELECT version() is skipped before it runs: never on green, on blue only through the gateway.
      const replayed = sql !== 'SELECT version()';
      assert.deepEqual(
        runsOf(onGreen, sql, user),
        replayed ? [run] : [],
        `${user}'s query ${replayed ? 'replayed' : 'not run'} on green as ${user} from ${source}`,
      );
      assert.deepEqual(
        runsOf(onBlue, sql, user),
        Array<string>(replayed ? 2 : 1).fill(run),
        `${user}'s query on blue: through the gateway${replayed ? ', replayed' : ' only'}`,
      );
    }
    for (const n of PLAN_TPCH) {
      const sql = qualifiedTpch(n);
      for (const [side, list] of [
        ['blue', onBlue],
        ['green', onGreen],
      ] as const)
        assert.deepEqual(
          list.filter((q) => q.query === sql).map((q) => `${q.user}/${q.state}`),
          ['cutover/FINISHED'],
          `plan query Q${n} ran once on ${side} as cutover`,
        );
    }
  }

  /** Runs the analysts' queries through the gateway at once, as they would; returns their query ids. */
  async function analystsQuery(): Promise<string[]> {
    const client = new TrinoHttpClient({ url: real.stack.gateway.url, requestTimeoutMs: 60_000 });
    try {
      return await Promise.all(
        ANALYSTS.map(async ({ sql, user, source }) => {
          const result = await client.execute(sql, { user, source, headers: { 'X-Trino-Routing-Group': GROUP } });
          assert.equal(result.state, 'FINISHED', `${user}'s query through the gateway: ${result.error?.message}`);
          return result.id;
        }),
      );
    } finally {
      await client.close();
    }
  }

  it('upgrades blue (470) to green (476) under query load, after shadowing the gateway history and TPC-H on both: 0 failed, blue queries finish on blue, new queries on green', async () => {
    try {
      await blueOnly();
      const analystsStarted = Date.now();
      const analystIds = await analystsQuery();
      progress(`the analysts' ${ANALYSTS.length} queries through the gateway took ${Date.now() - analystsStarted} ms`);
      await assertRealQueryHistory(analystIds);
      const watcher = watchGateway(real.stack.gateway.url, GROUP);
      const upgradeStarted = Date.now();
      const handle = await startUpgrade(
        real.env.client,
        realPlan(real.stack.gateway.url, real.stack.green.url, real.stack.green.version, {
          shadow: {
            source: ['history', 'queries'],
            queries: PLAN_TPCH.map(qualifiedTpch),
            sample: 30,
            concurrency: 4,
            // The default: dmitri's SELECT version() (470 on blue, 476 on green) is skipped, so nothing holds the upgrade.
            onMismatch: 'block',
            timeout: '5m',
          },
        }),
        { startedBy: 'test:real' },
      );

      await waitForPhase(handle, 'AWAITING_APPROVAL', 5 * 60_000);
      assert.equal(
        (await handle.query(statusQuery)).gate,
        '4:approval',
        "the plan's approval gate, not the shadow step's: no mismatch to acknowledge",
      );
      // The load starts once the shadow step has replayed the history: earlier, its queries would join
      // the sample and share the two cores with it. It runs on blue for a few seconds before the flip.
      const queries = load();
      assert.deepEqual(
        await groupBackends(),
        [
          [BLUE, true],
          [GREEN, false],
        ],
        'green registered inactive while awaiting approval',
      );
      assert.equal(
        (await real.gateway.backendState(GREEN))?.trinoStatus,
        'HEALTHY',
        'the gateway health-checks inactive green',
      );
      assert.equal(
        (await versionThrough(real.stack.green.url)).version,
        real.stack.green.version,
        'green answers at its own address',
      );
      await sleep(3_000);
      // The worker requires signed approvals: alice signs this run's gate with her key.
      const approval = await signedBy(real.env.client, handle.workflowId, 'approve');
      const ack = await handle.executeUpdate(approveUpdate, { args: [approval] });
      assert.match(ack.message, /approved by alice/);

      const result = await handle.result();
      // Queries keep running a little after the end: they must all go to green.
      await sleep(3_000);
      const report = await queries.stop();
      const samples = await watcher.stop();
      summary(`upgrade (${((Date.now() - upgradeStarted) / 1000).toFixed(1)} s)`, report, samples);

      assert.equal(result.outcome, 'SUCCEEDED', result.reason);
      assert.ok(
        result.status.timeline.some((entry) =>
          /approved by alice \(signature verified, key SHA256:/.test(entry.message),
        ),
        'the timeline names the verified approver and key',
      );
      assert.ok(report.submitted >= 20, `the load ran (${report.submitted} queries)`);
      assert.equal(report.failed, 0, `no query failed: ${failures(report.queries)}`);
      assert.equal(report.byBackend.unknown, undefined, 'every query attributed by the gateway query history');
      assert.ok(
        report.byBackend[BLUE]?.finished > 0 && report.byBackend[GREEN]?.finished > 0,
        `both served: ${describeLoad(report.byBackend)}`,
      );
      await assertWhereQueriesRan(report);

      const flipAt = deactivatedAt(samples, BLUE);
      assert.ok(flipAt, 'the gateway showed blue going inactive');
      assert.ok(
        report.queries.some((q) => q.backend === BLUE && q.startedAt < flipAt && q.endedAt > flipAt),
        'queries running on blue at the flip finished there',
      );
      const lateOnBlue = report.queries.filter((q) => q.backend === BLUE && q.startedAt > flipAt + ROUTING_SETTLE_MS);
      assert.deepEqual(lateOnBlue, [], 'after the flip new queries run on green');
      const lastBlueStart = Math.max(...report.queries.filter((q) => q.backend === BLUE).map((q) => q.startedAt));
      progress(`last query started on blue ${lastBlueStart - flipAt} ms relative to the sampled deactivation`);
      assert.ok(
        report.queries.some((q) => q.backend === GREEN && q.startedAt > flipAt),
        'queries started after the flip ran on green',
      );
      assert.ok(
        samples.every((s) => s.healthyActive.length > 0),
        `the group always had an active HEALTHY backend: ${JSON.stringify(samples.find((s) => s.healthyActive.length === 0))}`,
      );

      assert.deepEqual(
        await groupBackends(),
        [[GREEN, true]],
        "the gateway's own API shows only green, active, in the group",
      );
      assert.equal(
        (await versionThrough(real.stack.gateway.url)).version,
        real.stack.green.version,
        'SELECT version() through the gateway answers green',
      );
      await assertShadowed(result.status.shadow?.report, result.status.timeline);
      const events = (await handle.fetchHistory()).events?.length ?? 0;
      progress(`upgrade workflow: ${events} history events`);
    } catch (error) {
      real.markFailed();
      throw error;
    }
  });

  it('rolls back while baking under query load: blue serves again, nothing failed', async () => {
    try {
      await blueOnly();
      const watcher = watchGateway(real.stack.gateway.url, GROUP);
      const queries = load();
      const started = Date.now();
      const handle = await startUpgrade(
        real.env.client,
        realPlan(real.stack.gateway.url, real.stack.green.url, real.stack.green.version, {
          approval: { required: false },
          bake: '10m',
        }),
        { startedBy: 'test:real' },
      );
      await waitForPhase(handle, 'BAKING', 5 * 60_000);
      // Let green serve a while before rolling back.
      await until('queries during the bake', () => queries.report().finished > 0, 10_000, 250);
      await sleep(4_000);
      await handle.signal(rollbackSignal, { by: 'test:real', reason: 'real-stack rollback drill' });
      const result = await handle.result();
      await sleep(3_000);
      const report = await queries.stop();
      const samples = await watcher.stop();
      summary(`rollback (${((Date.now() - started) / 1000).toFixed(1)} s)`, report, samples);

      assert.equal(result.outcome, 'ROLLED_BACK');
      assert.match(result.reason ?? '', /rollback drill/);
      assert.equal(report.failed, 0, `no query failed: ${failures(report.queries)}`);
      assert.equal(report.byBackend.unknown, undefined, 'every query attributed');
      assert.ok(
        report.byBackend[GREEN]?.finished > 0,
        `green served before the rollback: ${describeLoad(report.byBackend)}`,
      );
      await assertWhereQueriesRan(report);

      const greenOff =
        deactivatedAt(samples, GREEN) ??
        samples.find((s, i) => i > 0 && samples[i - 1].active.includes(GREEN) && !s.active.includes(GREEN))?.at;
      assert.ok(greenOff, 'the gateway showed green leaving the active set');
      const lateOnGreen = report.queries.filter(
        (q) => q.backend === GREEN && q.startedAt > greenOff + ROUTING_SETTLE_MS,
      );
      assert.deepEqual(lateOnGreen, [], 'after the rollback new queries run on blue');
      assert.ok(
        report.queries.some((q) => q.backend === BLUE && q.startedAt > greenOff),
        'blue serves again',
      );
      assert.ok(
        samples.every((s) => s.healthyActive.length > 0),
        'the group always had an active HEALTHY backend',
      );

      assert.deepEqual(await groupBackends(), [[BLUE, true]], 'only blue remains, active');
      assert.equal((await real.gateway.backendState(BLUE))?.trinoStatus, 'HEALTHY');
      assert.equal(
        (await versionThrough(real.stack.gateway.url)).version,
        real.stack.blue.version,
        'SELECT version() through the gateway answers blue',
      );
    } catch (error) {
      real.markFailed();
      throw error;
    }
  });

  it('modify/add of a name that exists fails (HTTP 500) and leaves that backend as it was: registering green never overwrites one', async () => {
    try {
      await blueOnly();
      const before = await real.gateway.getBackend(BLUE);
      // What registerGreen sends when someone registered its name meanwhile (here: blue's name, for another group).
      await assert.rejects(
        real.gateway.addBackend({ name: BLUE, proxyTo: real.stack.green.url, routingGroup: 'etl', active: false }),
        (error: unknown) => error instanceof IntegrationError && error.status === 500 && error.retryable,
      );
      assert.deepEqual(await real.gateway.getBackend(BLUE), before, 'blue is unchanged: same group, address, active');
      assert.deepEqual(await groupBackends(), [[BLUE, true]]);
    } catch (error) {
      real.markFailed();
      throw error;
    }
  });
});
