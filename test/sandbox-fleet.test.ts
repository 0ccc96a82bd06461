import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { sleep, until, untilHealthy } from '../src/devserver/wait';
import { SandboxProvisioner } from '../src/integrations/provisioners/sandbox';
import { startSandboxFleet, type SandboxFleet } from '../src/sandbox/fleet';
import { startQueryLoad } from '../src/sandbox/load';
import { journalMark } from './support/journal';

async function call(url: string, method: 'GET' | 'PUT' | 'POST' | 'DELETE' = 'GET', body?: unknown) {
  const response = await request(url, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
  });
  const text = await response.body.text();
  return { status: response.statusCode, text, json: () => JSON.parse(text) };
}

describe('sandbox fleet: control API', () => {
  let fleet: SandboxFleet;
  let control = '';

  before(async () => {
    fleet = await startSandboxFleet({ healthIntervalMs: 40, clusters: [{ name: 'blue', version: '470' }] });
    control = `${fleet.gatewayUrl}/sandbox/v1`;
  });
  after(() => fleet.stop());

  it('registers the initial clusters ACTIVE in the gateway and lists them', async () => {
    assert.deepEqual(fleet.gateway.backends(), [
      {
        name: 'blue',
        proxyTo: fleet.cluster('blue')?.url,
        active: true,
        routingGroup: 'adhoc',
        externalUrl: fleet.cluster('blue')?.url,
      },
    ]);
    await untilHealthy(fleet, 'blue');
    assert.deepEqual((await call(`${control}/clusters`)).json(), [
      {
        name: 'blue',
        version: '470',
        url: fleet.cluster('blue')?.url,
        starting: false,
        faults: {
          unhealthy: false,
          failRate: 0,
          queryDelayMs: 0,
          queryJitterMs: 0,
          queryLatencyFactor: 1,
          errors: [],
          resultChanges: [],
          queryListStatus: 0,
          refuseImpersonation: false,
          crashed: false,
        },
      },
    ]);
  });

  it('creates a cluster once: 201, then 200 for the same version, 409 for another', async () => {
    const since = await journalMark();
    const first = await call(`${control}/clusters/green`, 'PUT', { version: '480', startupDelayMs: 200 });
    assert.equal(first.status, 201);
    const { url } = first.json();
    assert.deepEqual(first.json(), { name: 'green', version: '480', url, created: true });
    const again = await call(`${control}/clusters/green`, 'PUT', { version: '480' });
    assert.deepEqual([again.status, again.json()], [200, { name: 'green', version: '480', url, created: false }]);
    const conflict = await call(`${control}/clusters/green`, 'PUT', { version: '481' });
    assert.equal(conflict.status, 409);
    assert.match(conflict.json().message, /already exists with version 480/);
    assert.equal((await call(`${control}/clusters/green`, 'PUT', { version: 480 })).status, 400);
    assert.equal((await call(`${control}/clusters/green`)).json().starting, true);
    assert.deepEqual(
      fleet.journal(since).map((entry) => [entry.kind, entry.name]),
      [['cluster.created', 'green']],
    );
  });

  it('switches faults, crashes and recovers through the API, journaling each effect', async () => {
    const since = await journalMark();
    const errors = [{ rate: 0.1, errorType: 'USER_ERROR', errorName: 'FUNCTION_NOT_FOUND', sqlContains: 'my_udf(' }];
    const faulty = await call(`${control}/clusters/green/faults`, 'POST', {
      unhealthy: true,
      failRate: 0.5,
      queryDelayMs: 10,
      queryJitterMs: 5,
      queryLatencyFactor: 2,
      errors,
    });
    assert.deepEqual(faulty.json().faults, {
      unhealthy: true,
      failRate: 0.5,
      queryDelayMs: 10,
      queryJitterMs: 5,
      queryLatencyFactor: 2,
      errors,
      resultChanges: [],
      queryListStatus: 0,
      refuseImpersonation: false,
      crashed: false,
    });
    assert.equal((await call(`${control}/clusters/green/faults`, 'POST', { crash: true })).json().faults.crashed, true);
    assert.equal(
      (await call(`${control}/clusters/green/faults`, 'POST', { crash: false })).json().faults.crashed,
      false,
    );
    assert.equal((await call(`${control}/clusters/green/faults`, 'POST', { failRate: 2 })).status, 400);
    assert.equal((await call(`${control}/clusters/green/faults`, 'POST', { explode: true })).status, 400);
    assert.equal(
      (
        await call(`${control}/clusters/green/faults`, 'POST', {
          errors: [{ rate: 1, errorType: 'OOPS', errorName: 'X' }],
        })
      ).status,
      400,
      'an unknown error type is refused',
    );
    assert.equal((await call(`${control}/clusters/nope/faults`, 'POST', { crash: true })).status, 404);
    assert.deepEqual(
      (await call(`${control}/journal?since=${since}`)).json().map((entry: { kind: string }) => entry.kind),
      ['cluster.faults', 'cluster.crashed', 'cluster.recovered'],
    );
  });

  it('deletes idempotently and 404s an unknown cluster', async () => {
    assert.deepEqual((await call(`${control}/clusters/green`, 'DELETE')).json(), { deleted: true });
    assert.deepEqual((await call(`${control}/clusters/green`, 'DELETE')).json(), { deleted: false });
    assert.equal((await call(`${control}/clusters/green`)).status, 404);
  });

  it("serves cutover's sandbox provisioner", async () => {
    const provisioner = new SandboxProvisioner({ controlUrl: fleet.gatewayUrl, startupDelayMs: 0 });
    try {
      const created = await provisioner.ensureCluster({ name: 'green', version: '480', routingGroup: 'adhoc' });
      assert.equal(created.created, true);
      assert.deepEqual(await provisioner.describeCluster('green'), { state: 'present', url: created.url });
      assert.equal(await provisioner.deleteCluster('green'), true);
      assert.equal(await provisioner.deleteCluster('green'), false);
    } finally {
      await provisioner.close();
    }
  });
});

describe('sandbox fleet: query load', () => {
  let fleet: SandboxFleet;

  before(async () => {
    fleet = await startSandboxFleet({ healthIntervalMs: 30, clusters: [{ name: 'blue', version: '470' }] });
    await untilHealthy(fleet, 'blue');
  });
  after(() => fleet.stop());

  it('sees no failed query while the gateway flips from blue to green under load', async () => {
    const load = startQueryLoad({ gatewayUrl: fleet.gatewayUrl, users: 8, concurrency: 6, durationMs: [20, 250] });
    const { cluster: green } = await fleet.createCluster({ name: 'green', version: '480', startupDelayMs: 100 });
    fleet.gateway.upsertBackend({ name: 'green', proxyTo: green.url, active: false, routingGroup: 'adhoc' });
    await untilHealthy(fleet, 'green');
    await sleep(300);
    await call(`${fleet.gatewayUrl}/gateway/backend/activate/green`, 'POST');
    await call(`${fleet.gatewayUrl}/gateway/backend/deactivate/blue`, 'POST');
    await sleep(500);
    assert.ok(load.report().submitted > 0);
    const report = await load.stop();

    assert.equal(
      report.failed,
      0,
      JSON.stringify(report.queries.filter((query) => query.state === 'FAILED').slice(0, 3)),
    );
    assert.equal(report.finished, report.submitted);
    assert.equal(report.queries.length, report.submitted);
    assert.deepEqual(Object.keys(report.byBackend).sort(), ['blue', 'green']);
    assert.equal(report.byBackend.blue.submitted + report.byBackend.green.submitted, report.submitted);
    assert.ok(report.queries.every((query) => query.queryId && query.endedAt >= query.startedAt));
    assert.equal(new Set(report.queries.map((query) => query.user)).size, 8);
    const lastOnBlue = Math.max(
      ...report.queries.filter((query) => query.backend === 'blue').map((query) => query.startedAt),
    );
    const flippedAt = fleet.journal().find((entry) => entry.kind === 'backend.deactivated')?.at ?? 0;
    assert.ok(lastOnBlue <= flippedAt + 50, 'blue gets no new query after it is deactivated');
  });

  it('counts queries that fail on the cluster as failed, with their message', async () => {
    await fleet.applyFaults('green', { failRate: 1 });
    const load = startQueryLoad({ gatewayUrl: fleet.gatewayUrl, users: ['ann'], concurrency: 2, durationMs: [10, 20] });
    await until('some queries to run', () => load.report().submitted >= 4);
    const report = await load.stop();
    assert.equal(report.failed, report.submitted);
    assert.match(report.queries[0].error ?? '', /Simulated failure on coordinator green/);
    assert.equal(report.byBackend.green.failed, report.failed);
  });
});
