import { sleep } from '../../src/devserver/wait';
import type { LoadQuery } from '../../src/sandbox/load';
import { validatePlan } from '../../src/plan/load';
import { TPCH_QUERIES } from '../../scripts/real-stack/tpch-queries';
import type { UpgradePlan } from '../../src/plan/schema';

/** Backend names of the real-stack test. */
export const BLUE = 'trino-blue';
export const GREEN = 'trino-green';
export const GROUP = 'adhoc';

/**
 * CPU-bound SQL of varied length for the system catalog only (trino-server-core has no
 * connectors). Measured on a 2-core machine, one at a time: version() ~20 ms, 2000x2000 ~0.3 s,
 * 4000x4000 ~0.5 s, 8000x8000 ~1.5 s (sequence() is capped at 10000 entries). Under the load's
 * concurrency (4 in flight, both coordinators and the gateway on the same 2 cores) they take
 * 0.2-3 s.
 */
export function variedSql(_user: string, i: number): string {
  const sizes = [0, 1500, 3000, 2000, 5000, 1000, 6000, 2500];
  const n = sizes[i % sizes.length];
  if (n === 0) return 'SELECT version()';
  return `SELECT sum((x * y) % 7) FROM UNNEST(sequence(1, ${n})) a(x) CROSS JOIN UNNEST(sequence(1, ${n})) b(y)`;
}

/** A blue/green plan for the real stack: static provisioner, green already runs at `greenUrl`. */
export function realPlan(
  gatewayUrl: string,
  greenUrl: string,
  greenVersion: string,
  overrides: Record<string, unknown> = {},
): UpgradePlan {
  return validatePlan(
    {
      strategy: 'blue-green',
      gateway: { url: gatewayUrl, requestTimeout: '10s' },
      routingGroup: GROUP,
      blue: { backends: [BLUE] },
      green: { name: GREEN, version: greenVersion, url: greenUrl, provisioner: { type: 'static' } },
      health: { interval: '1s', timeout: '3m', smokeQueries: ['SELECT 1', 'SELECT version()'] },
      approval: { required: true, timeout: '1h' },
      bake: '8s',
      drain: { timeout: '5m', interval: '1s', resultGrace: '3s' },
      retire: { keepBlueFor: '2s', teardown: true },
      ...overrides,
    },
    'real-stack plan',
  );
}

/** The coordinator part of a Trino query id (`20260101_120000_00001_abcde` → `abcde`): which coordinator made it. */
export function coordinatorIdOf(queryId: string): string {
  return queryId.split('_').at(-1) ?? '';
}

/** One observation of the gateway's backends in the group. */
export interface GatewaySample {
  at: number;
  active: string[];
  healthyActive: string[];
}

/** Runs `sample` every `intervalMs` until stopped; a failed sample is skipped. */
function sampleEvery<T>(intervalMs: number, sample: () => Promise<T>): { stop(): Promise<T[]> } {
  const samples: T[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await sample().then(
        (value) => samples.push(value),
        () => undefined,
      );
      await sleep(intervalMs);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return samples;
    },
  };
}

/** Samples the real gateway's view of the group every `intervalMs` until stopped. */
export function watchGateway(
  gatewayUrl: string,
  group: string,
  intervalMs = 200,
): { stop(): Promise<GatewaySample[]> } {
  return sampleEvery(intervalMs, async () => {
    const all = (await (await fetch(`${gatewayUrl}/gateway/backend/all`)).json()) as {
      name: string;
      active: boolean;
      routingGroup: string;
    }[];
    const active = all.filter((b) => b.active && b.routingGroup === group).map((b) => b.name);
    const healthyActive: string[] = [];
    for (const name of active) {
      const state = (await (await fetch(`${gatewayUrl}/api/public/backends/${name}/state`)).json()) as {
        trinoStatus?: string;
      };
      if (state.trinoStatus === 'HEALTHY') healthyActive.push(name);
    }
    return { at: Date.now(), active, healthyActive };
  });
}

/** When `name` was last seen going from active to inactive (the first sample without it after one with it). */
export function deactivatedAt(samples: GatewaySample[], name: string): number | undefined {
  let at: number | undefined;
  for (let i = 1; i < samples.length; i++) {
    if (samples[i - 1].active.includes(name) && !samples[i].active.includes(name)) at = samples[i].at;
  }
  return at;
}

/** A compact line per backend: submitted/finished/failed. */
export function describeLoad(
  byBackend: Record<string, { submitted: number; finished: number; failed: number }>,
): string {
  return Object.entries(byBackend)
    .map(([name, c]) => `${name} ${c.submitted}/${c.finished}/${c.failed}`)
    .join(', ');
}

/** Queries that failed, for assertion messages. */
export function failures(queries: LoadQuery[]): string {
  return JSON.stringify(queries.filter((q) => q.state === 'FAILED').slice(0, 5));
}

/** `SELECT version()` through `url` (gateway or coordinator) with the real client protocol. */
export async function versionThrough(url: string, user = 'probe'): Promise<{ version: string; queryId: string }> {
  const { TrinoHttpClient } = await import('../../src/integrations/trino/client');
  const client = new TrinoHttpClient({ url, user });
  try {
    const result = await client.execute('SELECT version()');
    if (result.state !== 'FINISHED')
      throw new Error(`SELECT version() through ${url} ${result.state}: ${result.error?.message}`);
    return { version: String(result.rows[0][0]), queryId: result.id };
  } finally {
    await client.close();
  }
}

/** Every query a coordinator still lists (`/v1/query`), by id. */
export async function coordinatorQueries(url: string): Promise<Map<string, string>> {
  const response = await fetch(`${url}/v1/query`, { headers: { 'x-trino-user': 'cutover' } });
  const list = (await response.json()) as { queryId: string; state: string }[];
  return new Map(list.map((q) => [q.queryId, q.state]));
}

/** One observation of a routing rule in the real gateway (`/webapp/getRoutingRules`). */
export interface RuleSample {
  at: number;
  condition?: string;
}

/** Samples the condition of routing rule `name` every `intervalMs` until stopped. */
export function watchRule(gatewayUrl: string, name: string, intervalMs = 200): { stop(): Promise<RuleSample[]> } {
  return sampleEvery(intervalMs, async () => {
    const asked = Date.now();
    const rules = (await (await fetch(`${gatewayUrl}/webapp/getRoutingRules`)).json()) as {
      data?: { name: string; condition: string }[];
    };
    return { at: asked, condition: rules.data?.find((rule) => rule.name === name)?.condition };
  });
}

/** When a sample first showed a condition matching `pattern` (the time the request was sent). */
export function firstSeen(samples: RuleSample[], pattern: RegExp): number | undefined {
  return samples.find((sample) => sample.condition !== undefined && pattern.test(sample.condition))?.at;
}

/** When `name` was first seen going from inactive (or absent) to active. */
export function activatedAt(samples: GatewaySample[], name: string): number | undefined {
  for (let i = 1; i < samples.length; i++) {
    if (!samples[i - 1].active.includes(name) && samples[i].active.includes(name)) return samples[i].at;
  }
  return undefined;
}

/** The gateway's query history (the newest 2000 rows: the real DAO has `LIMIT 2000`), by query id. */
export async function queryHistory(
  gatewayUrl: string,
): Promise<Map<string, { routingGroup?: string; user?: string; backendUrl?: string; queryText?: string }>> {
  const rows = (await (await fetch(`${gatewayUrl}/trino-gateway/api/queryHistory`)).json()) as {
    queryId: string;
    queryText?: string;
    routingGroup?: string;
    user?: string;
    backendUrl?: string;
  }[];
  return new Map(rows.map((row) => [row.queryId, row]));
}

/** Runs a few queries directly on a coordinator so that query times under load are representative (JIT). */
export async function warmUp(url: string): Promise<void> {
  const { TrinoHttpClient } = await import('../../src/integrations/trino/client');
  const client = new TrinoHttpClient({ url, user: 'warm-up' });
  try {
    for (let i = 0; i < 8; i++) await client.execute(variedSql('warm-up', i));
  } finally {
    await client.close();
  }
}

/**
 * Users of the real-stack canary test. Sequential names (`user-0` … `user-59`) are a bad sample
 * for a 10% canary: String.hashCode of names differing only in the last character are
 * consecutive, so user-0..59 fall in buckets 11-20, 42-58, 73-89 and not one is below 10. These 50
 * spread over the buckets; 6 are below 10, erin and bianca sit at exactly 10, and 8 have a negative
 * hashCode (bianca's -1389342190: `%` gives -90, Math.floorMod 10).
 */
export const CANARY_USERS = (
  'alice bob carol dave erin frank grace heidi ivan judy mallory niaj olivia peggy rupert sybil trent victor walter xena ' +
  'yusuf zoe amir bianca chen dmitri elena farid gita hana igor jamal kenji lena marta nadia oscar priya quinn rosa ' +
  'sven tara uma vera wen xavier yara zane arjun beatrix'
).split(' ');

/** The users of CANARY_USERS the real Trino Gateway 20 (MVEL) sent to the canary group at 10% (test/real/canary.test.ts). */
export const CANARY_USERS_AT_10_ON_REAL_GATEWAY = ['carol', 'judy', 'rosa', 'sven', 'tara', 'wen'];

/**
 * TPC-H query `n` (1-22) with its tables named in full (`tpch.tiny.lineitem`): the gateway's query
 * history keeps the text but not the session's catalog and schema, so a replay must not need them.
 */
export function qualifiedTpch(n: number): string {
  return TPCH_QUERIES[n - 1].replace(
    /(\bFROM\s+|\bJOIN\s+|,\s*)(lineitem|orders|customer|partsupp|part|supplier|nation|region)\b(?![.(])/g,
    '$1tpch.tiny.$2',
  );
}

/** A query as a coordinator's `/v1/query` lists it. */
export interface CoordinatorQuery {
  queryId: string;
  state: string;
  query: string;
  user: string;
  source?: string;
}

/** Every query a coordinator still lists (`/v1/query`), with its text, user and source. */
export async function coordinatorQueryList(url: string): Promise<CoordinatorQuery[]> {
  const response = await fetch(`${url}/v1/query`, { headers: { 'x-trino-user': 'cutover' } });
  const list = (await response.json()) as {
    queryId: string;
    state: string;
    query: string;
    session: { user: string; source?: string };
  }[];
  return list.map((q) => ({
    queryId: q.queryId,
    state: q.state,
    query: q.query,
    user: q.session.user,
    ...(q.session.source === undefined ? {} : { source: q.session.source }),
  }));
}
