import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { IntegrationError } from '../src/integrations/errors';
import { json, rejectsWith, ScriptedServer } from './support/scripted-server';
import { TrinoGatewayClient } from '../src/integrations/gateway/client';
import { gatewayAuthFromEnv, trinoAuthFromEnv } from '../src/integrations/gateway/credentials';

const blue = {
  name: 'trino-blue',
  proxyTo: 'http://127.0.0.1:8470',
  active: true,
  routingGroup: 'adhoc',
  externalUrl: 'http://127.0.0.1:8470',
};

describe('Trino Gateway client', () => {
  const gateway = new ScriptedServer();
  let client: TrinoGatewayClient;

  before(async () => {
    await gateway.start();
    client = new TrinoGatewayClient({
      url: gateway.url,
      auth: { type: 'basic', user: 'cutover', password: 's3cret' },
      requestTimeoutMs: 500,
    });
  });
  after(async () => {
    await client.close();
    await gateway.stop();
  });

  test('lists backends with basic auth on the real paths', async () => {
    gateway.reset((req, res) =>
      json(
        res,
        200,
        req.url === '/gateway/backend/active' ? [blue] : [blue, { ...blue, name: 'trino-green', active: false }],
      ),
    );
    assert.deepEqual(await client.listActiveBackends(), [blue]);
    assert.equal((await client.listBackends()).length, 2);
    assert.deepEqual(
      gateway.seen.map((r) => r.url),
      ['/gateway/backend/active', '/gateway/backend/all'],
    );
    assert.equal(gateway.seen[0].headers.authorization, `Basic ${Buffer.from('cutover:s3cret').toString('base64')}`);
  });

  test('sends a bearer token when configured', async () => {
    const bearer = new TrinoGatewayClient({ url: gateway.url, auth: { type: 'bearer', token: 'tok-123' } });
    gateway.reset((_req, res) => json(res, 200, []));
    await bearer.listBackends();
    await bearer.close();
    assert.equal(gateway.seen[0].headers.authorization, 'Bearer tok-123');
  });

  test('a {"code":401} body on /gateway is a non-retryable GatewayUnauthorized naming the API role', async () => {
    gateway.reset((_req, res) => json(res, 200, { code: 401, msg: 'Unauthorized' }));
    const error = await rejectsWith(client.listBackends(), 'GatewayUnauthorized', false);
    assert.match(error.message, /API role/);
    await rejectsWith(client.activateBackend('trino-green'), 'GatewayUnauthorized', false);
  });

  test('HTTP 403 is a non-retryable GatewayAuthenticationFailed that never shows the password', async () => {
    gateway.reset((_req, res) => res.writeHead(403, { 'content-type': 'text/plain' }).end('Authentication error'));
    const error = await rejectsWith(client.listBackends(), 'GatewayAuthenticationFailed', false);
    assert.match(error.message, /CUTOVER_GATEWAY_USER and CUTOVER_GATEWAY_PASSWORD \(or CUTOVER_GATEWAY_TOKEN\)/);
    assert.doesNotMatch(error.message, /s3cret/);
    assert.equal(error.status, 403);
  });

  test('unknown backends: getBackend and backendState give undefined, deactivate is BackendNotFound', async () => {
    gateway.reset((_req, res) => res.writeHead(404, { 'content-type': 'text/plain' }).end('Backend not found'));
    assert.equal(await client.getBackend('nope'), undefined);
    assert.equal(await client.backendState('nope'), undefined);
    const error = await rejectsWith(client.deactivateBackend('nope'), 'BackendNotFound', false);
    assert.match(error.message, /"nope"/);
    assert.deepEqual(
      gateway.seen.map((r) => `${r.method} ${r.url}`),
      ['GET /api/public/backends/nope', 'GET /api/public/backends/nope/state', 'POST /gateway/backend/deactivate/nope'],
    );
  });

  test('path segments are URL-encoded', async () => {
    gateway.reset((_req, res) => res.writeHead(200).end());
    await client.activateBackend('a b/c');
    assert.equal(gateway.seen[0].url, '/gateway/backend/activate/a%20b%2Fc');
  });

  test('upsert posts the backend as JSON to modify/update', async () => {
    gateway.reset((req, res) => json(res, 200, JSON.parse(req.body)));
    const green = { name: 'trino-green', proxyTo: 'http://127.0.0.1:8480', active: false, routingGroup: 'adhoc' };
    assert.deepEqual(await client.upsertBackend(green), green);
    assert.equal(gateway.seen[0].url, '/gateway/backend/modify/update');
    assert.equal(gateway.seen[0].headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(gateway.seen[0].body), green);
  });

  test('add posts the backend to modify/add; a name that exists (HTTP 500) is a retryable error, never an overwrite', async () => {
    const green = { name: 'trino-green', proxyTo: 'http://127.0.0.1:8480', active: false, routingGroup: 'adhoc' };
    gateway.reset((req, res) => json(res, 200, JSON.parse(req.body)));
    assert.deepEqual(await client.addBackend(green), green);
    assert.equal(gateway.seen[0].url, '/gateway/backend/modify/add');
    assert.deepEqual(JSON.parse(gateway.seen[0].body), green);
    gateway.reset((_req, res) =>
      res.writeHead(500).end('duplicate key value violates unique constraint "gateway_backend_pkey"'),
    );
    const error = await rejectsWith(client.addBackend(green), 'GatewayUnavailable', true);
    assert.match(error.message, /HTTP 500/);
  });

  test('delete sends the bare name, and deleting an unknown backend is not an error', async () => {
    gateway.reset((req, res) => (req.method === 'GET' ? json(res, 200, blue) : res.writeHead(200).end()));
    await client.deleteBackend('trino-blue');
    assert.deepEqual(gateway.seen[1], {
      ...gateway.seen[1],
      method: 'POST',
      url: '/gateway/backend/modify/delete',
      body: 'trino-blue',
    });

    gateway.reset((_req, res) => res.writeHead(404).end());
    await client.deleteBackend('trino-gone');
    assert.deepEqual(
      gateway.seen.map((r) => r.method),
      ['GET'],
      'nothing to delete, no POST',
    );
  });

  test('backend state: current shape as is, older shapes normalised', async () => {
    const current = {
      clusterId: 'trino-blue',
      trinoStatus: 'HEALTHY',
      runningQueryCount: 3,
      queuedQueryCount: 1,
      numWorkerNodes: 2,
      proxyTo: blue.proxyTo,
      externalUrl: blue.externalUrl,
      routingGroup: 'adhoc',
      userQueuedCount: null,
    };
    gateway.reset((_req, res) => json(res, 200, current));
    assert.deepEqual(await client.backendState('trino-blue'), {
      clusterId: 'trino-blue',
      trinoStatus: 'HEALTHY',
      runningQueryCount: 3,
      queuedQueryCount: 1,
      numWorkerNodes: 2,
      proxyTo: blue.proxyTo,
      externalUrl: blue.externalUrl,
      routingGroup: 'adhoc',
    });
    gateway.reset((_req, res) =>
      json(res, 200, {
        clusterId: 'trino-blue',
        healthy: false,
        runningQueryCount: 0,
        queuedQueryCount: 0,
        numWorkerNodes: 0,
      }),
    );
    assert.equal((await client.backendState('trino-blue'))?.trinoStatus, 'UNHEALTHY');
    gateway.reset((_req, res) => json(res, 200, { QUEUED: 2, RUNNING: 5 }));
    assert.deepEqual(await client.backendState('trino-blue'), {
      clusterId: 'trino-blue',
      trinoStatus: 'UNKNOWN',
      runningQueryCount: 5,
      queuedQueryCount: 2,
      numWorkerNodes: 0,
    });
  });

  test('routing rules: wrapped replies unwrapped, a missing ADMIN role and an unknown rule refused', async () => {
    const rule = {
      name: 'canary',
      description: 'canary share',
      priority: 10,
      actions: ['result.put("routingGroup", "canary")'],
      condition: 'false',
    };
    gateway.reset((req, res) =>
      json(res, 200, { code: 200, msg: 'Successful.', data: req.method === 'POST' ? [JSON.parse(req.body)] : [rule] }),
    );
    assert.deepEqual(await client.getRoutingRules(), [rule]);
    const updated = { ...rule, condition: 'Math.floorMod(request.getHeader("X-Trino-User").hashCode(), 100) < 25' };
    assert.deepEqual(await client.updateRoutingRule(updated), [updated]);
    assert.equal(gateway.seen[1].url, '/webapp/updateRoutingRules');

    gateway.reset((_req, res) => json(res, 200, { code: 200, msg: 'Successful.', data: [rule] }));
    await rejectsWith(client.updateRoutingRule({ ...rule, name: 'brand-new' }), 'RoutingRuleNotFound', false);

    gateway.reset((_req, res) => json(res, 200, { code: 401, msg: 'Unauthorized' }));
    const error = await rejectsWith(client.getRoutingRules(), 'GatewayUnauthorized', false);
    assert.match(error.message, /ADMIN role/);

    gateway.reset((_req, res) => json(res, 200, { code: 500, msg: 'rules file not writable' }));
    await rejectsWith(client.updateRoutingRule(rule), 'GatewayRefused', false);
  });

  test('5xx is retryable, other 4xx are not and say method, path, status and body', async () => {
    gateway.reset((_req, res) => res.writeHead(500).end('Number of active backends found zero'));
    const unavailable = await rejectsWith(client.listBackends(), 'GatewayUnavailable', true);
    assert.equal(unavailable.status, 500);

    gateway.reset((_req, res) =>
      res.writeHead(400, { 'content-type': 'text/plain' }).end('Unrecognized field "proxyto"'),
    );
    const rejected = await rejectsWith(client.upsertBackend({ ...blue }), 'GatewayRequestRejected', false);
    assert.match(
      rejected.message,
      /POST \/gateway\/backend\/modify\/update with HTTP 400: Unrecognized field "proxyto"/,
    );

    gateway.reset((_req, res) => res.writeHead(429).end());
    await rejectsWith(client.listBackends(), 'GatewayUnavailable', true);
  });

  test('a gateway that does not answer in time is GatewayUnreachable', async () => {
    gateway.reset(() => undefined);
    const started = Date.now();
    const error = await rejectsWith(client.listBackends(), 'GatewayUnreachable', true);
    assert.match(error.message, /no answer within 500 ms/);
    assert.ok(Date.now() - started < 3_000);
  });

  test('a refused connection is GatewayUnreachable; readiness follows readyz', async () => {
    const closed = new TrinoGatewayClient({ url: 'http://127.0.0.1:1' });
    const error = await rejectsWith(closed.listBackends(), 'GatewayUnreachable', true);
    assert.match(error.message, /ECONNREFUSED/);
    assert.equal(await closed.isReady(), false);
    await closed.close();

    gateway.reset((req, res) => res.writeHead(req.url === '/trino-gateway/readyz' ? 200 : 500).end('ok'));
    assert.equal(await client.isReady(), true);
    gateway.reset((_req, res) => res.writeHead(503).end());
    assert.equal(await client.isReady(), false);
  });
});

describe('credentials from the environment', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'cutover-credentials-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('bearer, basic and none', () => {
    assert.deepEqual(gatewayAuthFromEnv({ CUTOVER_GATEWAY_TOKEN: 't' }), { type: 'bearer', token: 't' });
    assert.deepEqual(gatewayAuthFromEnv({ CUTOVER_GATEWAY_USER: 'u', CUTOVER_GATEWAY_PASSWORD: 'p' }), {
      type: 'basic',
      user: 'u',
      password: 'p',
    });
    assert.equal(gatewayAuthFromEnv({}), undefined);
  });

  test('secrets can come from files, without their final newline', () => {
    const passwordFile = join(dir, 'password');
    writeFileSync(passwordFile, 'from-file\n');
    assert.deepEqual(gatewayAuthFromEnv({ CUTOVER_GATEWAY_USER: 'u', CUTOVER_GATEWAY_PASSWORD_FILE: passwordFile }), {
      type: 'basic',
      user: 'u',
      password: 'from-file',
    });
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'tok\n');
    assert.deepEqual(gatewayAuthFromEnv({ CUTOVER_GATEWAY_TOKEN_FILE: tokenFile }), { type: 'bearer', token: 'tok' });
    assert.deepEqual(trinoAuthFromEnv({ CUTOVER_TRINO_PASSWORD_FILE: passwordFile }), {
      user: 'cutover',
      password: 'from-file',
    });
  });

  test('incomplete or ambiguous settings are errors naming the variable, never the secret', () => {
    assert.throws(
      () => gatewayAuthFromEnv({ CUTOVER_GATEWAY_USER: 'u' }),
      (error: IntegrationError) => {
        assert.equal(error.type, 'CredentialsInvalid');
        assert.match(error.message, /CUTOVER_GATEWAY_PASSWORD/);
        return true;
      },
    );
    assert.throws(
      () => gatewayAuthFromEnv({ CUTOVER_GATEWAY_PASSWORD: 'hunter2' }),
      (error: Error) => {
        assert.match(error.message, /CUTOVER_GATEWAY_USER/);
        assert.doesNotMatch(error.message, /hunter2/);
        return true;
      },
    );
    assert.throws(
      () =>
        gatewayAuthFromEnv({ CUTOVER_GATEWAY_TOKEN: 'tok', CUTOVER_GATEWAY_USER: 'u', CUTOVER_GATEWAY_PASSWORD: 'p' }),
      /not both/,
    );
    assert.throws(
      () => gatewayAuthFromEnv({ CUTOVER_GATEWAY_TOKEN_FILE: join(dir, 'missing') }),
      /CUTOVER_GATEWAY_TOKEN_FILE names .*missing, which cannot be read \(ENOENT\)/,
    );
  });

  test('Trino user defaults to cutover', () => {
    assert.deepEqual(trinoAuthFromEnv({}), { user: 'cutover' });
    assert.deepEqual(trinoAuthFromEnv({ CUTOVER_TRINO_USER: 'ops', CUTOVER_TRINO_PASSWORD: 'pw' }), {
      user: 'ops',
      password: 'pw',
    });
  });
});
