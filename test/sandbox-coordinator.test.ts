import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { sleep } from '../src/devserver/wait';
import { TrinoHttpClient } from '../src/integrations/trino/client';
import { SimulatedCoordinator } from '../src/sandbox/coordinator';

interface Page {
  id: string;
  infoUri: string;
  nextUri?: string;
  columns?: { name: string; type: string }[];
  data?: unknown[][];
  error?: { message: string; errorName: string; errorCode: number; errorType: string };
  stats: { state: string };
}

const USER = { 'x-trino-user': 'alice' };

async function call(
  url: string,
  init: { method?: 'GET' | 'POST' | 'DELETE' | 'HEAD'; headers?: Record<string, string>; body?: string } = {},
) {
  const response = await request(url, { method: init.method ?? 'GET', headers: init.headers, body: init.body });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, text, json: () => JSON.parse(text) };
}

async function submit(base: string, sql: string, headers: Record<string, string> = USER): Promise<Page> {
  const reply = await call(`${base}/v1/statement`, { method: 'POST', headers, body: sql });
  assert.equal(reply.status, 200, reply.text);
  return reply.json() as Page;
}

/** Follows nextUri to the end; returns every page after the first. */
async function follow(first: Page): Promise<Page[]> {
  const pages: Page[] = [];
  let page = first;
  while (page.nextUri) {
    const reply = await call(page.nextUri);
    assert.equal(reply.status, 200, reply.text);
    page = reply.json() as Page;
    pages.push(page);
  }
  return pages;
}

describe('sandbox coordinator', () => {
  const blue = new SimulatedCoordinator({ name: 'blue', version: '470', startupDelayMs: 300 });

  before(() => blue.start());
  after(() => blue.stop());

  it('reports starting in /v1/info until the startup delay has passed, then ACTIVE with its version', async () => {
    const early = (await call(`${blue.url}/v1/info`)).json();
    assert.equal(early.starting, true);
    assert.deepEqual(early.nodeVersion, { version: '470' });
    assert.equal(early.coordinator, true);
    assert.equal(early.state, 'ACTIVE');
    assert.match(early.uptime, /^\d+\.\d{2}(ms|s|m)$/);
    await sleep(320);
    assert.equal((await call(`${blue.url}/v1/info`)).json().starting, false);
  });

  it('refuses statements and the query list without a user, like an insecure Trino', async () => {
    assert.equal((await call(`${blue.url}/v1/statement`, { method: 'POST', body: 'SELECT 1' })).status, 401);
    assert.equal((await call(`${blue.url}/v1/query`)).status, 401);
  });

  it('runs a statement through QUEUED, a long poll on RUNNING, and a last page with columns and data', async () => {
    const started = Date.now();
    const first = await submit(blue.url, '/* sandbox:duration=400ms */ SELECT version()');
    assert.match(first.id, /^\d{8}_\d{6}_\d{5}_[a-z2-9]{5}$/);
    assert.equal(first.stats.state, 'QUEUED');
    assert.match(first.nextUri ?? '', new RegExp(`^${blue.url}/v1/statement/queued/${first.id}/[^/]+/1$`));
    const pages = await follow(first);
    const last = pages[pages.length - 1];
    assert.ok(Date.now() - started >= 390, 'the hint sets the run time');
    assert.ok(pages.length <= 3, `long polls instead of spinning (${pages.length} polls)`);
    assert.match(pages[0].nextUri ?? '', /\/v1\/statement\/executing\//);
    assert.equal(last.stats.state, 'FINISHED');
    assert.deepEqual(
      last.columns?.map((c) => [c.name, c.type]),
      [['_col0', 'varchar']],
    );
    assert.deepEqual(last.data, [['470']]);
  });

  it('answers SELECT 1 and any other SQL with the single row [1] after the default 20 ms', async () => {
    for (const sql of ['SELECT 1', 'select count(*) from tpch.tiny.nation']) {
      const pages = await follow(await submit(blue.url, sql));
      assert.deepEqual(pages[pages.length - 1].data, [[1]]);
    }
  });

  it('hands a large result out in pages of 1,000 rows, FINISHING until the last one is read', async () => {
    const pages = await follow(await submit(blue.url, '/* sandbox:rows=2500 */ SELECT x FROM t'));
    const withData = pages.filter((page) => page.data !== undefined);
    assert.deepEqual(
      withData.map((page) => [page.data?.length, page.stats.state, page.nextUri !== undefined]),
      [
        [1000, 'FINISHING', true],
        [1000, 'FINISHING', true],
        [500, 'FINISHED', false],
      ],
    );
    assert.deepEqual(withData[0].data?.[0], [1]);
    assert.deepEqual(withData[2].data?.at(-1), [2500]);
  });

  it('cancels a query on DELETE of its nextUri, also while its result is read (204; 404 for a query it does not know)', async () => {
    const first = await submit(blue.url, '/* sandbox:rows=5000 */ SELECT x FROM t');
    let page = first;
    while (page.data === undefined) page = (await call(page.nextUri ?? '')).json() as Page;
    assert.equal(page.stats.state, 'FINISHING');
    assert.equal((await call(page.nextUri ?? '', { method: 'DELETE' })).status, 204);
    const info = (await call(`${blue.url}/v1/query/${first.id}`, { headers: USER })).json();
    assert.deepEqual([info.state, info.errorCode.name], ['FAILED', 'USER_CANCELED']);
    const unknown = (page.nextUri ?? '').replace(first.id, '20200101_000000_00000_aaaaa');
    assert.equal((await call(unknown, { method: 'DELETE' })).status, 404);
  });

  it('builds nextUri and infoUri from X-Forwarded-* so clients behind a proxy stay on it', async () => {
    const first = await submit(blue.url, 'SELECT 1', {
      ...USER,
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'gateway.example',
      'x-forwarded-port': '8443',
    });
    assert.match(first.nextUri ?? '', /^https:\/\/gateway\.example:8443\/v1\/statement\/queued\//);
    assert.match(first.infoUri, /^https:\/\/gateway\.example:8443\/ui\/query\.html\?/);
    await follow({ ...first, nextUri: first.nextUri?.replace('https://gateway.example:8443', blue.url) });
  });

  it('lists queries with BasicQueryInfo fields and answers 200 or 410 on GET and HEAD /v1/query/{id}', async () => {
    const first = await submit(blue.url, '/* sandbox:duration=2s */ SELECT 1', { ...USER, 'x-trino-source': 'test' });
    const listed = (
      (await call(`${blue.url}/v1/query`, { headers: USER })).json() as {
        queryId: string;
        state: string;
        session: { user: string; source: string };
        self: string;
      }[]
    ).find((query) => query.queryId === first.id);
    assert.ok(listed && ['QUEUED', 'RUNNING'].includes(listed.state));
    assert.deepEqual([listed.session.user, listed.session.source], ['alice', 'test']);
    assert.equal(listed.self, `${blue.url}/v1/query/${first.id}`);
    assert.equal((await call(`${blue.url}/v1/query/${first.id}`, { headers: USER })).json().queryId, first.id);
    assert.equal((await call(`${blue.url}/v1/query/${first.id}`, { method: 'HEAD', headers: USER })).status, 200);
    assert.equal(
      (await call(`${blue.url}/v1/query/20200101_000000_00000_aaaaa`, { method: 'HEAD', headers: USER })).status,
      410,
    );
    assert.equal((await call(first.nextUri ?? '', { method: 'DELETE' })).status, 204);
    const [last] = await follow(first);
    assert.equal(last.stats.state, 'FAILED');
    assert.equal(last.error?.errorName, 'USER_CANCELED');
  });

  it('serves /ui/api/stats only with the cookie of a form login, with live query counts', async () => {
    assert.equal((await call(`${blue.url}/ui/api/stats`)).status, 401);
    const login = await call(`${blue.url}/ui/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'username=anyone&password=',
    });
    assert.equal(login.status, 303);
    const cookie = String(login.headers['set-cookie']).split(';')[0];
    assert.match(cookie, /^Trino-UI-Token=/);
    const running = await submit(blue.url, '/* sandbox:duration=1s */ SELECT 1');
    await sleep(30);
    const stats = (await call(`${blue.url}/ui/api/stats`, { headers: { cookie } })).json();
    assert.equal(stats.runningQueries, 1);
    assert.equal(stats.activeWorkers, 1);
    assert.equal(stats.activeCoordinators, 1);
    assert.equal(stats.blockedQueries, 0);
    await call(running.nextUri ?? '', { method: 'DELETE' });
  });

  it('counts only QUEUED and RUNNING queries in /ui/api/stats, as Trino’s ClusterStatsResource: a FINISHING one is in neither', async () => {
    const login = await call(`${blue.url}/ui/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'username=anyone&password=',
    });
    const cookie = String(login.headers['set-cookie']).split(';')[0];
    const first = await submit(blue.url, '/* sandbox:rows=5000 */ SELECT x FROM t');
    let page = first;
    while (page.data === undefined) page = (await call(page.nextUri ?? '')).json() as Page;
    assert.equal(page.stats.state, 'FINISHING');
    const stats = (await call(`${blue.url}/ui/api/stats`, { headers: { cookie } })).json();
    assert.deepEqual([stats.runningQueries, stats.blockedQueries, stats.queuedQueries], [0, 0, 0]);
    await call(page.nextUri ?? '', { method: 'DELETE' });
  });

  it('with access control, /v1/query shows a user only its own queries unless it may view others’; /ui/api/stats counts every query', async () => {
    const guarded = new SimulatedCoordinator({ name: 'guarded', version: '470', queryViewers: ['admin'] });
    await guarded.start();
    try {
      const mine = await submit(guarded.url, '/* sandbox:duration=2s */ SELECT 1', { 'x-trino-user': 'cutover' });
      const theirs = await submit(guarded.url, '/* sandbox:duration=2s */ SELECT 1', { 'x-trino-user': 'etl' });
      const listedFor = async (user: string) =>
        ((await call(`${guarded.url}/v1/query`, { headers: { 'x-trino-user': user } })).json() as { queryId: string }[])
          .map((query) => query.queryId)
          .sort();
      assert.deepEqual(await listedFor('cutover'), [mine.id]);
      assert.deepEqual(await listedFor('etl'), [theirs.id]);
      assert.deepEqual(await listedFor('admin'), [mine.id, theirs.id].sort());
      const asCutover = { 'x-trino-user': 'cutover' };
      assert.equal((await call(`${guarded.url}/v1/query/${theirs.id}`, { headers: asCutover })).status, 403);
      assert.equal((await call(`${guarded.url}/v1/query/${mine.id}`, { headers: asCutover })).status, 200);
      const login = await call(`${guarded.url}/ui/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'username=cutover&password=',
      });
      const cookie = String(login.headers['set-cookie']).split(';')[0];
      await sleep(30);
      const stats = (await call(`${guarded.url}/ui/api/stats`, { headers: { cookie } })).json();
      assert.equal(stats.runningQueries + stats.queuedQueries, 2);
    } finally {
      await guarded.stop();
    }
  });

  it('fails the configured fraction of queries with a Trino-like error', async () => {
    blue.setFaults({ failRate: 1 });
    try {
      const pages = await follow(await submit(blue.url, 'SELECT 1'));
      const last = pages[pages.length - 1];
      assert.equal(last.stats.state, 'FAILED');
      assert.deepEqual(
        [last.error?.errorName, last.error?.errorCode, last.error?.errorType],
        ['GENERIC_INTERNAL_ERROR', 65536, 'INTERNAL_ERROR'],
      );
      assert.equal(last.data, undefined);
    } finally {
      blue.setFaults({ failRate: 0 });
    }
  });

  it('fails queries with the typed, named errors of the errors switch (by SQL), and /v1/query carries errorType, errorCode and elapsedTime as Trino does', async () => {
    blue.setFaults({
      errors: [{ rate: 1, errorType: 'USER_ERROR', errorName: 'FUNCTION_NOT_FOUND', sqlContains: 'my_udf(' }],
    });
    try {
      const failed = await follow(await submit(blue.url, 'SELECT my_udf(1)'));
      const fine = await follow(await submit(blue.url, '/* sandbox:duration=50ms */ SELECT 1'));
      assert.equal(fine.at(-1)?.stats.state, 'FINISHED', 'SQL without the function is unaffected');
      assert.deepEqual(
        [failed.at(-1)?.error?.errorName, failed.at(-1)?.error?.errorCode, failed.at(-1)?.error?.errorType],
        ['FUNCTION_NOT_FOUND', 5, 'USER_ERROR'],
      );
      const listed = (await call(`${blue.url}/v1/query`, { headers: USER })).json() as {
        queryId: string;
        errorType?: string;
        errorCode?: { name: string; type: string };
        queryStats: { elapsedTime: string };
      }[];
      const info = listed.find((query) => query.queryId === failed.at(-1)?.id);
      assert.equal(info?.errorType, 'USER_ERROR');
      assert.deepEqual([info?.errorCode?.name, info?.errorCode?.type], ['FUNCTION_NOT_FOUND', 'USER_ERROR']);
      const summary = (await new TrinoHttpClient({ url: blue.url, user: 'cutover' }).listQueries()).find(
        (query) => query.queryId === fine.at(-1)?.id,
      );
      assert.ok((summary?.elapsedMs ?? 0) >= 50, `elapsedTime read back: ${summary?.elapsedMs} ms`);
    } finally {
      blue.setFaults({ errors: [] });
    }
  });

  it('slows queries by a factor and a jitter: the latency switches', async () => {
    blue.setFaults({ queryLatencyFactor: 3, queryJitterMs: 100 });
    try {
      const started = Date.now();
      const pages = await follow(await submit(blue.url, '/* sandbox:duration=100ms */ SELECT 1'));
      const took = Date.now() - started;
      assert.equal(pages.at(-1)?.stats.state, 'FINISHED');
      assert.ok(took >= 300 && took < 1_000, `a 100 ms query took ${took} ms at 3x plus up to 100 ms jitter`);
    } finally {
      blue.setFaults({ queryLatencyFactor: 1, queryJitterMs: 0 });
    }
  });

  it('answers 503 on /v1/info and new statements while unhealthy', async () => {
    blue.setFaults({ unhealthy: true });
    try {
      assert.equal((await call(`${blue.url}/v1/info`)).status, 503);
      assert.equal(
        (await call(`${blue.url}/v1/statement`, { method: 'POST', headers: USER, body: 'SELECT 1' })).status,
        503,
      );
    } finally {
      blue.setFaults({ unhealthy: false });
    }
    assert.equal((await call(`${blue.url}/v1/info`)).status, 200);
  });

  it("works with cutover's Trino client end to end", async () => {
    const client = new TrinoHttpClient({ url: blue.url, user: 'cutover' });
    try {
      const result = await client.execute('SELECT version()');
      assert.equal(result.state, 'FINISHED');
      assert.deepEqual(result.rows, [['470']]);
      assert.equal((await client.info()).nodeVersion.version, '470');
      assert.equal((await client.clusterStats()).activeWorkers, 1);
      assert.ok((await client.listQueries()).some((query) => query.queryId === result.id));
    } finally {
      await client.close();
    }
  });

  it('loses its queries and connections in a crash and comes back on the same port, starting again', async () => {
    const url = blue.url;
    const first = await submit(url, '/* sandbox:duration=5s */ SELECT 1');
    const runningPage = (await call(first.nextUri ?? '')).json() as Page;
    const inFlight = call(runningPage.nextUri ?? '');
    await sleep(50);
    await blue.crash();
    await assert.rejects(inFlight, 'the long poll in flight is cut');
    assert.equal(blue.faults.crashed, true);
    await assert.rejects(call(`${url}/v1/info`), /ECONNREFUSED|other side closed|connect/);
    await blue.recover();
    assert.equal(blue.url, url);
    const info = (await call(`${url}/v1/info`)).json();
    assert.equal(info.starting, true);
    assert.equal((await call(`${url}/v1/query/${first.id}`, { headers: USER })).status, 410);
  });
});
