/**
 * Canary selectors during real canary runs (a Temporal dev server, the worker, the sandbox fleet):
 * the selected queries and only those go to the canary group, counted per user, source and query
 * type from the gateway's query history; blue is judged on the same selected traffic; a gateway
 * without its request analyzer is refused at the preflight.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { renderView } from '../src/client/commands/status';
import { readUpgrade } from '../src/client/commands/upgrade-handle';
import { startUpgrade } from '../src/client/upgrades';
import { until, waitForStatus } from '../src/devserver/wait';
import { canaryCondition } from '../src/integrations/traffic/routing-rule';
import { windowAround, type TimeWindow } from '../src/integrations/traffic/selector';
import { canaryReadyRules } from '../src/sandbox/canary-rules';
import type { SandboxFleet } from '../src/sandbox/fleet';
import { startQueryLoad } from '../src/sandbox/load';
import { queryTypeOf } from '../src/sandbox/query-properties';
import { javaFloorMod, javaStringHashCode } from '../src/sandbox/routing-rules';
import { promoteUpdate, statusQuery } from '../src/workflows/messages';
import { fastPlan } from './support/plans';
import { useTestbed } from './support/testbed';

const RULES_REFRESH_MS = 200;
const WEIGHT = 30;
const SOURCES = ['superset', 'airflow', undefined] as const;
const STATEMENTS = ['SELECT 1', 'EXPLAIN SELECT 1', 'SHOW TABLES FROM tpch.tiny'];

const bucketOf = (user: string) => javaFloorMod(javaStringHashCode(user), 100);

/** A two-hour window in UTC around now, as HH:MM (wrapping midnight when now is near it). */
function openWindowNow(): TimeWindow {
  return windowAround(Date.now(), -60, 60);
}

interface HistoryRow {
  queryId: string;
  queryText: string;
  user: string;
  source?: string;
  routingGroup: string;
}

async function queryHistory(fleet: SandboxFleet): Promise<Map<string, HistoryRow>> {
  const rows = (await (await fetch(`${fleet.gatewayUrl}/trino-gateway/api/queryHistory`)).json()) as HistoryRow[];
  return new Map(rows.map((row) => [row.queryId, row]));
}

describe('canary selectors on a real Temporal dev server and the sandbox fleet', () => {
  const testbed = useTestbed();

  async function selectorFleet(group: string, analyzeRequest: boolean): Promise<SandboxFleet> {
    return testbed.fleet({
      healthIntervalMs: 100,
      rulesRefreshMs: RULES_REFRESH_MS,
      analyzeRequest,
      rules: canaryReadyRules(`${group}-canary`),
      clusters: [{ name: `${group}-blue`, version: '470', routingGroup: group }],
    });
  }

  it('routes exactly the selected queries (SELECT from superset, inside the time window, 30% of users) to the canary; blue is judged on the same traffic', async () => {
    const group = 'sel';
    const fleet = await selectorFleet(group, true);
    const window = openWindowNow();
    const selector = { source: { include: ['superset'] }, queryTypes: ['SELECT'], timeWindow: window };
    const handle = await startUpgrade(
      testbed.env.client,
      fastPlan(fleet.gatewayUrl, group, {
        strategy: 'canary',
        approval: { required: false },
        canary: {
          traffic: 'routing-rule',
          rulesRefresh: `${RULES_REFRESH_MS}ms`,
          selector,
          steps: [
            { weight: WEIGHT, bake: '10m' },
            { weight: 100, bake: '1s' },
          ],
          analysis: { interval: '2s', maxConsecutiveFailures: 3, maxQueuedGrowth: 100_000 },
        },
      }),
    );
    const baking = await waitForStatus(
      handle,
      (s) => s.phase === 'BAKING' && s.trafficPercent === WEIGHT,
      `baking at ${WEIGHT}%`,
      60_000,
    );
    const words = `${WEIGHT}% of SELECT queries from superset, ${window.from}-${window.to} UTC`;
    assert.ok(
      baking.timeline.some((entry) => entry.message.startsWith(`${words} go to ${group}-canary`)),
      `the timeline says the selector in words: ${baking.timeline.map((e) => e.message).join(' | ')}`,
    );

    const load = startQueryLoad({
      gatewayUrl: fleet.gatewayUrl,
      users: 200,
      concurrency: 16,
      durationMs: [0, 0],
      routingGroup: group,
      sqlFor: (_user, i) => STATEMENTS[Math.floor(i / SOURCES.length) % STATEMENTS.length],
      headersFor: (_user, i): Record<string, string> => {
        const source = SOURCES[i % SOURCES.length];
        return source ? { 'X-Trino-Source': source } : {};
      },
    });
    // Two analysis samples over the load: the second covers a window full of it.
    let view = await readUpgrade(testbed.env.client, handle.workflowId, 5_000);
    const submittedBefore = load.report().submitted;
    const samplesBefore = view.liveSample?.samples ?? 0;
    await until(
      () => `two live samples over the load; last: ${JSON.stringify(view.liveSample)}`,
      async () => {
        view = await readUpgrade(testbed.env.client, handle.workflowId, 5_000);
        return (view.liveSample?.samples ?? 0) >= samplesBefore + 2 && load.report().submitted > submittedBefore + 3000;
      },
      120_000,
      250,
    );
    const report = await load.stop();
    assert.equal(report.failed, 0, 'no query failed');

    // Per user, source and query type: the gateway's query history says where each query was routed.
    const history = await queryHistory(fleet);
    const counts = new Map<string, { canary: number; blue: number }>();
    const wrong: string[] = [];
    for (const query of report.queries) {
      const row = history.get(query.queryId!);
      assert.ok(row, `${query.queryId} is in the gateway's query history`);
      const source = SOURCES[query.index % SOURCES.length];
      const type = queryTypeOf(row.queryText);
      const selected = source === 'superset' && type === 'SELECT' && bucketOf(query.user) < WEIGHT;
      const wanted = selected ? `${group}-canary` : group;
      if (row.routingGroup !== wanted) wrong.push(`${query.user}/${source}/${type} -> ${row.routingGroup}`);
      const key = `${source ?? '(none)'} ${type} ${bucketOf(query.user) < WEIGHT ? 'in' : 'out of'} the ${WEIGHT}% bucket`;
      const entry = counts.get(key) ?? { canary: 0, blue: 0 };
      entry[row.routingGroup === group ? 'blue' : 'canary'] += 1;
      counts.set(key, entry);
    }
    process.stderr.write(
      `selector routing (${report.queries.length} queries): ${[...counts].map(([key, c]) => `${key}: ${c.canary} canary / ${c.blue} blue`).join('; ')}\n`,
    );
    assert.deepEqual(wrong.slice(0, 10), [], 'every query went where the selector and the hash bucket say');
    assert.ok(
      (counts.get(`superset SELECT in the ${WEIGHT}% bucket`)?.canary ?? 0) > 50,
      'many selected queries reached the canary',
    );
    for (const [key, c] of counts) if (!key.startsWith('superset SELECT in')) assert.equal(c.canary, 0, key);

    // Like with like: blue's figures are its queries of the same selected traffic, so green's share
    // among them is the hash share (unfiltered, blue's other traffic would make it about a sixth).
    const sample = view.liveSample!;
    assert.equal(
      sample.blue?.selection,
      `blue compared on the same selected traffic: its SELECT queries from superset, ${window.from}-${window.to} UTC`,
    );
    const inBucket = new Set(report.queries.map((q) => q.user).filter((user) => bucketOf(user) < WEIGHT)).size / 200;
    process.stderr.write(
      `green's share of the selected traffic in the live sample: ${sample.actualPercent}% (users in the bucket: ${(100 * inBucket).toFixed(1)}%)\n`,
    );
    assert.ok(
      sample.actualPercent !== undefined && Math.abs(sample.actualPercent - 100 * inBucket) <= 12,
      `green's share of blue and green's selected queries (${sample.actualPercent}%) is the hash share (${(100 * inBucket).toFixed(1)}%)`,
    );
    const lines = renderView(view).join('\n');
    assert.ok(lines.includes(`selector:  ${words}`), lines);
    assert.ok(lines.includes('blue compared on the same selected traffic'), lines);

    await handle.executeUpdate(promoteUpdate, { args: [{ by: 'test' }] });
    const result = await handle.result();
    assert.equal(result.outcome, 'SUCCEEDED', result.reason);
    const rules = (await (await fetch(`${fleet.gatewayUrl}/webapp/getRoutingRules`)).json()) as {
      data: { name: string; condition: string }[];
    };
    assert.equal(
      rules.data.find((rule) => rule.name === `cutover-canary-${group}`)?.condition,
      canaryCondition(0),
      'the rule is back at 0%, as the operator wrote it (no selector left in it)',
    );
  });

  it('refuses a query-type selector at the preflight when the gateway runs without its request analyzer, changing nothing', async () => {
    const group = 'noanalyzer';
    const fleet = await selectorFleet(group, false);
    const handle = await startUpgrade(
      testbed.env.client,
      fastPlan(fleet.gatewayUrl, group, {
        strategy: 'canary',
        approval: { required: false },
        canary: {
          traffic: 'routing-rule',
          rulesRefresh: `${RULES_REFRESH_MS}ms`,
          selector: { queryTypes: ['SELECT'] },
          steps: [{ weight: 10 }, { weight: 100 }],
        },
      }),
    );
    const error = await handle.result().then(
      () => undefined,
      (failure: unknown) => failure,
    );
    assert.ok(error instanceof WorkflowFailedError, `the upgrade failed: ${String(error)}`);
    const status = await handle.query(statusQuery);
    assert.equal(status.phase, 'FAILED');
    assert.match(status.error ?? '', /requestAnalyzerConfig\.analyzeRequest: true/);
    const rules = (await (await fetch(`${fleet.gatewayUrl}/webapp/getRoutingRules`)).json()) as {
      data: { name: string; condition: string }[];
    };
    assert.equal(rules.data.find((rule) => rule.name === `cutover-canary-${group}`)?.condition, canaryCondition(0));
    const backends = (await (await fetch(`${fleet.gatewayUrl}/gateway/backend/all`)).json()) as { name: string }[];
    assert.deepEqual(
      backends.map((b) => b.name),
      [`${group}-blue`],
      'nothing registered',
    );
  });
});
