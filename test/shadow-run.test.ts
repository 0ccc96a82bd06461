import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { request } from 'undici';
import { TrinoHttpClient } from '../src/integrations/trino/client';
import { quoteUnsafeIntegers } from '../src/integrations/trino/exact-integers';
import { ScriptedServer } from './support/scripted-server';
import { RELEASE_ANSWER_QUERY, SHADOW_SAMPLE_QUERIES } from '../src/sandbox/coordinator-results';
import { startSandboxFleet, type SandboxFleet } from '../src/sandbox/fleet';
import { compareRuns } from '../src/shadow/compare';
import { runShadowQuery, type ShadowQueryOptions } from '../src/shadow/run';
import type { CompareOptions } from '../src/shadow/types';

const COMPARE: CompareOptions = { floatTolerance: 1e-9, maxDifferences: 3 };
const LIMITS: ShadowQueryOptions = { user: 'alice', source: 'superset', rowCap: 10_000, timeoutMs: 10_000 };
const ORDERS = 'sandbox.shadow.orders';

async function post(url: string, body: unknown): Promise<{ status: number; json: () => unknown }> {
  const response = await request(url, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
  const text = await response.body.text();
  return { status: response.statusCode, json: () => JSON.parse(text) };
}

describe('shadow queries against the sandbox coordinators', () => {
  let fleet: SandboxFleet;
  let blue: TrinoHttpClient;
  let green: TrinoHttpClient;
  let control = '';

  before(async () => {
    fleet = await startSandboxFleet({
      healthIntervalMs: 200,
      clusters: [
        { name: 'trino-blue', version: '470' },
        { name: 'trino-green', version: '480' },
      ],
    });
    control = `${fleet.gatewayUrl}/sandbox/v1/clusters/trino-green/faults`;
    blue = new TrinoHttpClient({ url: fleet.cluster('trino-blue')!.url });
    green = new TrinoHttpClient({ url: fleet.cluster('trino-green')!.url });
  });
  after(async () => {
    await blue.close();
    await green.close();
    await fleet.stop();
  });
  afterEach(async () => {
    assert.equal((await post(control, { resultChanges: [], errors: [] })).status, 200);
  });

  async function shadow(sql: string, options: Partial<ShadowQueryOptions> = {}) {
    const blueRun = await runShadowQuery(blue, sql, { ...LIMITS, ...options });
    const greenRun = await runShadowQuery(green, sql, { ...LIMITS, ...options });
    const blueAgain = await runShadowQuery(blue, sql, { ...LIMITS, ...options });
    return { blueRun, greenRun, comparison: compareRuns(sql, blueRun, greenRun, COMPARE, blueAgain) };
  }

  async function onCoordinator(client: TrinoHttpClient, queryId: string | undefined) {
    return (await client.listQueries()).find((query) => query.queryId === queryId);
  }

  it('a clean green matches blue on every deterministic sample, rows in another order included; the rest are skipped', async () => {
    const verdicts: Record<string, string> = {};
    for (const [name, sql] of Object.entries(SHADOW_SAMPLE_QUERIES)) {
      const { comparison } = await shadow(sql);
      verdicts[name] = `${comparison.verdict}${comparison.kind ? ` ${comparison.kind}` : ''}`;
    }
    assert.deepEqual(verdicts, {
      orders: 'match',
      ordered: 'match',
      totals: 'match',
      nested: 'match',
      limited: 'skipped nondeterministic',
      volatile: 'skipped nondeterministic',
      missing: 'match',
    });
    const { blueRun, greenRun } = await shadow(SHADOW_SAMPLE_QUERIES.orders);
    assert.notDeepEqual(blueRun.rows, greenRun.rows, 'the clusters return the unordered rows in different orders');
    assert.equal(blueRun.rowCount, 24);
    assert.deepEqual(
      blueRun.columns?.map((c) => c.type),
      ['bigint', 'varchar', 'decimal(12,2)', 'double', 'real', 'varchar'],
    );
    assert.ok(
      blueRun.rows?.some((row) => row[5] === null),
      'NULLs come through',
    );
    const totals = await shadow(SHADOW_SAMPLE_QUERIES.totals);
    const average = (rows: unknown[][] | undefined, customer: unknown) => rows?.find((row) => row[0] === customer)?.[3];
    assert.ok(
      totals.blueRun.rows?.some((row) => average(totals.greenRun.rows, row[0]) !== row[3]),
      'a double average summed in another order differs in its last bits, and still matches within the tolerance',
    );
  });

  it('the release_answer table answers each release its own row: the same on every run of blue, a rows mismatch on green; version() is skipped', async () => {
    const { blueRun, greenRun, comparison } = await shadow(RELEASE_ANSWER_QUERY);
    assert.deepEqual([blueRun.rows, greenRun.rows], [[['release 470']], [['release 480']]]);
    assert.deepEqual(
      [comparison.verdict, comparison.kind, comparison.firstDifferences],
      ['mismatch', 'rows', [{ blue: ['release 470'], green: ['release 480'] }]],
      comparison.reason,
    );
    const version = await shadow('SELECT version()');
    assert.deepEqual([version.blueRun.rows, version.greenRun.rows], [[['470']], [['480']]]);
    assert.deepEqual(
      [version.comparison.verdict, version.comparison.kind, version.comparison.reason],
      ['skipped', 'nondeterministic', "non-deterministic: version() answers each cluster's own release"],
    );
  });

  it('runs as the original user and source, so the coordinator records them', async () => {
    const run = await runShadowQuery(blue, SHADOW_SAMPLE_QUERIES.ordered, LIMITS);
    const query = await onCoordinator(blue, run.queryId);
    assert.deepEqual([query?.user, query?.source, query?.state], ['alice', 'superset', 'FINISHED']);
  });

  it('a Trino error is mapped with its name and type, on both sides', async () => {
    const { blueRun, greenRun } = await shadow(SHADOW_SAMPLE_QUERIES.missing);
    for (const run of [blueRun, greenRun]) {
      assert.deepEqual([run.error?.errorName, run.error?.errorType], ['TABLE_NOT_FOUND', 'USER_ERROR']);
      assert.match(run.error?.message ?? '', /does not exist/);
    }
  });

  it('more rows than the row cap: reading stops at the cap and the query is cancelled on the coordinator', async () => {
    const run = await runShadowQuery(blue, '/* sandbox:rows=5000 */ SELECT x FROM t', { ...LIMITS, rowCap: 1_500 });
    assert.deepEqual([run.truncated, run.rowCount, run.rows?.length, run.error], [true, 1_500, 1_500, undefined]);
    const query = await onCoordinator(blue, run.queryId);
    assert.deepEqual([query?.state, query?.errorName], ['FAILED', 'USER_CANCELED']);
  });

  it('a query past the timeout is cancelled on the coordinator and reported timed out', async () => {
    const started = Date.now();
    const run = await runShadowQuery(green, '/* sandbox:duration=10s */ SELECT 1', { ...LIMITS, timeoutMs: 300 });
    assert.ok(Date.now() - started < 3_000, `returned after ${Date.now() - started} ms`);
    assert.deepEqual([run.timedOut, run.truncated], [true, false]);
    const query = await onCoordinator(green, run.queryId);
    assert.deepEqual([query?.state, query?.errorName], ['FAILED', 'USER_CANCELED']);
  });

  it('an aborted signal cancels the query on the coordinator and rejects', async () => {
    const controller = new AbortController();
    const pending = runShadowQuery(blue, '/* sandbox:duration=10s */ SELECT 2', {
      ...LIMITS,
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(new Error('step cancelled')), 200);
    await assert.rejects(pending);
    const cancelled = (await blue.listQueries()).find((query) => query.query?.includes('SELECT 2'));
    assert.deepEqual([cancelled?.state, cancelled?.errorName], ['FAILED', 'USER_CANCELED']);
  });

  for (const [change, kind] of [
    ['rows', 'rows'],
    ['rowCount', 'rowCount'],
    ['type', 'types'],
    ['float', 'rows'],
  ] as const) {
    it(`green returning a result with a ${change} change is caught as a ${kind} mismatch`, async () => {
      const applied = await post(control, { resultChanges: [{ sqlContains: ORDERS, change }] });
      assert.equal(applied.status, 200);
      const { comparison } = await shadow(SHADOW_SAMPLE_QUERIES.orders);
      assert.deepEqual([comparison.verdict, comparison.kind], ['mismatch', kind], comparison.reason);
      const other = await shadow(RELEASE_ANSWER_QUERY);
      assert.equal(other.greenRun.rows?.[0]?.[0], 'release 480', 'queries the rule does not name are untouched');
    });
  }

  it('a float off by more than the tolerance is shown in the first differing rows; within a looser tolerance it matches', async () => {
    await post(control, { resultChanges: [{ sqlContains: ORDERS, change: 'float' }] });
    const { blueRun, greenRun, comparison } = await shadow(SHADOW_SAMPLE_QUERIES.orders);
    assert.equal(comparison.firstDifferences?.length, 3);
    assert.match(comparison.reason ?? '', /within a relative 1e-9/);
    assert.equal(
      compareRuns(SHADOW_SAMPLE_QUERIES.orders, blueRun, greenRun, { ...COMPARE, floatTolerance: 1e-5 }).verdict,
      'match',
    );
  });

  it('green failing where blue succeeds, or with another error than blue, is an error mismatch', async () => {
    await post(control, {
      errors: [
        { rate: 1, errorType: 'USER_ERROR', errorName: 'FUNCTION_NOT_FOUND', sqlContains: 'avg(price)' },
        { rate: 1, errorType: 'USER_ERROR', errorName: 'SYNTAX_ERROR', sqlContains: 'shadow.missing' },
      ],
    });
    const oneSide = await shadow(SHADOW_SAMPLE_QUERIES.totals);
    assert.deepEqual([oneSide.comparison.verdict, oneSide.comparison.kind], ['mismatch', 'error']);
    assert.match(oneSide.comparison.reason ?? '', /green failed with FUNCTION_NOT_FOUND, blue succeeded/);
    const different = await shadow(SHADOW_SAMPLE_QUERIES.missing);
    assert.deepEqual([different.comparison.verdict, different.comparison.kind], ['mismatch', 'error']);
    assert.match(different.comparison.reason ?? '', /blue failed with TABLE_NOT_FOUND, green with SYNTAX_ERROR/);
  });

  it('the control API refuses an unknown result change', async () => {
    assert.equal((await post(control, { resultChanges: [{ sqlContains: ORDERS, change: 'shuffle' }] })).status, 400);
    assert.equal((await post(control, { resultChanges: [{ sqlContains: '', change: 'rows' }] })).status, 400);
  });
});

describe('shadow queries: values JSON numbers cannot hold', () => {
  const trino = new ScriptedServer();
  let client: TrinoHttpClient;

  before(async () => {
    await trino.start();
    client = new TrinoHttpClient({ url: trino.url });
  });
  after(async () => {
    await client.close();
    await trino.stop();
  });

  /** A coordinator answering with this raw QueryResults text, as Trino writes bigint values: bare JSON integers. */
  function answer(data: string): void {
    trino.reset((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`{"id":"q1","columns":[{"name":"h","type":"bigint"},{"name":"d","type":"double"}],"data":${data}}`);
    });
  }

  it('bigints beyond 2^53 that differ in their last digit are a mismatch, not rounded to the same double', async () => {
    answer('[[9007199254740993, 1.5], [-9223372036854775807, 2e300]]');
    const blueRun = await runShadowQuery(client, 'SELECT h, d FROM t', LIMITS);
    answer('[[9007199254740992, 1.5], [-9223372036854775807, 2e300]]');
    const greenRun = await runShadowQuery(client, 'SELECT h, d FROM t', LIMITS);
    assert.deepEqual(blueRun.rows, [
      ['9007199254740993', 1.5],
      ['-9223372036854775807', 2e300],
    ]);
    const comparison = compareRuns('SELECT h, d FROM t', blueRun, greenRun, COMPARE);
    assert.deepEqual([comparison.verdict, comparison.kind], ['mismatch', 'rows']);
    assert.equal(compareRuns('SELECT h, d FROM t', blueRun, blueRun, COMPARE).verdict, 'match');
  });

  it('only bare integers beyond 2^53 are quoted: not strings (escaped quotes included), fractions, exponents or safe integers', () => {
    const text =
      '{"a":"x\\"12345678901234567890","b":[12345678901234567890,-12345678901234567890,1.2345678901234567890,' +
      '1234567890123456789e2,9007199254740991,-3],"c":"9007199254740993"}';
    assert.deepEqual(JSON.parse(quoteUnsafeIntegers(text)), {
      a: 'x"12345678901234567890',
      b: [
        '12345678901234567890',
        '-12345678901234567890',
        Number('1.2345678901234567890'),
        Number('1234567890123456789e2'),
        9007199254740991,
        -3,
      ],
      c: '9007199254740993',
    });
    assert.equal(quoteUnsafeIntegers('{"id":"q1","data":[[1,2]]}'), '{"id":"q1","data":[[1,2]]}');
  });
});
