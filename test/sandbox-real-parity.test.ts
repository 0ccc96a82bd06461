/**
 * Differences between the sandbox and a real Trino Gateway 20 / Trino 470-476 found by the
 * real-stack test (scripts/real-stack/compare.ts, docs/real-stack.md), pinned on the sandbox.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TrinoHttpClient } from '../src/integrations/trino/client';
import { startSandboxFleet, type SandboxFleet } from '../src/sandbox/fleet';

describe('sandbox behaves like the real gateway and Trino where the real-stack test saw a difference', () => {
  let fleet: SandboxFleet;

  before(async () => {
    fleet = await startSandboxFleet({ healthIntervalMs: 100, clusters: [{ name: 'parity-blue', version: '470', routingGroup: 'adhoc' }] });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const state = await (await fetch(`${fleet.gatewayUrl}/api/public/backends/parity-blue/state`)).json().catch(() => ({}));
      if ((state as { trinoStatus?: string }).trinoStatus === 'HEALTHY') break;
      if (Date.now() > deadline) throw new Error('parity-blue not HEALTHY');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  after(async () => {
    await fleet.stop();
  });

  it('trinoClusterHost cookie is `<host>;Version=1` (JAX-RS NewCookie), and the client still reads the host', async () => {
    const response = await fetch(`${fleet.gatewayUrl}/v1/statement`, { method: 'POST', body: 'SELECT 1', headers: { 'x-trino-user': 'alice' } });
    await response.body?.cancel();
    assert.equal(response.headers.getSetCookie().find((c) => c.startsWith('trinoClusterHost=')), 'trinoClusterHost=127.0.0.1;Version=1');
    const client = new TrinoHttpClient({ url: fleet.gatewayUrl, user: 'alice' });
    try {
      const result = await client.execute('SELECT 1');
      assert.equal(result.clusterHost, '127.0.0.1');
    } finally {
      await client.close();
    }
  });

  it('a statement without a user is refused with Trino’s exact 401 message and leaves no query-history row', async () => {
    const before = (await (await fetch(`${fleet.gatewayUrl}/trino-gateway/api/queryHistory`)).json()) as unknown[];
    const response = await fetch(`${fleet.gatewayUrl}/v1/statement`, { method: 'POST', body: 'SELECT 1' });
    assert.equal(response.status, 401);
    assert.equal(await response.text(), 'Basic authentication or X-Trino-Original-User or X-Trino-User must be sent');
    const history = (await (await fetch(`${fleet.gatewayUrl}/trino-gateway/api/queryHistory`)).json()) as { queryId: string | null }[];
    assert.equal(history.length, before.length, 'the real gateway (HaQueryHistoryManager.submitQueryDetail) drops submissions without a query id');
    assert.ok(history.every((row) => typeof row.queryId === 'string' && row.queryId.length > 0));
  });
  it('leaves null fields out of JSON like the real gateway: no `source` without X-Trino-Source, no `userQueuedCount`', async () => {
    const response = await fetch(`${fleet.gatewayUrl}/v1/statement`, { method: 'POST', body: 'SELECT 1', headers: { 'x-trino-user': 'carol' } });
    await response.body?.cancel();
    const history = (await (await fetch(`${fleet.gatewayUrl}/trino-gateway/api/queryHistory`)).json()) as Record<string, unknown>[];
    const row = history.find((r) => r.user === 'carol')!;
    assert.deepEqual(Object.keys(row).sort(), ['backendUrl', 'captureTime', 'externalUrl', 'queryId', 'queryText', 'routingGroup', 'user']);
    const state = (await (await fetch(`${fleet.gatewayUrl}/api/public/backends/parity-blue/state`)).json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(state).sort(), [
      'clusterId',
      'externalUrl',
      'numWorkerNodes',
      'proxyTo',
      'queuedQueryCount',
      'routingGroup',
      'runningQueryCount',
      'trinoStatus',
    ]);
  });
});
