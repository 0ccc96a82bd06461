import { request } from 'undici';
import { TrinoHttpClient } from '../integrations/trino/client';
import type { StatementResult } from '../integrations/trino/types';

/** What load to run through the gateway. */
export interface QueryLoadOptions {
  gatewayUrl: string;
  /** A number n means users `user-0` … `user-(n-1)`; queries take them in turn. */
  users: number | string[];
  /** Queries in flight at any time. */
  concurrency: number;
  /** Each query runs a uniformly random time in [min, max] ms (sent as the sandbox duration hint). */
  durationMs: [number, number];
  /** SQL of query `i` for `user` (default `SELECT 1`); the duration hint is prepended. */
  sqlFor?: (user: string, i: number) => string;
  /** Sent as `X-Trino-Routing-Group` when set. */
  routingGroup?: string;
  /** More headers of query `i` for `user` (e.g. `X-Trino-Source`, `X-Trino-Client-Tags`). */
  headersFor?: (user: string, i: number) => Record<string, string>;
  /** `Authorization` for the gateway's own API (history and backend list) when it requires auth. */
  gatewayAuthorization?: string;
}

/** Query counts. */
export interface LoadCounts {
  submitted: number;
  finished: number;
  failed: number;
}

/** One query of the load. */
export interface LoadQuery {
  /** Absent when the statement failed before Trino gave it an id. */
  queryId?: string;
  user: string;
  /** Its place in the load: `sqlFor` and `headersFor` were asked with it. */
  index: number;
  /** Gateway backend name that served it, `unknown` when it cannot be told. */
  backend: string;
  startedAt: number;
  endedAt: number;
  state: 'FINISHED' | 'FAILED';
  error?: string;
}

/** What the load saw, in total and per backend. */
export interface LoadReport extends LoadCounts {
  byBackend: Record<string, LoadCounts>;
  queries: LoadQuery[];
}

/** A running load. */
export interface QueryLoad {
  /** Counts so far. */
  report(): LoadCounts;
  /** Stops submitting, waits for queries in flight, and attributes every query to a backend. */
  stop(): Promise<LoadReport>;
}

const UNKNOWN_BACKEND = 'unknown';

/** A finished query before attribution. */
interface Outcome extends Omit<LoadQuery, 'backend'> {
  clusterHost?: string;
}

async function gatewayJson<T>(gatewayUrl: string, path: string, authorization?: string): Promise<T> {
  const response = await request(`${gatewayUrl}${path}`, { headers: authorization ? { authorization } : {} });
  if (response.statusCode !== 200) {
    await response.body.dump();
    throw new Error(`GET ${path} answered HTTP ${response.statusCode}`);
  }
  return (await response.body.json()) as T;
}

/**
 * Names the backend of each query from the gateway's query history (backendUrl → backend name),
 * falling back to the `trinoClusterHost` cookie, which holds only a host name and so decides only
 * when one backend has that host.
 */
async function attribute(options: QueryLoadOptions, outcomes: Outcome[], seen: BackendsSeen): Promise<LoadQuery[]> {
  let history: { queryId: string | null; backendUrl: string }[] = [];
  try {
    [, history] = await Promise.all([
      seen.refresh(),
      gatewayJson<typeof history>(options.gatewayUrl, '/trino-gateway/api/queryHistory', options.gatewayAuthorization),
    ]);
  } catch {
    // Without the gateway's API only the cookie can tell; the report still counts every query.
  }
  const nameByOrigin = seen.nameByOrigin;
  const backends = [...seen.current];
  const originByQuery = new Map(
    history.filter((row) => row.queryId).map((row) => [row.queryId as string, row.backendUrl]),
  );
  const byHost = (host: string | undefined): string | undefined => {
    const matches = backends.filter((backend) => new URL(backend.proxyTo).hostname === host);
    return matches.length === 1 ? matches[0].name : undefined;
  };
  return outcomes.map(({ clusterHost, ...query }) => {
    const origin = query.queryId ? originByQuery.get(query.queryId) : undefined;
    const backend = (origin ? nameByOrigin.get(origin) : undefined) ?? byHost(clusterHost) ?? UNKNOWN_BACKEND;
    return { ...query, backend };
  });
}

/**
 * Every backend the gateway listed while the load ran: an upgrade deletes blue before the load
 * stops, and its queries must still be attributed to it.
 */
class BackendsSeen {
  readonly nameByOrigin = new Map<string, string>();
  current: { name: string; proxyTo: string }[] = [];

  constructor(private readonly options: QueryLoadOptions) {}

  async refresh(): Promise<void> {
    this.current = await gatewayJson<{ name: string; proxyTo: string }[]>(
      this.options.gatewayUrl,
      '/gateway/backend/all',
      this.options.gatewayAuthorization,
    );
    for (const backend of this.current) {
      const origin = new URL(backend.proxyTo).origin;
      if (!this.nameByOrigin.has(origin)) this.nameByOrigin.set(origin, backend.name);
    }
  }
}

/** How often the load re-reads the gateway's backends. */
const BACKEND_REFRESH_MS = 500;

function summarize(queries: LoadQuery[]): LoadReport {
  const byBackend: Record<string, LoadCounts> = {};
  const total: LoadCounts = { submitted: 0, finished: 0, failed: 0 };
  for (const query of queries) {
    const counts = (byBackend[query.backend] ??= { submitted: 0, finished: 0, failed: 0 });
    for (const target of [counts, total]) {
      target.submitted += 1;
      if (query.state === 'FINISHED') target.finished += 1;
      else target.failed += 1;
    }
  }
  return { ...total, byBackend, queries };
}

/** Runs queries continuously through the gateway with the real client protocol until stopped. */
export function startQueryLoad(options: QueryLoadOptions): QueryLoad {
  const users =
    typeof options.users === 'number' ? Array.from({ length: options.users }, (_, i) => `user-${i}`) : options.users;
  if (users.length === 0) throw new RangeError('startQueryLoad needs at least one user');
  const [minMs, maxMs] = options.durationMs;
  const client = new TrinoHttpClient({
    url: options.gatewayUrl,
    source: 'cutover-load',
    connections: Math.max(1, options.concurrency),
  });
  const groupHeader: Record<string, string> = options.routingGroup
    ? { 'X-Trino-Routing-Group': options.routingGroup }
    : {};
  const outcomes: Outcome[] = [];
  const counts: LoadCounts = { submitted: 0, finished: 0, failed: 0 };
  let next = 0;
  let stopping = false;
  const seen = new BackendsSeen(options);
  const refresh = () => seen.refresh().catch(() => undefined);
  void refresh();
  const refresher = setInterval(() => void refresh(), BACKEND_REFRESH_MS);

  const runOne = async (i: number): Promise<void> => {
    const user = users[i % users.length];
    const durationMs = Math.round(minMs + Math.random() * (maxMs - minMs));
    const sql = `/* sandbox:duration=${durationMs}ms */ ${options.sqlFor?.(user, i) ?? 'SELECT 1'}`;
    const startedAt = Date.now();
    counts.submitted += 1;
    let outcome: Outcome;
    const headers = { ...groupHeader, ...options.headersFor?.(user, i) };
    try {
      const result: StatementResult = await client.execute(sql, { user, headers });
      outcome = {
        queryId: result.id,
        user,
        index: i,
        startedAt,
        endedAt: Date.now(),
        state: result.state,
        clusterHost: result.clusterHost,
      };
      if (result.error) outcome.error = result.error.message;
    } catch (error) {
      outcome = { user, index: i, startedAt, endedAt: Date.now(), state: 'FAILED', error: (error as Error).message };
    }
    if (outcome.state === 'FINISHED') counts.finished += 1;
    else counts.failed += 1;
    outcomes.push(outcome);
  };

  const worker = async (): Promise<void> => {
    while (!stopping) await runOne(next++);
  };
  const workers = Array.from({ length: options.concurrency }, worker);

  return {
    report: () => ({ ...counts }),
    stop: async () => {
      stopping = true;
      clearInterval(refresher);
      await Promise.all(workers);
      await client.close();
      return summarize(await attribute(options, outcomes, seen));
    },
  };
}
