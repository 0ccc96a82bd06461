import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { json, rejectsWith, ScriptedServer } from './support/scripted-server';
import { TrinoHttpClient } from '../src/integrations/trino/client';
import { SimulatedCoordinator } from '../src/sandbox/coordinator';

describe('Trino coordinator client', () => {
  const trino = new ScriptedServer();
  let client: TrinoHttpClient;

  before(async () => {
    await trino.start();
    client = new TrinoHttpClient({ url: trino.url, requestTimeoutMs: 500 });
  });
  after(async () => {
    await client.close();
    await trino.stop();
  });

  test('info reads /v1/info without credentials', async () => {
    const info = {
      nodeVersion: { version: '480' },
      environment: 'test',
      coordinator: true,
      starting: false,
      uptime: '1.00m',
    };
    trino.reset((_req, res) => json(res, 200, info));
    assert.deepEqual(await client.info(), info);
    assert.equal(trino.seen[0].url, '/v1/info');
    assert.equal(trino.seen[0].headers['x-trino-user'], undefined);
  });

  test('queries are listed as the cutover user and active ones filtered', async () => {
    trino.reset((_req, res) =>
      json(res, 200, [
        {
          queryId: 'q1',
          state: 'RUNNING',
          query: 'SELECT 1',
          session: { user: 'alice' },
          queryStats: { createTime: '2026-01-01T00:00:00Z' },
        },
        {
          queryId: 'q2',
          state: 'FAILED',
          session: { user: 'bob' },
          queryStats: { createTime: 't0', endTime: 't1', elapsedTime: '1.50s' },
          errorType: 'USER_ERROR',
          errorCode: { code: 1, name: 'SYNTAX_ERROR', type: 'USER_ERROR' },
        },
        { queryId: 'q3', state: 'QUEUED', session: { user: 'carol' } },
      ]),
    );
    const all = await client.listQueries();
    assert.deepEqual(all[1], {
      queryId: 'q2',
      state: 'FAILED',
      user: 'bob',
      createTime: 't0',
      endTime: 't1',
      errorCode: 'SYNTAX_ERROR',
      errorName: 'SYNTAX_ERROR',
      errorType: 'USER_ERROR',
      elapsedMs: 1500,
    });
    assert.deepEqual(
      (await client.activeQueries()).map((q) => q.queryId),
      ['q1', 'q3'],
    );
    assert.equal(trino.seen[0].url, '/v1/query');
    assert.equal(trino.seen[0].headers['x-trino-user'], 'cutover');
    assert.equal(trino.seen[0].headers.authorization, undefined);
  });

  test('a password adds Basic auth, and a 401 is TrinoAuthenticationFailed without the password', async () => {
    const secured = new TrinoHttpClient({ url: trino.url, user: 'ops', password: 'pa55' });
    trino.reset((_req, res) => res.writeHead(401).end('Unauthorized'));
    const error = await rejectsWith(secured.listQueries(), 'TrinoAuthenticationFailed', false);
    await secured.close();
    assert.equal(trino.seen[0].headers.authorization, `Basic ${Buffer.from('ops:pa55').toString('base64')}`);
    assert.equal(trino.seen[0].headers['x-trino-user'], 'ops');
    assert.match(error.message, /CUTOVER_TRINO_USER and CUTOVER_TRINO_PASSWORD/);
    assert.doesNotMatch(error.message, /pa55/);
  });

  test('cluster stats log in to the web UI on 401 and keep the cookie', async () => {
    const stats = {
      runningQueries: 2,
      blockedQueries: 0,
      queuedQueries: 1,
      activeCoordinators: 1,
      activeWorkers: 3,
      runningDrivers: 9,
    };
    trino.reset((req, res) => {
      if (req.method === 'POST' && req.url === '/ui/login') {
        return res
          .writeHead(303, { location: '/ui/', 'set-cookie': 'Trino-UI-Token=abc.def; Path=/ui; HttpOnly' })
          .end();
      }
      if (req.headers.cookie !== 'Trino-UI-Token=abc.def') return res.writeHead(401).end();
      json(res, 200, stats);
    });
    assert.equal((await client.clusterStats()).activeWorkers, 3);
    assert.equal((await client.clusterStats()).queuedQueries, 1);
    assert.deepEqual(
      trino.seen.map((r) => `${r.method} ${r.url}`),
      ['GET /ui/api/stats', 'POST /ui/login', 'GET /ui/api/stats', 'GET /ui/api/stats'],
    );
    assert.equal(trino.seen[1].body, 'username=cutover&password=');
    assert.equal(trino.seen[1].headers['content-type'], 'application/x-www-form-urlencoded');
  });

  test('a UI login without a cookie is TrinoAuthenticationFailed', async () => {
    const fresh = new TrinoHttpClient({ url: trino.url });
    trino.reset((req, res) => res.writeHead(req.url === '/ui/login' ? 303 : 401, { location: '/ui/login.html' }).end());
    await rejectsWith(fresh.clusterStats(), 'TrinoAuthenticationFailed', false);
    await fresh.close();
  });

  test('execute follows nextUri, retries 503, collects rows and the cluster host cookie', async () => {
    let polls = 0;
    trino.reset((req, res) => {
      if (req.method === 'POST') {
        return json(
          res,
          200,
          { id: 'q7', nextUri: `${trino.url}/v1/statement/queued/q7/1` },
          { 'set-cookie': ['trinoClusterHost=127.0.0.1:8480; Path=/'] },
        );
      }
      polls++;
      if (polls === 1) return res.writeHead(503).end('Service Unavailable');
      if (polls === 2) {
        return json(res, 200, {
          id: 'q7',
          nextUri: `${trino.url}/v1/statement/executing/q7/2`,
          columns: [{ name: '_col0', type: 'integer' }],
          data: [[1], [2]],
        });
      }
      json(res, 200, {
        id: 'q7',
        columns: [{ name: '_col0', type: 'integer' }],
        data: [[3]],
        stats: { state: 'FINISHED' },
      });
    });
    const result = await client.execute('SELECT x FROM t', {
      user: 'alice',
      headers: { 'X-Trino-Routing-Group': 'adhoc' },
    });
    assert.deepEqual(result, {
      id: 'q7',
      state: 'FINISHED',
      columns: [{ name: '_col0', type: 'integer' }],
      rows: [[1], [2], [3]],
      clusterHost: '127.0.0.1:8480',
    });
    const post = trino.seen[0];
    assert.equal(post.url, '/v1/statement');
    assert.equal(post.body, 'SELECT x FROM t');
    assert.equal(post.headers['x-trino-user'], 'alice');
    assert.equal(post.headers['x-trino-source'], 'cutover');
    assert.equal(post.headers['x-trino-routing-group'], 'adhoc');
    assert.deepEqual(
      trino.seen.map((r) => `${r.method} ${r.url}`),
      [
        'POST /v1/statement',
        'GET /v1/statement/queued/q7/1',
        'GET /v1/statement/queued/q7/1',
        'GET /v1/statement/executing/q7/2',
      ],
    );
  });

  test('a 503 on the POST is retried too', async () => {
    let posts = 0;
    trino.reset((_req, res) =>
      ++posts === 1 ? res.writeHead(502).end() : json(res, 200, { id: 'q8', columns: [], data: [] }),
    );
    assert.equal((await client.execute('SELECT 1')).state, 'FINISHED');
    assert.equal(posts, 2);
  });

  test('an error in the results is a FAILED statement, not an exception', async () => {
    trino.reset((_req, res) =>
      json(res, 200, {
        id: 'q9',
        error: {
          message: "line 1:8: Column 'x' cannot be resolved",
          errorName: 'COLUMN_NOT_FOUND',
          errorType: 'USER_ERROR',
          errorCode: 47,
        },
      }),
    );
    const result = await client.execute('SELECT x');
    assert.equal(result.state, 'FAILED');
    assert.deepEqual(result.error, {
      message: "line 1:8: Column 'x' cannot be resolved",
      errorName: 'COLUMN_NOT_FOUND',
      errorType: 'USER_ERROR',
    });
  });

  test('aborting a running statement cancels it with DELETE nextUri', async () => {
    const controller = new AbortController();
    const reason = new Error('load generator stopped');
    trino.reset((req, res) => {
      if (req.method === 'POST')
        return json(res, 200, { id: 'q10', nextUri: `${trino.url}/v1/statement/executing/q10/1` });
      if (req.method === 'DELETE') return res.writeHead(204).end();
      controller.abort(reason);
      // The coordinator long-polls; the abort must not wait for this reply.
      setTimeout(() => json(res, 200, { id: 'q10', nextUri: `${trino.url}/v1/statement/executing/q10/2` }), 300);
    });
    await assert.rejects(client.execute('SELECT sleep', { signal: controller.signal }), (error) => error === reason);
    assert.deepEqual(trino.seen.at(-1), {
      ...trino.seen.at(-1)!,
      method: 'DELETE',
      url: '/v1/statement/executing/q10/1',
    });
  });

  test('a query that vanished mid-way is a retryable TrinoQueryLost; a rejected statement is not retryable', async () => {
    trino.reset((req, res) =>
      req.method === 'POST'
        ? json(res, 200, { id: 'q11', nextUri: `${trino.url}/v1/statement/executing/q11/1` })
        : res.writeHead(410).end('Gone'),
    );
    await rejectsWith(client.execute('SELECT 1'), 'TrinoQueryLost', true);

    trino.reset((_req, res) => res.writeHead(400).end('X-Trino-User must be set'));
    const error = await rejectsWith(client.execute('SELECT 1'), 'TrinoRequestRejected', false);
    assert.match(error.message, /POST \/v1\/statement with HTTP 400: X-Trino-User must be set/);
  });

  test('no answer to the POST within timeoutMs is a retryable TrinoUnreachable, with no query to cancel', async () => {
    trino.reset(() => undefined);
    const error = await rejectsWith(client.execute('SELECT 1', { timeoutMs: 200 }), 'TrinoUnreachable', true);
    assert.match(error.message, /did not answer POST \/v1\/statement within 200 ms/);
    assert.deepEqual(
      trino.seen.map((r) => r.method),
      ['POST'],
    );
  });

  test('unreachable and slow coordinators are retryable TrinoUnreachable', async () => {
    const closed = new TrinoHttpClient({ url: 'http://127.0.0.1:1' });
    await rejectsWith(closed.info(), 'TrinoUnreachable', true);
    await closed.close();

    trino.reset(() => undefined);
    const error = await rejectsWith(client.info(), 'TrinoUnreachable', true);
    assert.match(error.message, /no answer within 500 ms/);
  });
});

describe('Trino client: nextUri stays on the coordinator', () => {
  const coordinator = new ScriptedServer();
  const elsewhere = new ScriptedServer();
  let client: TrinoHttpClient;

  before(async () => {
    await Promise.all([coordinator.start(), elsewhere.start()]);
    client = new TrinoHttpClient({ url: coordinator.url, user: 'ops', password: 'pa55' });
  });
  after(async () => {
    await client.close();
    await Promise.all([coordinator.stop(), elsewhere.stop()]);
  });

  for (const [name, nextUri] of [
    ['another port', () => `${elsewhere.url}/v1/statement/executing/q1/y1/1`],
    ['user info that hides the real host', () => `${coordinator.url}@${elsewhere.url.slice(7)}/v1/statement/q1/y1/1`],
    ['another host name for the same address', () => `${elsewhere.url.replace('127.0.0.1', 'localhost')}/v1/x`],
  ] as const) {
    test(`a nextUri on ${name} is refused, gets nothing, and the query is cancelled by id on the coordinator`, async () => {
      coordinator.reset((req, res) =>
        req.method === 'POST' ? json(res, 200, { id: 'q1', nextUri: nextUri() }) : res.writeHead(204).end(),
      );
      elsewhere.reset((_req, res) => json(res, 200, { id: 'q1' }));
      const error = await rejectsWith(client.execute('SELECT 1'), 'TrinoNextUriOffOrigin', false);
      assert.match(error.message, new RegExp(`not on ${coordinator.url} where the statement was sent`));
      assert.match(error.message, /sent nothing there/);
      assert.deepEqual(elsewhere.seen, [], 'the other listener received nothing');
      assert.deepEqual(
        coordinator.seen.map((r) => `${r.method} ${r.url}`),
        ['POST /v1/statement', 'DELETE /v1/query/q1'],
      );
      assert.equal(coordinator.seen[1].headers['x-trino-user'], 'ops');
    });
  }

  test('a nextUri on the same origin, spelt differently, is followed there', async () => {
    const port = new URL(coordinator.url).port;
    coordinator.reset((req, res) =>
      req.method === 'POST'
        ? json(res, 200, { id: 'q2', nextUri: `HTTP://127.0.0.1:${port}/v1/statement/executing/q2/y2/1` })
        : json(res, 200, { id: 'q2', columns: [{ name: 'x', type: 'integer' }], data: [[1]] }),
    );
    assert.equal((await client.execute('SELECT 1')).state, 'FINISHED');
    assert.deepEqual(
      coordinator.seen.map((r) => `${r.method} ${r.url}`),
      ['POST /v1/statement', 'GET /v1/statement/executing/q2/y2/1'],
    );
  });
});

describe('Trino client: row cap and timeout, against the sandbox coordinator', () => {
  const coordinator = new SimulatedCoordinator({ name: 'capped', version: '480' });
  let client: TrinoHttpClient;

  before(async () => {
    await coordinator.start();
    client = new TrinoHttpClient({ url: coordinator.url });
  });
  after(async () => {
    await client.close();
    await coordinator.stop();
  });

  async function onCoordinator(id: string) {
    return (await client.listQueries()).find((query) => query.queryId === id);
  }

  test('more rows than maxRows: reading stops, the query is cancelled on the coordinator and FAILED', async () => {
    const result = await client.execute('/* sandbox:rows=5000 */ SELECT x FROM t', { maxRows: 1500 });
    assert.equal(result.state, 'FAILED');
    assert.deepEqual(result.error, { message: 'returned more than 1500 rows', errorName: 'CUTOVER_ROW_LIMIT' });
    assert.equal(result.rows.length, 1500);
    const query = await onCoordinator(result.id);
    assert.deepEqual([query?.state, query?.errorCode], ['FAILED', 'USER_CANCELED']);
  });

  test('exactly maxRows rows, over several pages, is a FINISHED statement', async () => {
    const result = await client.execute('/* sandbox:rows=2500 */ SELECT x FROM t', { maxRows: 2500 });
    assert.equal(result.state, 'FINISHED');
    assert.equal(result.rows.length, 2500);
    assert.equal((await onCoordinator(result.id))?.state, 'FINISHED');
  });

  test('a last page that goes over maxRows fails the statement, with nothing left to cancel', async () => {
    const result = await client.execute('/* sandbox:rows=20 */ SELECT x FROM t', { maxRows: 10 });
    assert.deepEqual(
      [result.state, result.error?.message, result.rows.length],
      ['FAILED', 'returned more than 10 rows', 10],
    );
    assert.equal((await onCoordinator(result.id))?.state, 'FINISHED');
  });

  test('not finished within timeoutMs: the query is cancelled on the coordinator and FAILED', async () => {
    const started = Date.now();
    const result = await client.execute('/* sandbox:duration=10s */ SELECT 1', { timeoutMs: 300 });
    assert.ok(Date.now() - started < 2_000, `returned after ${Date.now() - started} ms`);
    assert.equal(result.state, 'FAILED');
    assert.deepEqual(result.error, { message: 'did not finish within 300 ms', errorName: 'CUTOVER_TIMEOUT' });
    const query = await onCoordinator(result.id);
    assert.deepEqual([query?.state, query?.errorCode], ['FAILED', 'USER_CANCELED']);
  });

  test('a statement that finishes in time is untouched by the timer', async () => {
    const result = await client.execute('/* sandbox:duration=50ms */ SELECT version()', {
      timeoutMs: 5_000,
      maxRows: 1,
    });
    assert.deepEqual([result.state, result.rows], ['FINISHED', [['480']]]);
  });
});
