import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TrinoGatewayClient } from '../src/integrations/gateway/client';
import { TrinoHttpClient } from '../src/integrations/trino/client';
import { policyProblems } from '../src/policy/check-plan';
import { workerPolicySchema } from '../src/policy/schema';
import { untilHealthy } from '../src/devserver/wait';
import { startSandboxFleet, type SandboxFleet } from '../src/sandbox/fleet';
import { fastPlan } from './support/plans';

describe('shadow validation: plan, policy and the gateway history it samples', () => {
  it('a plan shadow query that writes is refused like a smoke query', () => {
    assert.throws(
      () => fastPlan('http://127.0.0.1:1', 'g', { shadow: { source: ['queries'], queries: ['DELETE FROM orders'] } }),
      /shadow\.queries\[0\]: must be read-only/,
    );
  });

  it('source queries without queries, and queries without that source, are refused', () => {
    assert.throws(() => fastPlan('http://127.0.0.1:1', 'g', { shadow: { source: ['queries'] } }), /must list queries/);
    assert.throws(
      () => fastPlan('http://127.0.0.1:1', 'g', { shadow: { queries: ['SELECT 1'] } }),
      /must include "queries"/,
    );
  });

  it('a plan can only narrow the policy: concurrency and sample above its bounds are refused', () => {
    const plan = fastPlan('http://127.0.0.1:1', 'g', { shadow: { concurrency: 8, sample: 500 } });
    const problems = policyProblems(plan, undefined);
    assert.ok(
      problems.some((problem) => /^shadow\.concurrency: must be at most 4/.test(problem)),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((problem) => /^shadow\.sample: must be at most 200/.test(problem)),
      problems.join('\n'),
    );
    const wider = workerPolicySchema.parse({
      gateways: ['http://127.0.0.1:1'],
      bounds: { maxShadowConcurrency: 8, maxShadowQueries: 500 },
    });
    assert.ok(!policyProblems(plan, wider).some((problem) => problem.startsWith('shadow.')));
  });

  describe('POST /webapp/findQueryHistory on the sandbox gateway', () => {
    let fleet: SandboxFleet;
    before(async () => {
      fleet = await startSandboxFleet({
        clusters: [{ name: 'trino-blue', version: '470', routingGroup: 'adhoc' }],
        healthIntervalMs: 100,
      });
      await untilHealthy(fleet, 'trino-blue');
    });
    after(() => fleet.stop());

    it('pages the submissions newest first with their users and sources, filtered by user', async () => {
      const trino = new TrinoHttpClient({ url: fleet.gatewayUrl, connections: 1 });
      for (const [i, user] of ['alice', 'bob', 'alice'].entries())
        await trino.execute(`SELECT ${i}`, {
          user,
          headers: { 'X-Trino-Routing-Group': 'adhoc', 'X-Trino-Source': 'bi' },
        });
      await trino.close();
      const gateway = new TrinoGatewayClient({ url: fleet.gatewayUrl });
      const first = await gateway.findQueryHistory(1, 2);
      assert.equal(first.total, 3);
      assert.deepEqual(
        first.rows.map((row) => [row.queryText, row.user, row.source, row.routingGroup]),
        [
          ['SELECT 2', 'alice', 'bi', 'adhoc'],
          ['SELECT 1', 'bob', 'bi', 'adhoc'],
        ],
      );
      const second = await gateway.findQueryHistory(2, 2);
      assert.deepEqual(
        second.rows.map((row) => row.queryText),
        ['SELECT 0'],
      );
      const response = await fetch(`${fleet.gatewayUrl}/webapp/findQueryHistory`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ page: 1, size: 10, user: 'bob' }),
      });
      const body = (await response.json()) as { code: number; data: { total: number; rows: { user: string }[] } };
      assert.equal(body.code, 200);
      assert.deepEqual(
        body.data.rows.map((row) => row.user),
        ['bob'],
      );
      await gateway.close();
    });
  });
});
