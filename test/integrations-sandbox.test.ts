import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { until } from '../src/devserver/wait';
import type { IntegrationError } from '../src/integrations/errors';
import { TrinoGatewayClient } from '../src/integrations/gateway/client';
import { createProvisioner, type ClosableProvisioner } from '../src/integrations/provisioners';
import { canaryCondition } from '../src/integrations/traffic/routing-rule';
import { TrinoHttpClient } from '../src/integrations/trino/client';
import { startSandboxFleet, type SandboxFleet } from '../src/sandbox/fleet';
import { rejectsWith } from './support/scripted-server';

describe('integrations against the sandbox fleet', () => {
  let fleet: SandboxFleet;
  let gateway: TrinoGatewayClient;
  let provisioner: ClosableProvisioner;
  const coordinators: TrinoHttpClient[] = [];
  const trino = (url: string): TrinoHttpClient => {
    const client = new TrinoHttpClient({ url, connections: 4 });
    coordinators.push(client);
    return client;
  };

  before(async () => {
    fleet = await startSandboxFleet({ clusters: [{ name: 'trino-blue', version: '470' }], healthIntervalMs: 100 });
    gateway = new TrinoGatewayClient({ url: fleet.gatewayUrl, requestTimeoutMs: 5_000 });
    provisioner = createProvisioner(
      { type: 'sandbox', startupDelay: '300ms' },
      { gatewayUrl: fleet.gatewayUrl, policy: undefined },
    );
  });
  after(async () => {
    await Promise.all([gateway.close(), provisioner.close(), ...coordinators.map((client) => client.close())]);
    await fleet.stop();
  });

  test('the gateway lists blue active and, once checked, HEALTHY', async () => {
    await until('the gateway ready', () => gateway.isReady(), 5_000);
    const [blue] = await gateway.listActiveBackends();
    assert.equal(blue.name, 'trino-blue');
    assert.equal(blue.routingGroup, 'adhoc');
    await until(
      'trino-blue HEALTHY',
      async () => (await gateway.backendState('trino-blue'))?.trinoStatus === 'HEALTHY',
      5_000,
    );
    assert.equal((await gateway.getBackend('trino-blue'))?.proxyTo, blue.proxyTo);
    assert.equal(await gateway.getBackend('trino-green'), undefined);
  });

  test('the sandbox provisioner creates green once and refuses another version under its name', async () => {
    const progress: string[] = [];
    const spec = { name: 'trino-green', version: '480', routingGroup: 'adhoc' };
    const created = await provisioner.ensureCluster(spec, (line) => progress.push(line));
    assert.equal(created.created, true);
    assert.match(created.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual(await provisioner.ensureCluster(spec), { ...created, created: false });
    assert.deepEqual(await provisioner.describeCluster('trino-green'), { state: 'present', url: created.url });
    await rejectsWith(provisioner.ensureCluster({ ...spec, version: '481' }), 'ClusterVersionConflict', false);
    assert.match(progress.join('\n'), /created at http/);

    const green = trino(created.url);
    await until('green started', async () => !(await green.info()).starting, 5_000);
    assert.equal((await green.info()).nodeVersion.version, '480');
    const result = await green.execute('SELECT version()');
    assert.deepEqual([result.state, result.rows], ['FINISHED', [['480']]]);
    assert.ok((await green.listQueries()).some((query) => query.queryId === result.id && query.user === 'cutover'));
    assert.ok((await green.clusterStats()).activeWorkers >= 1);
  });

  test('blue/green flip through the gateway while a query on blue runs to completion', async () => {
    const greenUrl = (await provisioner.describeCluster('trino-green')) as { state: 'present'; url: string };
    await gateway.upsertBackend({ name: 'trino-green', proxyTo: greenUrl.url, active: false, routingGroup: 'adhoc' });
    await until(
      'trino-green HEALTHY',
      async () => (await gateway.backendState('trino-green'))?.trinoStatus === 'HEALTHY',
      5_000,
    );

    const viaGateway = trino(fleet.gatewayUrl);
    const blueProxy = (await gateway.getBackend('trino-blue'))!.proxyTo;
    const longOnBlue = viaGateway.execute('/* sandbox:duration=1500ms */ SELECT 1', {
      headers: { 'X-Trino-Routing-Group': 'adhoc' },
    });
    let blueQueries: unknown[] = [];
    await until(
      'a query running on blue',
      async () => (blueQueries = await trino(blueProxy).activeQueries()).length > 0,
      5_000,
    );
    assert.equal(blueQueries.length, 1);

    await gateway.activateBackend('trino-green');
    await gateway.deactivateBackend('trino-blue');
    assert.deepEqual(
      (await gateway.listActiveBackends()).map((b) => b.name),
      ['trino-green'],
    );

    const served = await viaGateway.execute('SELECT version()');
    assert.deepEqual(served.rows, [['480']]);
    assert.equal(served.clusterHost, '127.0.0.1');
    const drained = await longOnBlue;
    assert.equal(drained.state, 'FINISHED', 'the query that started on blue finished after blue was deactivated');
    assert.deepEqual(await trino(blueProxy).activeQueries(), []);
  });

  test('unknown names, routing rules without a rules file, and deletes are idempotent', async () => {
    await rejectsWith(gateway.activateBackend('trino-nope'), 'BackendNotFound', false);
    await gateway.deleteBackend('trino-nope');
    await rejectsWith(gateway.getRoutingRules(), 'GatewayUnavailable', true);

    await gateway.deleteBackend('trino-green');
    assert.equal(await gateway.getBackend('trino-green'), undefined);
    assert.equal(await gateway.backendState('trino-green'), undefined);
    assert.equal(await provisioner.deleteCluster('trino-green'), true);
    assert.deepEqual(await provisioner.describeCluster('trino-green'), { state: 'absent' });
    assert.equal(await provisioner.deleteCluster('trino-green'), false);
  });
});

describe('gateway roles and credentials against the sandbox fleet', () => {
  let fleet: SandboxFleet;

  before(async () => {
    fleet = await startSandboxFleet({
      clusters: [{ name: 'trino-blue', version: '470' }],
      users: {
        cutover: { password: 'api-only', roles: ['API'] },
        admin: { password: 'all-roles', roles: ['ADMIN', 'USER', 'API'] },
      },
      tokens: { 'admin-token': 'admin' },
      rules: [
        {
          name: 'canary',
          description: 'canary share',
          priority: 10,
          condition: canaryCondition(0),
          actions: ['result.put("routingGroup", "canary")'],
        },
      ],
    });
  });
  after(async () => fleet.stop());

  test('an API-only user manages backends but is refused the ADMIN routing rules', async () => {
    const client = new TrinoGatewayClient({
      url: fleet.gatewayUrl,
      auth: { type: 'basic', user: 'cutover', password: 'api-only' },
    });
    try {
      assert.deepEqual(
        (await client.listBackends()).map((b) => b.name),
        ['trino-blue'],
      );
      await assert.rejects(client.getRoutingRules(), (error: IntegrationError) => {
        assert.equal(error.type, 'GatewayUnauthorized');
        assert.match(error.message, /ADMIN role/);
        return !error.retryable;
      });
    } finally {
      await client.close();
    }
  });

  test('a wrong password is GatewayAuthenticationFailed; an admin token updates a rule', async () => {
    const wrong = new TrinoGatewayClient({
      url: fleet.gatewayUrl,
      auth: { type: 'basic', user: 'cutover', password: 'nope' },
    });
    const admin = new TrinoGatewayClient({ url: fleet.gatewayUrl, auth: { type: 'bearer', token: 'admin-token' } });
    try {
      await rejectsWith(wrong.listBackends(), 'GatewayAuthenticationFailed', false);
      const [rule] = await admin.getRoutingRules();
      const condition = canaryCondition(25);
      const rules = await admin.updateRoutingRule({ ...rule, condition });
      assert.equal(rules.find((r) => r.name === 'canary')?.condition, condition);
      await rejectsWith(admin.updateRoutingRule({ ...rule, name: 'new-rule' }), 'RoutingRuleNotFound', false);
    } finally {
      await Promise.all([wrong.close(), admin.close()]);
    }
  });
});
