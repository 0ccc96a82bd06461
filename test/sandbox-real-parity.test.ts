/**
 * Differences between the sandbox and a real Trino Gateway 20 / Trino 470-476 found by the
 * real-stack test (scripts/real-stack/compare.ts, docs/real-stack.md), pinned on the sandbox.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { sleep, untilHealthy } from '../src/devserver/wait';
import type { RoutingRule } from '../src/integrations/gateway/types';
import { TrinoHttpClient } from '../src/integrations/trino/client';
import { canaryAction, canaryCondition } from '../src/integrations/traffic/routing-rule';
import { startSandboxFleet, type SandboxFleet } from '../src/sandbox/fleet';
import { CANARY_USERS, CANARY_USERS_AT_10_ON_REAL_GATEWAY } from './real/support';

describe('sandbox behaves like the real gateway and Trino where the real-stack test saw a difference', () => {
  let fleet: SandboxFleet;

  before(async () => {
    fleet = await startSandboxFleet({
      healthIntervalMs: 100,
      clusters: [{ name: 'parity-blue', version: '470', routingGroup: 'adhoc' }],
    });
    await untilHealthy(fleet, 'parity-blue');
  });

  after(async () => {
    await fleet.stop();
  });

  it('trinoClusterHost cookie is `<host>;Version=1` (JAX-RS NewCookie), and the client still reads the host', async () => {
    const response = await fetch(`${fleet.gatewayUrl}/v1/statement`, {
      method: 'POST',
      body: 'SELECT 1',
      headers: { 'x-trino-user': 'alice' },
    });
    await response.body?.cancel();
    assert.equal(
      response.headers.getSetCookie().find((c) => c.startsWith('trinoClusterHost=')),
      'trinoClusterHost=127.0.0.1;Version=1',
    );
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
    const history = (await (await fetch(`${fleet.gatewayUrl}/trino-gateway/api/queryHistory`)).json()) as {
      queryId: string | null;
    }[];
    assert.equal(
      history.length,
      before.length,
      'the real gateway (HaQueryHistoryManager.submitQueryDetail) drops submissions without a query id',
    );
    assert.ok(history.every((row) => typeof row.queryId === 'string' && row.queryId.length > 0));
  });
  it('leaves null fields out of JSON like the real gateway: no `source` without X-Trino-Source, no `userQueuedCount`', async () => {
    const response = await fetch(`${fleet.gatewayUrl}/v1/statement`, {
      method: 'POST',
      body: 'SELECT 1',
      headers: { 'x-trino-user': 'carol' },
    });
    await response.body?.cancel();
    const history = (await (await fetch(`${fleet.gatewayUrl}/trino-gateway/api/queryHistory`)).json()) as Record<
      string,
      unknown
    >[];
    const row = history.find((r) => r.user === 'carol')!;
    assert.deepEqual(Object.keys(row).sort(), [
      'backendUrl',
      'captureTime',
      'externalUrl',
      'queryId',
      'queryText',
      'routingGroup',
      'user',
    ]);
    const state = (await (await fetch(`${fleet.gatewayUrl}/api/public/backends/parity-blue/state`)).json()) as Record<
      string,
      unknown
    >;
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

  it('findQueryHistory reads its body like the real gateway 20 on PostgreSQL: size 0 gives no rows, numbers as strings count, a fractional page is a 400, a negative size or no body a 500', async () => {
    for (const [user, sql] of [
      ['dora', 'SELECT 11'],
      ['emil', 'SELECT 12'],
    ]) {
      const response = await fetch(`${fleet.gatewayUrl}/v1/statement`, {
        method: 'POST',
        body: sql,
        headers: { 'x-trino-user': user },
      });
      assert.equal(response.status, 200);
      await response.body?.cancel();
    }
    const find = async (body?: string) => {
      const response = await fetch(`${fleet.gatewayUrl}/webapp/findQueryHistory`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body }),
      });
      const text = await response.text();
      const json = (() => {
        try {
          return JSON.parse(text) as { code: unknown; message?: string; data?: { total: number; rows: unknown[] } };
        } catch {
          return undefined;
        }
      })();
      return { status: response.status, json };
    };
    const all = await find('{}');
    assert.equal(all.status, 200);
    const total = all.json!.data!.total;
    assert.ok(total >= 2);
    const rows = all.json!.data!.rows as { user: string; captureTime: number }[];
    assert.deepEqual(
      rows.slice(0, 2).map((row) => [row.user, Object.keys(row).sort()]),
      ['emil', 'dora'].map((user) => [
        user,
        ['backendUrl', 'captureTime', 'externalUrl', 'queryId', 'queryText', 'routingGroup', 'user'],
      ]),
      'newest first, null fields (no source) left out',
    );
    assert.ok(rows.every((row, i) => i === 0 || rows[i - 1].captureTime >= row.captureTime));
    assert.deepEqual((await find('{"size":0}')).json?.data, { total, rows: [] }, 'LIMIT 0: no rows, the total');
    const second = await find('{"page":2,"size":1}');
    assert.deepEqual(second.json?.data?.rows.length, 1);
    assert.deepEqual((await find('{"page":"2","size":"1"}')).json?.data, second.json?.data, 'Jackson reads "2" as 2');
    assert.deepEqual((await find('{"page":0,"size":1}')).json?.data, (await find('{"page":1,"size":1}')).json?.data);
    const fractional = await find('{"page":1.7,"size":1}');
    assert.equal(fractional.status, 400);
    assert.equal(fractional.json?.code, 'JSON_PARSING_ERROR');
    assert.match(
      fractional.json?.message ?? '',
      /^Cannot coerce Floating-point value \(1\.7\) to `java\.lang\.Integer` value/,
    );
    assert.equal((await find('{"size":-1}')).status, 500, 'PostgreSQL refuses a negative LIMIT');
    assert.equal((await find()).status, 500, 'no body: the resource gets a null request');
  });
});

describe('sandbox canary rule routes users like the real gateway’s MVEL (test/real/canary.test.ts)', () => {
  let fleet: SandboxFleet;
  const RULES_REFRESH_MS = 300;

  before(async () => {
    // The rules file the real stack uses, as shipped: header rule (priority 10), adhoc's canary rule at 0% (priority 20).
    const rules = parseAllDocuments(
      readFileSync(join(__dirname, '..', 'deploy', 'gateway', 'routing-rules.yaml'), 'utf8'),
    )
      .map((doc) => doc.toJSON() as RoutingRule | null)
      .filter((rule): rule is RoutingRule => rule !== null);
    fleet = await startSandboxFleet({
      healthIntervalMs: 100,
      rules,
      rulesRefreshMs: RULES_REFRESH_MS,
      clusters: [
        { name: 'parity-blue', version: '470', routingGroup: 'adhoc' },
        { name: 'parity-green-canary', version: '476', routingGroup: 'adhoc-canary' },
      ],
    });
    for (const name of ['parity-blue', 'parity-green-canary']) await untilHealthy(fleet, name);
  });

  after(async () => {
    await fleet.stop();
  });

  async function groupsOf(users: string[]): Promise<Map<string, string>> {
    const ids = new Map<string, string>();
    for (const user of users) {
      const response = await fetch(`${fleet.gatewayUrl}/v1/statement`, {
        method: 'POST',
        body: 'SELECT 1',
        headers: { 'x-trino-user': user },
      });
      ids.set(((await response.json()) as { id: string }).id, user);
    }
    const history = (await (await fetch(`${fleet.gatewayUrl}/trino-gateway/api/queryHistory`)).json()) as {
      queryId: string;
      routingGroup: string;
    }[];
    return new Map(
      history.filter((row) => ids.has(row.queryId)).map((row) => [ids.get(row.queryId)!, row.routingGroup]),
    );
  }

  it('at 10% exactly the users the real gateway sent to adhoc-canary go there (bianca: negative hash, floorMod 10, stays)', async () => {
    const updated = await fetch(`${fleet.gatewayUrl}/webapp/updateRoutingRules`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'cutover-canary-adhoc',
        description: 'cutover canary: 10%',
        priority: 20,
        condition: canaryCondition(10),
        actions: [canaryAction('adhoc-canary', { routingGroup: 'adhoc', defaultRoutingGroup: 'adhoc' })],
      }),
    });
    const rules = ((await updated.json()) as { data: RoutingRule[] }).data;
    assert.equal(
      rules.find((rule) => rule.name === 'cutover-canary-adhoc')?.condition,
      canaryCondition(10),
      'updateRoutingRules answers with the rule as written',
    );
    assert.deepEqual(
      rules.map((rule) => rule.name),
      ['routing-group-header', 'cutover-canary-adhoc'],
      'in file order, nothing added',
    );
    await sleep(RULES_REFRESH_MS + 100);
    const groups = await groupsOf(CANARY_USERS);
    const canary = [...groups]
      .filter(([, group]) => group === 'adhoc-canary')
      .map(([user]) => user)
      .sort();
    assert.deepEqual(canary, CANARY_USERS_AT_10_ON_REAL_GATEWAY);
    assert.equal(groups.size, CANARY_USERS.length);
    assert.ok(
      [...groups].every(([user, group]) => group === (canary.includes(user) ? 'adhoc-canary' : 'adhoc')),
      'everyone else: no rule fires, default group adhoc',
    );
  });
});
