import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sleep } from '../src/devserver/wait';
import { TrinoGatewayClient } from '../src/integrations/gateway/client';
import {
  canaryAction,
  canaryCondition,
  misplacedCanaryRule,
  routingRule,
  weightOfRule,
} from '../src/integrations/traffic/routing-rule';
import { TrinoHttpClient } from '../src/integrations/trino/client';
import { canaryReadyRules } from '../src/sandbox/canary-rules';
import { SimulatedCoordinator } from '../src/sandbox/coordinator';
import { SandboxGateway } from '../src/sandbox/gateway';
import { javaFloorMod, javaStringHashCode } from '../src/sandbox/routing-rules';

const REFRESH_MS = 50;
const USERS = Array.from({ length: 40 }, (_, i) => `analyst-${i}`);
const bucketOf = (user: string) => javaFloorMod(javaStringHashCode(user), 100);

/**
 * One gateway, two routing groups (adhoc, the gateway's default, and etl), each with its blue; the
 * rules file holds the routing-group header rule and adhoc's canary rule. A canary of adhoc must
 * take a share of adhoc's users only: etl's queries stay on etl's blue whatever the weight.
 */
describe("a canary of one routing group leaves the other groups' traffic alone", () => {
  const adhocBlue = new SimulatedCoordinator({ name: 'adhoc-blue', version: '470' });
  const etlBlue = new SimulatedCoordinator({ name: 'etl-blue', version: '470' });
  const green = new SimulatedCoordinator({ name: 'adhoc-green', version: '480' });
  const gateway = new SandboxGateway({
    healthIntervalMs: 30,
    rulesRefreshMs: REFRESH_MS,
    rules: canaryReadyRules('adhoc-canary', 'adhoc'),
  });
  let trino: TrinoHttpClient;
  let api: TrinoGatewayClient;

  before(async () => {
    await Promise.all([adhocBlue.start(), etlBlue.start(), green.start()]);
    gateway.upsertBackend({ name: 'adhoc-blue', proxyTo: adhocBlue.url, active: true, routingGroup: 'adhoc' });
    gateway.upsertBackend({ name: 'etl-blue', proxyTo: etlBlue.url, active: true, routingGroup: 'etl' });
    gateway.upsertBackend({
      name: 'adhoc-green-canary',
      proxyTo: green.url,
      active: true,
      routingGroup: 'adhoc-canary',
    });
    await gateway.start();
    await gateway.checkHealthNow();
    trino = new TrinoHttpClient({ url: gateway.url, user: 'unused' });
    api = new TrinoGatewayClient({ url: gateway.url, requestTimeoutMs: 5_000 });
  });
  after(async () => {
    await trino.close();
    await gateway.stop();
    await Promise.all([adhocBlue.stop(), etlBlue.stop(), green.stop()]);
  });

  /** Runs one query per user and traffic kind; returns the backend URL that served each, by kind. */
  async function servedBy(): Promise<Record<'etl' | 'adhoc' | 'unassigned', Map<string, string>>> {
    const kinds = {
      etl: { 'X-Trino-Routing-Group': 'etl' },
      adhoc: { 'X-Trino-Routing-Group': 'adhoc' },
      unassigned: {}, // no rule assigns a group: the gateway's default group, adhoc
    };
    const served = { etl: new Map<string, string>(), adhoc: new Map<string, string>(), unassigned: new Map() };
    for (const [kind, headers] of Object.entries(kinds) as [keyof typeof kinds, Record<string, string>][]) {
      const results = await Promise.all(
        USERS.map((user) => trino.execute(`SELECT '${kind}'`, { user, headers }).then((result) => ({ user, result }))),
      );
      for (const { user, result } of results) {
        assert.equal(result.state, 'FINISHED', result.error?.message);
        // Where the gateway sent it, from its query history.
        const row = gateway.queryHistory().find((entry) => entry.queryId === result.id);
        assert.ok(row, `query ${result.id} is in the gateway's history`);
        served[kind].set(user, row.backendUrl);
      }
    }
    return served;
  }

  for (const percent of [50, 100]) {
    it(`at ${percent}%: no etl query reaches adhoc's canary, ${percent}% of adhoc's users (by hash) do`, async () => {
      const router = routingRule.router(api, {
        canaryGroup: 'adhoc-canary',
        ruleName: 'cutover-canary-adhoc',
        rulesRefresh: `${REFRESH_MS}ms`,
        routingGroup: 'adhoc',
        defaultRoutingGroup: 'adhoc',
      });
      const applied = await router.setWeight(percent, 1);
      await sleep(applied.appliedAfterMs + REFRESH_MS);
      const canaryUsers = USERS.filter((user) => bucketOf(user) < percent);
      assert.ok(
        canaryUsers.length > 0 && (percent === 100 || canaryUsers.length < USERS.length),
        'users on both sides',
      );
      const served = await servedBy();
      const onCanary = (kind: keyof typeof served) =>
        USERS.filter((user) => served[kind].get(user) === green.url).sort();
      assert.deepEqual(onCanary('etl'), [], "no etl query reached adhoc's canary");
      assert.deepEqual(new Set(served.etl.values()), new Set([etlBlue.url]), "every etl query ran on etl's blue");
      assert.deepEqual(onCanary('adhoc'), [...canaryUsers].sort(), "adhoc's share is the users below the weight");
      assert.deepEqual(
        onCanary('unassigned'),
        [...canaryUsers].sort(),
        'queries no rule assigned land in the default group adhoc: its canary takes the same users',
      );
      for (const kind of ['adhoc', 'unassigned'] as const) {
        for (const user of USERS.filter((u) => !canaryUsers.includes(u)))
          assert.equal(served[kind].get(user), adhocBlue.url, `${user}'s ${kind} query stayed on adhoc's blue`);
      }
    });
  }
});

describe('the scoped canary rule text', () => {
  const scope = { routingGroup: 'etl', defaultRoutingGroup: 'adhoc' };
  it("takes only the requests earlier rules put in the plan's group, and unassigned ones for the default group", () => {
    assert.equal(
      canaryAction('etl-canary', scope),
      'if ("etl".equals(result.get("routingGroup"))) { result.put("routingGroup", "etl-canary") }',
    );
    assert.equal(
      canaryAction('adhoc-canary', { routingGroup: 'adhoc', defaultRoutingGroup: 'adhoc' }),
      'if (result.get("routingGroup") == null || "adhoc".equals(result.get("routingGroup"))) { result.put("routingGroup", "adhoc-canary") }',
    );
  });

  it('weightOfRule reads rules written by earlier releases (unscoped action) and scoped ones', () => {
    const old = { name: 'r', priority: 10, condition: canaryCondition(25), actions: [canaryAction('etl-canary')] };
    assert.equal(weightOfRule(old), 25);
    assert.equal(weightOfRule({ ...old, actions: [canaryAction('etl-canary', scope)] }), 25);
    assert.equal(
      weightOfRule({
        ...old,
        condition: canaryCondition(5, { users: ['ann'] }),
        actions: [canaryAction('etl-canary', scope)],
      }),
      5,
    );
  });

  it('is misplaced when a rule assigning a group runs at or after it; other canary rules do not count', () => {
    const header = {
      name: 'routing-group-header',
      priority: 0,
      condition: 'request.getHeader("X-Trino-Routing-Group") != null',
      actions: ['result.put("routingGroup", request.getHeader("X-Trino-Routing-Group"))'],
    };
    const canary = (priority: number) => ({
      name: 'cutover-canary-etl',
      priority,
      condition: canaryCondition(0),
      actions: [canaryAction('etl-canary', scope)],
    });
    const other = { ...canary(50), name: 'cutover-canary-bi', actions: [canaryAction('bi-canary')] };
    assert.equal(misplacedCanaryRule('cutover-canary-etl', [header, canary(10), other]), undefined);
    assert.match(
      misplacedCanaryRule('cutover-canary-etl', [header, canary(0)]) ?? '',
      /priority 0, not above routing-group-header \(priority 0\).*priority above 0 in the rules file/,
    );
    const airflow = {
      ...header,
      name: 'airflow',
      priority: 30,
      condition: 'true',
      actions: ['result.put("routingGroup", "etl")'],
    };
    assert.match(misplacedCanaryRule('cutover-canary-etl', [header, canary(10), airflow]) ?? '', /above 30/);
    const tagger = { ...airflow, actions: ['state.put("seen", "yes")'] };
    assert.equal(
      misplacedCanaryRule('cutover-canary-etl', [header, canary(10), tagger]),
      undefined,
      'assigns no group',
    );
  });
});
