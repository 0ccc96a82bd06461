import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { until } from '../src/devserver/wait';
import { TrinoGatewayClient } from '../src/integrations/gateway/client';
import { SimulatedCoordinator } from '../src/sandbox/coordinator';
import { SandboxGateway } from '../src/sandbox/gateway';
import { journalMark } from './support/journal';

type Method = 'GET' | 'POST';

async function call(
  base: string,
  method: Method,
  path: string,
  options: { body?: string; headers?: Record<string, string> } = {},
) {
  const response = await request(`${base}${path}`, { method, headers: options.headers, body: options.body });
  const text = await response.body.text();
  return {
    status: response.statusCode,
    type: String(response.headers['content-type'] ?? ''),
    text,
    json: () => JSON.parse(text),
  };
}

const json = (value: unknown) => ({ body: JSON.stringify(value), headers: { 'content-type': 'application/json' } });

describe('sandbox gateway: backend API', () => {
  const blue = new SimulatedCoordinator({ name: 'blue', version: '470' });
  const gateway = new SandboxGateway({ healthIntervalMs: 40 });
  let base = '';

  before(async () => {
    await blue.start();
    await gateway.start();
    base = gateway.url;
  });
  after(async () => {
    await gateway.stop();
    await blue.stop();
  });

  it('adds a backend with the real defaults, strips the trailing slash, and refuses a duplicate name with 500', async () => {
    assert.equal((await call(base, 'GET', '/gateway')).text, 'ok');
    const added = await call(
      base,
      'POST',
      '/gateway/backend/modify/add',
      json({ name: 'blue', proxyTo: `${blue.url}/` }),
    );
    assert.equal(added.status, 200);
    assert.deepEqual(added.json(), {
      name: 'blue',
      proxyTo: `${blue.url}/`,
      active: true,
      routingGroup: 'adhoc',
      externalUrl: `${blue.url}/`,
    });
    assert.deepEqual((await call(base, 'GET', '/gateway/backend/all')).json(), [
      { name: 'blue', proxyTo: blue.url, active: true, routingGroup: 'adhoc', externalUrl: blue.url },
    ]);
    assert.equal(
      (await call(base, 'POST', '/gateway/backend/modify/add', json({ name: 'blue', proxyTo: blue.url }))).status,
      500,
    );
    assert.equal((await call(base, 'POST', '/gateway/backend/modify/add', json({ proxyTo: blue.url }))).status, 500);
  });

  it('upserts on update and journals whether an update changed anything', async () => {
    const since = await journalMark();
    const spare = { name: 'spare', proxyTo: 'http://127.0.0.1:9', routingGroup: 'etl', active: true };
    assert.equal((await call(base, 'POST', '/gateway/backend/modify/update', json(spare))).status, 200);
    await call(base, 'POST', '/gateway/backend/modify/update', json(spare));
    await call(base, 'POST', '/gateway/backend/modify/update', json({ ...spare, active: false }));
    const journal = gateway.journal
      .entries(since)
      .filter(
        (entry) => entry.name === 'spare' && entry.kind.startsWith('backend.') && entry.kind !== 'backend.health',
      );
    assert.deepEqual(
      journal.map((entry) => [entry.kind, entry.detail]),
      [
        ['backend.added', 'created by update, proxyTo=http://127.0.0.1:9, active=true'],
        ['backend.updated', 'unchanged'],
        ['backend.updated', 'changed active=false'],
      ],
    );
    assert.deepEqual(
      (await call(base, 'GET', '/gateway/backend/active')).json().map((b: { name: string }) => b.name),
      ['blue'],
    );
  });

  it('activates and deactivates by name, 404 text/plain for an unknown one, journaling only real changes', async () => {
    const since = await journalMark();
    const unknown = await call(base, 'POST', '/gateway/backend/activate/nope');
    assert.equal(unknown.status, 404);
    assert.match(unknown.type, /^text\/plain/);
    assert.equal(unknown.text, 'No cluster found with name: nope, could not (de)activate');
    assert.equal((await call(base, 'POST', '/gateway/backend/activate/spare')).status, 200);
    assert.equal((await call(base, 'POST', '/gateway/backend/activate/spare')).status, 200);
    assert.deepEqual(
      gateway.journal
        .entries(since)
        .filter((entry) => entry.kind === 'backend.activated')
        .map((entry) => entry.name),
      ['spare'],
    );
  });

  it('deletes by the raw name whatever the content type, and an unknown name is not an error', async () => {
    assert.equal(
      (
        await call(base, 'POST', '/gateway/backend/modify/delete', {
          body: 'spare',
          headers: { 'content-type': 'application/json' },
        })
      ).status,
      200,
    );
    assert.equal((await call(base, 'POST', '/gateway/backend/modify/delete', { body: 'spare' })).status, 200);
    assert.equal((await call(base, 'GET', '/api/public/backends/spare')).status, 404);
  });

  it('serves public backend info and ClusterStats with counts from the coordinator', async () => {
    await until('blue HEALTHY', () => gateway.backendState('blue')?.trinoStatus === 'HEALTHY');
    assert.equal((await call(base, 'GET', '/api/public/backends/blue')).json().proxyTo, blue.url);
    assert.deepEqual((await call(base, 'GET', '/api/public/backends/blue/state')).json(), {
      clusterId: 'blue',
      runningQueryCount: 0,
      queuedQueryCount: 0,
      numWorkerNodes: 1,
      trinoStatus: 'HEALTHY',
      proxyTo: blue.url,
      externalUrl: blue.url,
      routingGroup: 'adhoc',
    });
    assert.equal((await call(base, 'GET', '/api/public/backends/nope/state')).status, 404);
    assert.deepEqual((await call(base, 'POST', '/webapp/getAllBackends', json({}))).json(), {
      code: 200,
      msg: 'Successful.',
      data: [
        {
          name: 'blue',
          proxyTo: blue.url,
          active: true,
          routingGroup: 'adhoc',
          externalUrl: blue.url,
          queued: 0,
          running: 0,
          status: 'HEALTHY',
        },
      ],
    });
    assert.equal((await call(base, 'GET', '/trino-gateway/livez')).text, 'ok');
    assert.equal((await call(base, 'GET', '/trino-gateway/readyz')).status, 200);
  });

  it("answers cutover's own gateway client exactly like the real API", async () => {
    const client = new TrinoGatewayClient({ url: base });
    try {
      await client.upsertBackend({
        name: 'green',
        proxyTo: 'http://127.0.0.1:9',
        active: false,
        routingGroup: 'adhoc',
      });
      assert.equal((await client.getBackend('green'))?.active, false);
      await client.activateBackend('green');
      assert.deepEqual(
        (await client.listActiveBackends()).map((b) => b.name),
        ['blue', 'green'],
      );
      assert.equal((await client.backendState('blue'))?.trinoStatus, 'HEALTHY');
      await client.deleteBackend('green');
      assert.equal(await client.getBackend('green'), undefined);
      assert.equal(await client.isReady(), true);
    } finally {
      await client.close();
    }
  });
});

describe('sandbox gateway: health monitor', () => {
  const green = new SimulatedCoordinator({ name: 'green', version: '480', startupDelayMs: 700 });
  // Accepts connections and never answers: the health check must time out.
  const sockets = new Set<Socket>();
  const silent: Server = createServer((socket) => sockets.add(socket));
  const gateway = new SandboxGateway({ healthIntervalMs: 40, healthTimeoutMs: 300 });

  before(async () => {
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    gateway.upsertBackend({ name: 'silent', proxyTo: `http://127.0.0.1:${port}`, active: true, routingGroup: 'void' });
    await gateway.start();
  });
  after(async () => {
    await gateway.stop();
    await green.stop();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  it('is not ready until the first round finished, and a backend that never answers becomes UNHEALTHY', async () => {
    assert.equal((await call(gateway.url, 'GET', '/trino-gateway/readyz')).status, 503);
    await until(
      'the end of the first health round',
      async () => (await call(gateway.url, 'GET', '/trino-gateway/readyz')).status === 200,
    );
    assert.equal(gateway.backendState('silent')?.trinoStatus, 'UNHEALTHY');
    // Its slow checks would stretch every round past green's startup delay below.
    await call(gateway.url, 'POST', '/gateway/backend/modify/delete', { body: 'silent' });
    await gateway.checkHealthNow();
  });

  it('moves an inactive new backend PENDING -> HEALTHY once its coordinator finished starting', async () => {
    const since = await journalMark();
    await green.start();
    gateway.upsertBackend({ name: 'green', proxyTo: green.url, active: false, routingGroup: 'adhoc' });
    assert.equal(gateway.backendState('green')?.trinoStatus, 'PENDING', 'PENDING until the first check');
    await gateway.checkHealthNow();
    assert.equal(gateway.backendState('green')?.trinoStatus, 'PENDING', 'PENDING while /v1/info says starting');
    await until('green HEALTHY', () => gateway.backendState('green')?.trinoStatus === 'HEALTHY');
    assert.deepEqual(
      gateway.journal
        .entries(since)
        .filter((entry) => entry.kind === 'backend.health')
        .map((entry) => entry.detail),
      ['HEALTHY'],
    );
    assert.equal(gateway.backendState('green')?.numWorkerNodes, 1);
  });

  it('marks a backend UNHEALTHY on an unhealthy fault or a crash, and HEALTHY again after', async () => {
    green.setFaults({ unhealthy: true });
    await until('green UNHEALTHY', () => gateway.backendState('green')?.trinoStatus === 'UNHEALTHY');
    green.setFaults({ unhealthy: false });
    await until('green HEALTHY again', () => gateway.backendState('green')?.trinoStatus === 'HEALTHY');
    await green.crash();
    await until('crashed green UNHEALTHY', () => gateway.backendState('green')?.trinoStatus === 'UNHEALTHY');
    await green.recover();
    await until('recovered green HEALTHY', () => gateway.backendState('green')?.trinoStatus === 'HEALTHY');
  });

  it('journals when a routing group loses its last active HEALTHY backend and when it gets one back', async () => {
    const since = await journalMark();
    await call(gateway.url, 'POST', '/gateway/backend/activate/green');
    green.setFaults({ unhealthy: true });
    await until('green UNHEALTHY', () => gateway.backendState('green')?.trinoStatus === 'UNHEALTHY');
    green.setFaults({ unhealthy: false });
    await until('green HEALTHY', () => gateway.backendState('green')?.trinoStatus === 'HEALTHY');
    assert.deepEqual(
      gateway.journal
        .entries(since)
        .filter((entry) => entry.kind.startsWith('group.'))
        .map((entry) => `${entry.kind} ${entry.group}`),
      ['group.served adhoc', 'group.unserved adhoc', 'group.served adhoc'],
    );
  });
});

describe('sandbox gateway: authentication and roles', () => {
  const gateway = new SandboxGateway({
    healthIntervalMs: 1_000,
    users: {
      admin: { password: 'secret', roles: ['ADMIN', 'USER', 'API'] },
      viewer: { password: 'view', roles: ['USER'] },
    },
    tokens: { 'token-123': 'admin' },
  });
  const basic = (user: string, password: string) => ({
    authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
  });

  before(() => gateway.start());
  after(() => gateway.stop());

  it('answers 403 "Authentication error" without or with wrong credentials', async () => {
    for (const headers of [{}, basic('admin', 'wrong'), basic('nobody', 'secret'), { authorization: 'Bearer nope' }]) {
      const reply = await call(gateway.url, 'GET', '/gateway/backend/all', { headers });
      assert.deepEqual([reply.status, reply.text], [403, 'Authentication error']);
    }
  });

  it('answers HTTP 200 with {"code":401} to an authenticated user without the role, even on /gateway', async () => {
    for (const path of ['/gateway/backend/all', '/webapp/getRoutingRules']) {
      const reply = await call(gateway.url, 'GET', path, { headers: basic('viewer', 'view') });
      assert.equal(reply.status, 200);
      assert.deepEqual(reply.json(), { code: 401, msg: 'Unauthorized', data: null });
    }
    assert.equal(
      (await call(gateway.url, 'POST', '/webapp/getAllBackends', { headers: basic('viewer', 'view') })).json().code,
      200,
    );
  });

  it('findQueryHistory shows a caller without the ADMIN role only their own queries, whatever user it asks for (GatewayWebAppResource)', async () => {
    const coordinator = new SimulatedCoordinator({ name: 'history-blue', version: '470' });
    await coordinator.start();
    try {
      const added = await call(gateway.url, 'POST', '/gateway/backend/modify/add', {
        body: JSON.stringify({ name: 'history-blue', proxyTo: coordinator.url }),
        headers: { ...basic('admin', 'secret'), 'content-type': 'application/json' },
      });
      assert.equal(added.status, 200, added.text);
      await until(
        'history-blue HEALTHY',
        async () =>
          (await call(gateway.url, 'GET', '/api/public/backends/history-blue/state')).json().trinoStatus === 'HEALTHY',
        10_000,
        50,
      );
      for (const user of ['viewer', 'mallory', 'viewer']) {
        const submitted = await call(gateway.url, 'POST', '/v1/statement', {
          body: 'SELECT 1',
          headers: { 'x-trino-user': user },
        });
        assert.equal(submitted.status, 200);
      }
      const history = async (as: Record<string, string>, body: object) =>
        (
          await call(gateway.url, 'POST', '/webapp/findQueryHistory', {
            body: JSON.stringify(body),
            headers: { ...as, 'content-type': 'application/json' },
          })
        ).json() as { code: number; data: { total: number; rows: { user: string }[] } };
      const users = (reply: { data: { rows: { user: string }[] } }) => reply.data.rows.map((row) => row.user);
      assert.deepEqual(users(await history(basic('admin', 'secret'), {})), ['viewer', 'mallory', 'viewer']);
      assert.deepEqual(users(await history(basic('admin', 'secret'), { user: 'mallory' })), ['mallory']);
      const own = await history(basic('viewer', 'view'), {});
      assert.deepEqual([own.data.total, users(own)], [2, ['viewer', 'viewer']]);
      assert.deepEqual(users(await history(basic('viewer', 'view'), { user: 'mallory' })), ['viewer', 'viewer']);
    } finally {
      await call(gateway.url, 'POST', '/gateway/backend/modify/delete', {
        body: 'history-blue',
        headers: basic('admin', 'secret'),
      });
      await coordinator.stop();
    }
  });

  it('accepts Basic and bearer credentials with the role, and needs none on public endpoints', async () => {
    assert.deepEqual(
      (await call(gateway.url, 'GET', '/gateway/backend/all', { headers: basic('admin', 'secret') })).json(),
      [],
    );
    assert.deepEqual(
      (
        await call(gateway.url, 'GET', '/gateway/backend/all', { headers: { authorization: 'Bearer token-123' } })
      ).json(),
      [],
    );
    assert.equal((await call(gateway.url, 'GET', '/api/public/backends')).status, 200);
    assert.equal((await call(gateway.url, 'GET', '/trino-gateway/livez')).status, 200);
    const client = new TrinoGatewayClient({
      url: gateway.url,
      auth: { type: 'basic', user: 'viewer', password: 'view' },
    });
    try {
      await assert.rejects(client.listBackends(), (error: Error) => error.name === 'GatewayUnauthorized');
    } finally {
      await client.close();
    }
  });
});
