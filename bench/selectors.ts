/**
 * The selectors row (issue 12): for each kind of canary selector, the share of the selected
 * queries the sandbox gateway sent to the canary against the share the hash of their users
 * predicts, and the queries it sent there although the selector leaves them out (must be 0).
 *
 * One sandbox fleet with the request analyzer on: blue in the routing group, green active in the
 * canary group. Per selector, cutover's own routing-rule router writes the rule at WEIGHT% (the
 * code a canary step runs), then a mixed load goes through the gateway (users, sources, client
 * tags and statements of several query types and catalogs); where each query went is read from
 * the gateway's query history.
 */
import { TrinoGatewayClient } from '../src/integrations/gateway/client';
import { routingRule } from '../src/integrations/traffic/routing-rule';
import { windowAround, type CanarySelector, type TimeWindow } from '../src/integrations/traffic/selector';
import { canaryReadyRules } from '../src/sandbox/canary-rules';
import { startQueryLoad } from '../src/sandbox/load';
import { javaFloorMod, javaStringHashCode } from '../src/sandbox/routing-rules';
import { out, table, type Row } from './report';
import { progress, type Stack } from './stack';

const WEIGHT = 25;
const RULES_REFRESH_MS = 200;
/** Queries per selector: enough that the measured share of a fifth of them is within a few points. */
const QUERIES = 2_000;
const USERS = 200;

interface Statement {
  sql: string;
  type: string;
  catalogs: string[];
}
const STATEMENTS: Statement[] = [
  { sql: 'SELECT * FROM tpch.tiny.nation', type: 'SELECT', catalogs: ['tpch'] },
  { sql: 'SELECT count(*) FROM hive.sales.orders', type: 'SELECT', catalogs: ['hive'] },
  { sql: 'INSERT INTO hive.sales.orders SELECT * FROM tpch.tiny.orders', type: 'INSERT', catalogs: ['hive', 'tpch'] },
  { sql: 'EXPLAIN SELECT * FROM tpch.tiny.region', type: 'EXPLAIN', catalogs: ['tpch'] },
  { sql: 'DELETE FROM hive.sales.orders WHERE orderkey = 1', type: 'DELETE', catalogs: ['hive'] },
];
const SOURCES = ['superset', 'airflow', 'jupyter'];
const TAGS = ['dashboards', 'etl', ''];

/** What a query of the load carried, from its index (the load asks `sqlFor`/`headersFor` with it). */
function shapeOf(index: number): { statement: Statement; source: string; tags: string } {
  return {
    statement: STATEMENTS[index % STATEMENTS.length],
    source: SOURCES[Math.floor(index / STATEMENTS.length) % SOURCES.length],
    tags: TAGS[Math.floor(index / (STATEMENTS.length * SOURCES.length)) % TAGS.length],
  };
}

const bucketOf = (user: string): number => javaFloorMod(javaStringHashCode(user), 100);

function windowAt(now: number, openNow: boolean): TimeWindow {
  return openNow ? windowAround(now, -60, 60) : windowAround(now, 120, 240);
}

interface Case {
  name: string;
  selector: CanarySelector;
  /** Whether the selector takes this query (the bench's own reading of the selector). */
  selects: (query: { user: string; source: string; tags: string; statement: Statement }) => boolean;
}

function cases(now: number): Case[] {
  const listed = Array.from({ length: 40 }, (_, i) => `user-${i * 5}`);
  return [
    { name: 'users (40 of 200)', selector: { users: listed }, selects: (q) => listed.includes(q.user) },
    {
      name: 'userPattern user-1.*',
      selector: { userPattern: 'user-1.*' },
      selects: (q) => /^user-1.*$/.test(q.user),
    },
    {
      name: 'source include superset',
      selector: { source: { include: ['superset'] } },
      selects: (q) => q.source === 'superset',
    },
    {
      name: 'source exclude airflow',
      selector: { source: { exclude: ['airflow'] } },
      selects: (q) => q.source !== 'airflow',
    },
    {
      name: 'client tag dashboards',
      selector: { clientTags: ['dashboards'] },
      selects: (q) => q.tags.split(',').includes('dashboards'),
    },
    {
      name: 'query type SELECT',
      selector: { queryTypes: ['SELECT'] },
      selects: (q) => q.statement.type === 'SELECT',
    },
    {
      name: 'catalog tpch',
      selector: { catalogs: ['tpch'] },
      selects: (q) => q.statement.catalogs.includes('tpch'),
    },
    {
      name: 'time window open now (UTC)',
      selector: { timeWindow: windowAt(now, true) },
      selects: () => true,
    },
    {
      name: 'time window closed now (UTC)',
      selector: { timeWindow: windowAt(now, false) },
      selects: () => false,
    },
    {
      name: 'SELECT from superset, open window',
      selector: { source: { include: ['superset'] }, queryTypes: ['SELECT'], timeWindow: windowAt(now, true) },
      selects: (q) => q.source === 'superset' && q.statement.type === 'SELECT',
    },
  ];
}

interface Measured {
  name: string;
  queries: number;
  selected: number;
  toCanary: number;
  predicted: number;
  leaked: number;
  missed: number;
  failed: number;
}

async function measure(stack: Stack, kase: Case): Promise<Measured> {
  const group = stack.group('sel');
  const canaryGroup = `${group}-canary`;
  const fleet = await stack.fleet({
    healthIntervalMs: 100,
    rulesRefreshMs: RULES_REFRESH_MS,
    analyzeRequest: true,
    defaultRoutingGroup: group,
    rules: canaryReadyRules(canaryGroup),
    clusters: [
      { name: `${group}-blue`, version: '470', routingGroup: group },
      { name: `${group}-green`, version: '476', routingGroup: canaryGroup },
    ],
  });
  try {
    const gateway = new TrinoGatewayClient({ url: fleet.gatewayUrl, requestTimeoutMs: 5_000 });
    const deadline = Date.now() + 15_000;
    while ((await gateway.backendState(`${group}-green`))?.trinoStatus !== 'HEALTHY') {
      if (Date.now() > deadline) throw new Error(`${group}-green did not become HEALTHY`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const router = routingRule.router(gateway, {
      canaryGroup,
      routingGroup: group,
      defaultRoutingGroup: group,
      ruleName: `cutover-canary-${group}`,
      rulesRefresh: `${RULES_REFRESH_MS}ms`,
      selector: kase.selector,
    });
    const applied = await router.setWeight(WEIGHT, 1);
    await new Promise((resolve) => setTimeout(resolve, applied.appliedAfterMs + RULES_REFRESH_MS));
    const load = startQueryLoad({
      gatewayUrl: fleet.gatewayUrl,
      users: USERS,
      concurrency: 16,
      durationMs: [0, 0],
      routingGroup: group,
      sqlFor: (_user, i) => shapeOf(i).statement.sql,
      headersFor: (_user, i): Record<string, string> => {
        const { source, tags } = shapeOf(i);
        return { 'X-Trino-Source': source, ...(tags ? { 'X-Trino-Client-Tags': tags } : {}) };
      },
    });
    while (load.report().submitted < QUERIES) await new Promise((resolve) => setTimeout(resolve, 100));
    const report = await load.stop();
    const rows = (await (await fetch(`${fleet.gatewayUrl}/trino-gateway/api/queryHistory`)).json()) as {
      queryId: string;
      routingGroup: string;
    }[];
    const groupOf = new Map(rows.map((row) => [row.queryId, row.routingGroup]));
    const measured: Measured = {
      name: kase.name,
      queries: 0,
      selected: 0,
      toCanary: 0,
      predicted: 0,
      leaked: 0,
      missed: 0,
      failed: report.failed,
    };
    for (const query of report.queries) {
      const routed = query.queryId ? groupOf.get(query.queryId) : undefined;
      if (!routed) continue;
      measured.queries += 1;
      const shape = shapeOf(query.index);
      const selected = kase.selects({ user: query.user, ...shape });
      const wanted = selected && bucketOf(query.user) < WEIGHT;
      const onCanary = routed === canaryGroup;
      if (selected) measured.selected += 1;
      if (wanted) measured.predicted += 1;
      if (onCanary && selected) measured.toCanary += 1;
      if (onCanary && !selected) measured.leaked += 1;
      if (wanted && !onCanary) measured.missed += 1;
    }
    return measured;
  } finally {
    await stack.stopFleets();
  }
}

const share = (part: number, whole: number): string => (whole ? `${((100 * part) / whole).toFixed(1)}%` : '-');

export async function selectorsBench(stack: Stack): Promise<Row[]> {
  const results: Measured[] = [];
  for (const kase of cases(Date.now())) {
    progress(`selectors: ${kase.name}`);
    const result = await measure(stack, kase);
    results.push(result);
    progress(
      `  ${result.queries} queries, ${result.selected} selected, ${result.toCanary} to the canary (predicted ${result.predicted}), ${result.leaked} leaked`,
    );
  }
  out(`## Canary selectors (weight ${WEIGHT}%, ${QUERIES} queries each, ${USERS} users, request analyzer on)`);
  out();
  out(
    table(
      [
        'selector',
        'queries',
        'selected',
        'to canary',
        'share of selected',
        'predicted (hash)',
        'leaked',
        'missed',
        'failed',
      ],
      results.map((r) => [
        r.name,
        String(r.queries),
        String(r.selected),
        String(r.toCanary),
        share(r.toCanary, r.selected),
        share(r.predicted, r.selected),
        String(r.leaked),
        String(r.missed),
        String(r.failed),
      ]),
    ),
  );
  out();
  const wrong = results.filter((r) => r.leaked > 0 || r.missed > 0 || r.toCanary !== r.predicted || r.failed > 0);
  const counted = results.reduce((sum, r) => sum + r.queries, 0);
  return [
    {
      row: `selectors: queries routed other than the selector and hash predict (${results.length} selectors, ${counted} queries)`,
      measured: String(results.reduce((sum, r) => sum + r.leaked + r.missed, 0)),
      target: '0',
      met: wrong.length === 0,
      note: wrong.length
        ? wrong.map((r) => `${r.name}: ${r.leaked} leaked, ${r.missed} missed, ${r.failed} failed`).join(' | ')
        : undefined,
    },
  ];
}
