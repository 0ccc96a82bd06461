import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { until, untilHealthy } from '../src/devserver/wait';
import { TrinoGatewayClient } from '../src/integrations/gateway/client';
import { canaryCondition } from '../src/integrations/traffic/routing-rule';
import { canaryReadyRules } from '../src/sandbox/canary-rules';
import { startSandboxFleet, type SandboxFleet } from '../src/sandbox/fleet';
import { startQueryLoad } from '../src/sandbox/load';

const RULE = 'cutover-canary-adhoc';

function canaryRule(percent: number) {
  return {
    name: RULE,
    description: 'test',
    priority: 10,
    condition: canaryCondition(percent),
    actions: ['result.put("routingGroup", "adhoc-canary")'],
  };
}

async function ruleCondition(url: string): Promise<string | undefined> {
  const rules = await new TrinoGatewayClient({ url }).getRoutingRules();
  return rules.find((rule) => rule.name === RULE)?.condition;
}

describe('sandbox gateway with two replicas behind a round-robin balancer', () => {
  let fleet: SandboxFleet;
  let gw1 = '';
  let gw2 = '';

  before(async () => {
    fleet = await startSandboxFleet({
      gatewayReplicas: 2,
      healthIntervalMs: 50,
      rulesRefreshMs: 50,
      rules: canaryReadyRules('adhoc-canary'),
      clusters: [{ name: 'blue', version: '470' }],
    });
    [gw1, gw2] = fleet.replicaUrls();
    await untilHealthy(fleet, 'blue');
  });
  after(() => fleet.stop());

  it('shares the backends (one database): a backend added through one replica is listed by the other and the balancer', async () => {
    assert.notEqual(gw1, gw2);
    assert.ok(![gw1, gw2].includes(fleet.gatewayUrl), 'the balancer has an address of its own');
    await new TrinoGatewayClient({ url: gw1 }).addBackend({
      name: 'shared',
      proxyTo: fleet.cluster('blue')!.url,
      active: false,
      routingGroup: 'other',
    });
    for (const url of [gw2, fleet.gatewayUrl]) {
      const listed = await new TrinoGatewayClient({ url }).getBackend('shared');
      assert.equal(listed?.routingGroup, 'other', `${url} lists the backend`);
    }
    await new TrinoGatewayClient({ url: fleet.gatewayUrl }).deleteBackend('shared');
    assert.equal(await new TrinoGatewayClient({ url: gw2 }).getBackend('shared'), undefined);
  });

  it('keeps a health cache per replica: a frozen replica reports a new backend PENDING while the other reports it HEALTHY', async () => {
    fleet.setReplicaFaults('gw-2', { healthFrozen: true });
    try {
      await new TrinoGatewayClient({ url: fleet.gatewayUrl }).addBackend({
        name: 'fresh',
        proxyTo: fleet.cluster('blue')!.url,
        active: false,
        routingGroup: 'other',
      });
      await until('fresh HEALTHY on gw-1', async () => {
        const state = await new TrinoGatewayClient({ url: gw1 }).backendState('fresh');
        return state?.trinoStatus === 'HEALTHY';
      });
      assert.equal((await new TrinoGatewayClient({ url: gw2 }).backendState('fresh'))?.trinoStatus, 'PENDING');
      // Round robin: consecutive reads through the balancer see both caches.
      const seen = new Set<string | undefined>();
      for (let i = 0; i < 4; i++)
        seen.add((await new TrinoGatewayClient({ url: fleet.gatewayUrl }).backendState('fresh'))?.trinoStatus);
      assert.deepEqual([...seen].sort(), ['HEALTHY', 'PENDING']);
    } finally {
      fleet.setReplicaFaults('gw-2', { healthFrozen: false });
    }
    await until('fresh HEALTHY on gw-2', async () => {
      const state = await new TrinoGatewayClient({ url: gw2 }).backendState('fresh');
      return state?.trinoStatus === 'HEALTHY';
    });
    await new TrinoGatewayClient({ url: gw1 }).deleteBackend('fresh');
  });

  it('keeps a rules file per replica: an update through one replica leaves the other unchanged', async () => {
    await new TrinoGatewayClient({ url: gw1 }).updateRoutingRule(canaryRule(7));
    assert.equal(await ruleCondition(gw1), canaryCondition(7));
    assert.equal(await ruleCondition(gw2), canaryCondition(0));
    await new TrinoGatewayClient({ url: gw1 }).updateRoutingRule(canaryRule(0));
  });

  it('a stale replica acknowledges a rule update but shows and routes by it only once the fault is off', async () => {
    fleet.setReplicaFaults('gw-2', { staleRules: true });
    const answered = await new TrinoGatewayClient({ url: gw2 }).updateRoutingRule(canaryRule(30));
    assert.equal(answered.find((rule) => rule.name === RULE)?.condition, canaryCondition(30), 'acknowledged');
    assert.equal(await ruleCondition(gw2), canaryCondition(0), 'not in the file yet');
    fleet.setReplicaFaults('gw-2', { staleRules: false });
    assert.equal(await ruleCondition(gw2), canaryCondition(30), 'written once the fault is off');
    const written = fleet.journal().filter((entry) => entry.kind === 'rule.updated' && entry.replica === 'gw-2');
    assert.equal(written.length, 1);
    await new TrinoGatewayClient({ url: gw2 }).updateRoutingRule(canaryRule(0));
  });

  it('a refusing replica answers rule updates with HTTP 500 (a retryable error for cutover)', async () => {
    fleet.setReplicaFaults('gw-2', { refuseRuleUpdates: true });
    try {
      await assert.rejects(new TrinoGatewayClient({ url: gw2 }).updateRoutingRule(canaryRule(5)), (error: Error) => {
        assert.match(error.message, /500/);
        assert.equal((error as { retryable?: boolean }).retryable, true);
        return true;
      });
      assert.equal(await ruleCondition(gw2), canaryCondition(0));
    } finally {
      fleet.setReplicaFaults('gw-2', { refuseRuleUpdates: false });
    }
  });

  it('serves queries through the balancer with no failure, follow-up requests alternating between the replicas', async () => {
    const load = startQueryLoad({ gatewayUrl: fleet.gatewayUrl, users: 5, concurrency: 2, durationMs: [20, 60] });
    await until('queries ran', () => load.report().finished >= 20);
    const report = await load.stop();
    assert.equal(report.failed, 0);
    assert.equal(report.byBackend.blue?.finished, report.finished);
  });

  it('fault switches of a replica are served by the control API', async () => {
    const response = await request(`${fleet.gatewayUrl}/sandbox/v1/gateway-replicas/gw-2/faults`, {
      method: 'POST',
      body: JSON.stringify({ staleRules: false, healthFrozen: false }),
    });
    assert.equal(response.statusCode, 200);
    await response.body.dump();
    const unknown = await request(`${fleet.gatewayUrl}/sandbox/v1/gateway-replicas/gw-9/faults`, {
      method: 'POST',
      body: '{}',
    });
    assert.equal(unknown.statusCode, 404);
    await unknown.body.dump();
  });
});

describe('sandbox gateway replicas on shared storage', () => {
  let fleet: SandboxFleet;
  before(async () => {
    fleet = await startSandboxFleet({
      gatewayReplicas: 2,
      sharedRulesFile: true,
      healthIntervalMs: 50,
      rules: canaryReadyRules('adhoc-canary'),
      clusters: [{ name: 'blue', version: '470' }],
    });
  });
  after(() => fleet.stop());

  it('share one rules file: an update through one replica shows on the other', async () => {
    const [gw1, gw2] = fleet.replicaUrls();
    await new TrinoGatewayClient({ url: gw1 }).updateRoutingRule(canaryRule(12));
    assert.equal(await ruleCondition(gw2), canaryCondition(12));
  });
});
