import type { IncomingHttpHeaders } from 'node:http';
import { ACTIVE_QUERY_STATES } from '../integrations/trino/types';
import type { SimulatedQuery } from './coordinator-queries';
import { queryTypeOf } from './query-properties';

/** Airlift's succinct Duration format, as Trino prints `uptime` and `elapsedTime`: `20.00ms`, `1.23m`. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${ms.toFixed(2)}ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(2)}s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(2)}m`;
  if (ms < 86_400_000) return `${(ms / 3_600_000).toFixed(2)}h`;
  return `${(ms / 86_400_000).toFixed(2)}d`;
}

function first(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  return text?.split(',')[0].trim() || undefined;
}

/**
 * The base URL the client used, as Trino computes it with `http-server.process-forwarded=true`:
 * X-Forwarded-Proto / -Host / -Port when a proxy set them, else the Host header. This is what keeps
 * a client that came through the gateway on the gateway for every nextUri.
 */
export function externalBaseUrl(headers: IncomingHttpHeaders, fallbackHost: string): string {
  const proto = first(headers['x-forwarded-proto']) ?? 'http';
  let host = first(headers['x-forwarded-host']);
  const port = first(headers['x-forwarded-port']);
  if (host && port && !/:\d+$/.test(host)) host = `${host}:${port}`;
  return `${proto}://${host ?? headers.host ?? fallbackHost}`;
}

/** Where a client polls next: the queued resource until dispatch, the executing one after. */
function nextUri(query: SimulatedQuery, baseUrl: string, token: number): string {
  const phase = query.state === 'QUEUED' ? 'queued' : 'executing';
  return `${baseUrl}/v1/statement/${phase}/${query.id}/${query.slug}/${token}`;
}

function elapsedMs(query: SimulatedQuery): number {
  return (query.endedAt ?? Date.now()) - query.createdAt;
}

/** Trino's StatementStats; only `state` matters to clients, the rest keeps the shape honest. */
function statementStats(query: SimulatedQuery): Record<string, unknown> {
  const done = !ACTIVE_QUERY_STATES.has(query.state);
  const elapsed = elapsedMs(query);
  return {
    state: query.state,
    queued: query.state === 'QUEUED',
    scheduled: query.state !== 'QUEUED',
    nodes: query.state === 'QUEUED' ? 0 : 1,
    totalSplits: 1,
    queuedSplits: query.state === 'QUEUED' ? 1 : 0,
    runningSplits: query.state === 'RUNNING' ? 1 : 0,
    completedSplits: done ? 1 : 0,
    cpuTimeMillis: done ? elapsed : 0,
    wallTimeMillis: elapsed,
    queuedTimeMillis: 0,
    elapsedTimeMillis: elapsed,
    processedRows: done ? query.statement.rows.length : query.rowsServed,
    processedBytes: 0,
    physicalInputBytes: 0,
    physicalWrittenBytes: 0,
    peakMemoryBytes: 0,
    spilledBytes: 0,
  };
}

/**
 * One QueryResults page. While the query is active it carries `nextUri` with `nextToken`; the
 * last page carries `columns` and `data` (FINISHED) or `error` (FAILED) and no `nextUri`. A result
 * larger than a page comes in `rows` pages, each with `columns` and `data`, all but the last with a `nextUri`.
 */
export function queryResults(
  query: SimulatedQuery,
  baseUrl: string,
  nextToken: number,
  rows?: unknown[][],
): Record<string, unknown> {
  const page: Record<string, unknown> = { id: query.id, infoUri: `${baseUrl}/ui/query.html?${query.id}` };
  const active = ACTIVE_QUERY_STATES.has(query.state);
  if (active) page.nextUri = nextUri(query, baseUrl, nextToken);
  if (query.error) {
    page.error = query.error;
  } else if (rows !== undefined || !active) {
    page.columns = query.statement.columns;
    page.data = rows ?? query.statement.rows;
  }
  page.stats = statementStats(query);
  page.warnings = [];
  return page;
}

/** One element of `GET /v1/query` and the body of `GET /v1/query/{id}` (BasicQueryInfo). */
export function basicQueryInfo(query: SimulatedQuery, baseUrl: string): Record<string, unknown> {
  const info: Record<string, unknown> = {
    queryId: query.id,
    // SessionRepresentation: source is absent without X-Trino-Source, clientTags always a list.
    session: { queryId: query.id, user: query.user, source: query.source, clientTags: query.clientTags },
    resourceGroupId: ['global'],
    state: query.state,
    scheduled: query.state !== 'QUEUED',
    self: `${baseUrl}/v1/query/${query.id}`,
    query: query.sql,
    queryStats: {
      createTime: new Date(query.createdAt).toISOString(),
      endTime: query.endedAt === undefined ? undefined : new Date(query.endedAt).toISOString(),
      queuedTime: '0.00ms',
      elapsedTime: formatDuration(elapsedMs(query)),
    },
  };
  // Trino's QueryType of the statement; absent for one it could not analyse.
  const queryType = queryTypeOf(query.sql);
  if (queryType !== '') info.queryType = queryType;
  if (query.error) {
    info.errorType = query.error.errorType;
    info.errorCode = {
      code: query.error.errorCode,
      name: query.error.errorName,
      type: query.error.errorType,
      fatal: false,
    };
  }
  return info;
}
