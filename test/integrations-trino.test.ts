import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { json, rejectsWith, ScriptedServer } from './support/scripted-server';
import { TrinoHttpClient } from '../src/integrations/trino/client';

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
          queryStats: { createTime: 't0', endTime: 't1' },
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

  test('unreachable and slow coordinators are retryable TrinoUnreachable', async () => {
    const closed = new TrinoHttpClient({ url: 'http://127.0.0.1:1' });
    await rejectsWith(closed.info(), 'TrinoUnreachable', true);
    await closed.close();

    trino.reset(() => undefined);
    const error = await rejectsWith(client.info(), 'TrinoUnreachable', true);
    assert.match(error.message, /no answer within 500 ms/);
  });
});
