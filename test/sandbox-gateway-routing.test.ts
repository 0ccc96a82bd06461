import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { sleep, until } from '../src/devserver/wait';
import { TrinoHttpClient } from '../src/integrations/trino/client';
import type { RoutingRule } from '../src/integrations/gateway/types';
import { SimulatedCoordinator } from '../src/sandbox/coordinator';
import { SandboxGateway } from '../src/sandbox/gateway';
import { UnsupportedRoutingRuleError } from '../src/sandbox/routing-rules';
import { journalMark } from './support/journal';

async function call(
  url: string,
  options: { method?: 'GET' | 'POST' | 'HEAD'; body?: string; headers?: Record<string, string> } = {},
) {
  const response = await request(url, {
    method: options.method ?? 'GET',
    headers: options.headers,
    body: options.body,
  });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, text, json: () => JSON.parse(text) };
}

/** Versions that served `count` `SELECT version()` queries sent through the gateway. */
async function versionsServing(
  client: TrinoHttpClient,
  count: number,
  options: { user?: string; headers?: Record<string, string> } = {},
): Promise<Set<string>> {
  const results = await Promise.all(Array.from({ length: count }, () => client.execute('SELECT version()', options)));
  for (const result of results) assert.equal(result.state, 'FINISHED', result.error?.message);
  return new Set(results.map((result) => String(result.rows[0][0])));
}

describe('sandbox gateway: proxy and routing', () => {
  const blue = new SimulatedCoordinator({ name: 'blue', version: '470' });
  const green = new SimulatedCoordinator({ name: 'green', version: '480' });
  const sick = new SimulatedCoordinator({ name: 'sick', version: '470' });
  const gateway = new SandboxGateway({ healthIntervalMs: 30 });
  let client: TrinoHttpClient;

  before(async () => {
    await Promise.all([blue.start(), green.start(), sick.start()]);
    sick.setFaults({ unhealthy: true });
    gateway.upsertBackend({ name: 'blue', proxyTo: blue.url, active: true, routingGroup: 'adhoc' });
    gateway.upsertBackend({ name: 'green', proxyTo: green.url, active: false, routingGroup: 'adhoc' });
    gateway.upsertBackend({ name: 'sick', proxyTo: sick.url, active: true, routingGroup: 'etl' });
    await gateway.start();
    await gateway.checkHealthNow();
    client = new TrinoHttpClient({ url: gateway.url, user: 'tester' });
  });
  after(async () => {
    await client.close();
    await gateway.stop();
    await Promise.all([blue.stop(), green.stop(), sick.stop()]);
  });

  it('keeps the client on the gateway: nextUri points at it, the POST reply names the backend host', async () => {
    const reply = await call(`${gateway.url}/v1/statement`, {
      method: 'POST',
      body: 'SELECT 1',
      headers: { 'x-trino-user': 'tester' },
    });
    assert.equal(reply.status, 200);
    assert.ok(String(reply.json().nextUri).startsWith(`${gateway.url}/v1/statement/queued/`));
    assert.match(String(reply.headers['set-cookie']), /^trinoClusterHost=127\.0\.0\.1/);
    const result = await client.execute('SELECT 1');
    assert.equal(result.clusterHost, '127.0.0.1');
    const row = gateway.queryHistory().find((entry) => entry.queryId === result.id);
    assert.deepEqual(row && [row.backendUrl, row.user, row.routingGroup, row.queryText], [
      blue.url,
      'tester',
      'adhoc',
      'SELECT 1',
    ]);
  });

  it('sends new queries only to active HEALTHY backends', async () => {
    assert.deepEqual(await versionsServing(client, 10), new Set(['470']), 'green is inactive');
    await call(`${gateway.url}/gateway/backend/activate/green`, { method: 'POST' });
    assert.deepEqual(await versionsServing(client, 40), new Set(['470', '480']), 'random over both');
    blue.setFaults({ unhealthy: true });
    await until('blue UNHEALTHY', () => gateway.backendState('blue')?.trinoStatus === 'UNHEALTHY');
    assert.deepEqual(await versionsServing(client, 10), new Set(['480']), 'active but UNHEALTHY gets nothing');
    blue.setFaults({ unhealthy: false });
    await until('blue HEALTHY', () => gateway.backendState('blue')?.trinoStatus === 'HEALTHY');
    await call(`${gateway.url}/gateway/backend/deactivate/green`, { method: 'POST' });
  });

  it('keeps serving a running query from its backend after that backend is deactivated (drain)', async () => {
    const running = client.execute('/* sandbox:duration=600ms */ SELECT version()');
    await sleep(150);
    await call(`${gateway.url}/gateway/backend/activate/green`, { method: 'POST' });
    await call(`${gateway.url}/gateway/backend/deactivate/blue`, { method: 'POST' });
    assert.deepEqual(await versionsServing(client, 5), new Set(['480']), 'new queries go to green');
    const drained = await running;
    assert.equal(drained.state, 'FINISHED');
    assert.deepEqual(drained.rows, [['470']]);
  });

  it('falls back to the default group when the requested group has no active HEALTHY backend', async () => {
    assert.deepEqual(
      await versionsServing(client, 5, { headers: { 'X-Trino-Routing-Group': 'etl' } }),
      new Set(['480']),
    );
    assert.deepEqual(
      await versionsServing(client, 3, { headers: { 'X-Trino-Routing-Group': 'no-such-group' } }),
      new Set(['480']),
    );
    assert.equal(gateway.queryHistory()[0].routingGroup, 'no-such-group', 'history keeps the requested group');
  });

  it('finds the owner of a query id it never routed by probing every backend', async () => {
    const direct = await call(`${sick.url}/v1/statement`, {
      method: 'POST',
      body: '/* sandbox:duration=2s */ SELECT 1',
      headers: { 'x-trino-user': 'x' },
    });
    assert.equal(direct.status, 503, 'the unhealthy fault refuses statements');
    sick.setFaults({ unhealthy: false });
    const id = (
      await call(`${sick.url}/v1/statement`, {
        method: 'POST',
        body: '/* sandbox:duration=2s */ SELECT 1',
        headers: { 'x-trino-user': 'x' },
      })
    ).json().id;
    sick.setFaults({ unhealthy: true });
    const found = await call(`${gateway.url}/v1/query/${id}`, { headers: { 'x-trino-user': 'x' } });
    assert.equal(found.status, 200);
    assert.equal(found.json().queryId, id);
    assert.equal(
      (await call(`${gateway.url}/v1/query/20200101_000000_00000_zzzzz`, { headers: { 'x-trino-user': 'x' } })).status,
      404,
    );
  });

  it('answers 502 when the backend that owns a query refuses the connection', async () => {
    const first = (
      await call(`${gateway.url}/v1/statement`, {
        method: 'POST',
        body: '/* sandbox:duration=5s */ SELECT 1',
        headers: { 'x-trino-user': 'x' },
      })
    ).json();
    await green.crash();
    try {
      assert.equal((await call(first.nextUri)).status, 502);
    } finally {
      await green.recover();
    }
  });
});

describe('sandbox gateway: no backend to serve', () => {
  const gateway = new SandboxGateway({ healthIntervalMs: 1_000 });

  before(() => gateway.start());
  after(() => gateway.stop());

  it('answers 500 "Number of active backends found zero" when neither the group nor the default group can serve', async () => {
    const reply = await call(`${gateway.url}/v1/statement`, {
      method: 'POST',
      body: 'SELECT 1',
      headers: { 'x-trino-user': 'x', 'x-trino-routing-group': 'etl' },
    });
    assert.deepEqual([reply.status, reply.text], [500, 'Number of active backends found zero']);
  });
});

describe('sandbox gateway: FILE routing rules', () => {
  const stable = new SimulatedCoordinator({ name: 'stable', version: '470' });
  const canaryCluster = new SimulatedCoordinator({ name: 'canary', version: '480' });
  const canaryRule = (percent: number): RoutingRule => ({
    name: 'canary',
    description: 'users to the canary group',
    priority: 10,
    condition: `request.getHeader("X-Trino-User") != null && Math.floorMod(request.getHeader("X-Trino-User").hashCode(), 100) < ${percent}`,
    actions: ['result.put("routingGroup", "canary")'],
  });
  const passthrough: RoutingRule = {
    name: 'passthrough',
    condition: 'request.getHeader("X-Trino-Routing-Group") != null',
    actions: ['result.put("routingGroup", request.getHeader("X-Trino-Routing-Group"))'],
  };
  const gateway = new SandboxGateway({
    healthIntervalMs: 30,
    rules: [passthrough, canaryRule(0)],
    rulesRefreshMs: 300,
  });
  let client: TrinoHttpClient;
  const update = (rule: unknown) =>
    call(`${gateway.url}/webapp/updateRoutingRules`, {
      method: 'POST',
      body: JSON.stringify(rule),
      headers: { 'content-type': 'application/json' },
    });

  before(async () => {
    await Promise.all([stable.start(), canaryCluster.start()]);
    gateway.upsertBackend({ name: 'stable', proxyTo: stable.url, active: true, routingGroup: 'adhoc' });
    gateway.upsertBackend({ name: 'canary', proxyTo: canaryCluster.url, active: true, routingGroup: 'canary' });
    await gateway.start();
    await gateway.checkHealthNow();
    client = new TrinoHttpClient({ url: gateway.url });
  });
  after(async () => {
    await client.close();
    await gateway.stop();
    await Promise.all([stable.stop(), canaryCluster.stop()]);
  });

  it('lists the rules with the real defaults', async () => {
    const reply = (await call(`${gateway.url}/webapp/getRoutingRules`)).json();
    assert.equal(reply.code, 200);
    assert.deepEqual(reply.data, [{ ...passthrough, description: '', priority: 0 }, canaryRule(0)]);
  });

  it('moves a user to the canary only after the rules refresh period, and lets the header rule route too', async () => {
    // "abc".hashCode() = 96354, bucket 54.
    assert.deepEqual(await versionsServing(client, 3, { user: 'abc' }), new Set(['470']));
    const updated = (await update(canaryRule(55))).json();
    assert.equal(updated.data[1].condition, canaryRule(55).condition);
    assert.deepEqual(
      await versionsServing(client, 3, { user: 'abc' }),
      new Set(['470']),
      'the router still has the old rules',
    );
    await sleep(320);
    assert.deepEqual(await versionsServing(client, 3, { user: 'abc' }), new Set(['480']));
    assert.deepEqual(await versionsServing(client, 3, { user: 'Zoë' }), new Set(['470']), 'bucket 66 stays');
    assert.deepEqual(
      await versionsServing(client, 3, { user: 'Zoë', headers: { 'X-Trino-Routing-Group': 'canary' } }),
      new Set(['480']),
    );
  });

  it('silently ignores an update of an unknown rule and refuses an expression it cannot evaluate', async () => {
    const since = await journalMark();
    const ignored = (await update({ ...canaryRule(5), name: 'new-rule' })).json();
    assert.deepEqual(
      ignored.data.map((rule: RoutingRule) => rule.name),
      ['passthrough', 'canary'],
    );
    const refused = await update({ ...canaryRule(5), condition: 'Math.random() < 0.05' });
    assert.equal(refused.status, 400);
    assert.match(refused.text, /unsupported condition 'Math\.random\(\) < 0\.05'/);
    assert.equal(gateway.journal.entries(since).filter((entry) => entry.kind === 'rule.updated').length, 0);
    assert.throws(
      () => new SandboxGateway({ rules: [{ ...passthrough, actions: ['result.put("routingGroup", "a" + "b")'] }] }),
      UnsupportedRoutingRuleError,
    );
  });
});
