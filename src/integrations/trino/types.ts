/** `GET /v1/info`. */
export interface ServerInfo {
  nodeVersion: { version: string };
  environment: string;
  coordinator: boolean;
  starting: boolean;
  uptime?: string;
  state?: string;
}

/** Query states of Trino's QueryState. */
export type QueryState =
  | 'QUEUED'
  | 'WAITING_FOR_RESOURCES'
  | 'DISPATCHING'
  | 'PLANNING'
  | 'STARTING'
  | 'RUNNING'
  | 'FINISHING'
  | 'FINISHED'
  | 'FAILED';

export const ACTIVE_QUERY_STATES: ReadonlySet<QueryState> = new Set([
  'QUEUED',
  'WAITING_FOR_RESOURCES',
  'DISPATCHING',
  'PLANNING',
  'STARTING',
  'RUNNING',
  'FINISHING',
]);

/** One element of `GET /v1/query` (BasicQueryInfo, the fields cutover reads). */
export interface QuerySummary {
  queryId: string;
  state: QueryState;
  query?: string;
  user?: string;
  /** `session.source` (`X-Trino-Source`), absent when the client sent none. */
  source?: string;
  /** `session.clientTags` (`X-Trino-Client-Tags`). */
  clientTags?: string[];
  /** Trino's QueryType (SELECT, INSERT, ...); absent for a statement Trino could not analyse. */
  queryType?: string;
  createTime?: string;
  endTime?: string;
  /** `errorCode.name` of a failed query (e.g. `FUNCTION_NOT_FOUND`); `errorName` is the same value. */
  errorCode?: string;
  errorName?: string;
  /** `errorType` of a failed query: USER_ERROR, INTERNAL_ERROR, INSUFFICIENT_RESOURCES or EXTERNAL. */
  errorType?: string;
  /** `queryStats.elapsedTime` (queued time included) in milliseconds. */
  elapsedMs?: number;
}

/**
 * `GET /ui/api/stats`. Computed over every user's queries (no access control filter), but only
 * QUEUED and RUNNING ones (Trino's ClusterStatsResource): `blockedQueries` are RUNNING queries
 * that are fully blocked, not in `runningQueries`; PLANNING, STARTING, FINISHING and the other
 * active states are in none of the three.
 */
export interface ClusterStats {
  runningQueries: number;
  blockedQueries: number;
  queuedQueries: number;
  activeCoordinators?: number;
  activeWorkers: number;
}

/** The outcome of a statement run to completion through the client protocol. */
export interface StatementResult {
  id: string;
  state: 'FINISHED' | 'FAILED';
  columns: { name: string; type: string }[];
  rows: unknown[][];
  error?: { message: string; errorName?: string; errorType?: string };
  /** Why cutover stopped reading and cancelled the query: more rows than `maxRows`, or `timeoutMs` ran out. */
  stopped?: 'rowLimit' | 'timeout';
  /** Value of the gateway's `trinoClusterHost` cookie, when the gateway sets it. */
  clusterHost?: string;
}

export interface StatementOptions {
  user?: string;
  source?: string;
  /** `X-Trino-Catalog` and `X-Trino-Schema`: where unqualified table names resolve. */
  catalog?: string;
  schema?: string;
  /** Extra headers, e.g. `X-Trino-Routing-Group`. */
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** More rows than this: stop reading, cancel the query, return it FAILED (`CUTOVER_ROW_LIMIT`). */
  maxRows?: number;
  /** Integers beyond 2^53 in the replies come as their exact decimal strings, not rounded to a double. */
  exactIntegers?: boolean;
  /** Not finished within this: cancel the query, return it FAILED (`CUTOVER_TIMEOUT`). */
  timeoutMs?: number;
}

/** What cutover needs from one Trino coordinator. */
export interface TrinoClusterApi {
  /** The Trino user cutover is to this coordinator (`X-Trino-User`): `/v1/query` shows it the queries it may view. */
  readonly user: string;
  /** `GET /v1/info` (no auth). */
  info(): Promise<ServerInfo>;
  /** `GET /v1/query`: the queries the coordinator remembers that access control lets `user` view. */
  listQueries(): Promise<QuerySummary[]>;
  /** Queries in an active state. */
  activeQueries(): Promise<QuerySummary[]>;
  /** `/ui/api/stats` after a UI login. */
  clusterStats(): Promise<ClusterStats>;
  /** `POST /v1/statement` and follow `nextUri` (on the coordinator's origin only) until it is absent. */
  execute(sql: string, options?: StatementOptions): Promise<StatementResult>;
}
