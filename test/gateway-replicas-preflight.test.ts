import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { trafficActivities } from '../src/activities/traffic';
import type { InspectGatewayInput } from '../src/activities/types';
import { untilHealthy } from '../src/devserver/wait';
import { TrinoGatewayClient } from '../src/integrations/gateway/client';
import { fixedPolicy } from '../src/policy/load';
import { canaryReadyRules } from '../src/sandbox/canary-rules';
import { startSandboxFleet, type SandboxFleet } from '../src/sandbox/fleet';
import { integrationsFromEnv } from '../src/worker/integrations';
import { TEST_POLICY } from './support/policy';

/** The preflight's inspection (the activity's code, run as `cutover validate --gateway` runs it) with replicas. */
describe('preflight with gateway replicas', () => {
  const deps = integrationsFromEnv({}, fixedPolicy(TEST_POLICY));
  let replicated: SandboxFleet;
  /** Another gateway (its own database and rules file) that happens to have a backend of the same name. */
  let other: SandboxFleet;

  before(async () => {
    const clusters = [{ name: 'pre-blue', version: '470', routingGroup: 'pre' }];
    replicated = await startSandboxFleet({
      gatewayReplicas: 2,
      healthIntervalMs: 50,
      rules: canaryReadyRules('pre-canary'),
      clusters,
    });
    other = await startSandboxFleet({ healthIntervalMs: 50, rules: canaryReadyRules('elsewhere-canary'), clusters });
    await untilHealthy(replicated, 'pre-blue');
  });
  after(async () => {
    await deps.close();
    await Promise.all([replicated.stop(), other.stop()]);
  });

  function input(replicas: string[]): InspectGatewayInput {
    return {
      gateway: { url: replicated.gatewayUrl, requestTimeout: '5s', replicas },
      routingGroup: 'pre',
      green: 'pre-green',
      canary: { group: 'pre-canary', entry: 'pre-green-canary', rule: 'cutover-canary-pre' },
    };
  }

  it("passes when every replica lists blue from the gateway's database and has the canary rule", async () => {
    const found = await trafficActivities(deps).inspectGateway(input(replicated.replicaUrls()));
    assert.deepEqual(
      found.blue.map((backend) => backend.name),
      ['pre-blue'],
    );
  });

  it("refuses a listed replica that does not share the gateway's database, naming it", async () => {
    // A backend only the replicated gateway's database has.
    replicated.gateway.upsertBackend({
      name: 'only-here',
      proxyTo: replicated.cluster('pre-blue')!.url,
      active: true,
      routingGroup: 'pre',
    });
    try {
      await assert.rejects(
        trafficActivities(deps).inspectGateway(input([replicated.replicaUrls()[0], other.gatewayUrl])),
        (error: Error & { type?: string }) => {
          assert.equal(error.type, 'ReplicaNotOfGateway');
          assert.match(
            error.message,
            new RegExp(`gateway replica ${new URL(other.gatewayUrl).host} does not list only-here`),
          );
          return true;
        },
      );
    } finally {
      await new TrinoGatewayClient({ url: replicated.gatewayUrl }).deleteBackend('only-here');
    }
  });

  it('refuses a replica whose own rules file lacks the canary rule', async () => {
    await assert.rejects(
      trafficActivities(deps).inspectGateway(input([replicated.replicaUrls()[0], other.gatewayUrl])),
      (error: Error & { type?: string }) => {
        assert.equal(error.type, 'RoutingRuleNotFound');
        assert.match(
          error.message,
          new RegExp(`gateway replica ${new URL(other.gatewayUrl).host} has no routing rule cutover-canary-pre`),
        );
        return true;
      },
    );
  });
});
