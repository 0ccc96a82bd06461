import type { IncomingHttpHeaders } from 'node:http';
import { IntegrationError } from '../errors';
import { HttpClient, pathOf, segment, sleep, type HttpRequest, type HttpResponse } from '../http';
import { cap, redact } from '../redact';
import { quoteUnsafeIntegers } from './exact-integers';
import {
  ACTIVE_QUERY_STATES,
  type ClusterStats,
  type QueryState,
  type QuerySummary,
  type ServerInfo,
  type StatementOptions,
  type StatementResult,
  type TrinoClusterApi,
} from './types';

/** Where the coordinator is and who cutover is to it. */
export interface TrinoHttpClientOptions {
  url: string;
  /** `X-Trino-User` of every request; default `cutover`. */
  user?: string;
  /** Sent as HTTP Basic with `user` when set. */
  password?: string;
  requestTimeoutMs?: number;
  /** `X-Trino-Source` of statements; default `cutover`. */
  source?: string;
  /** Keep-alive connections per origin; default 64, for the load generator. */
  connections?: number;
}

/** The `QueryResults` document of the client protocol, the fields cutover reads. */
interface QueryResults {
  id: string;
  nextUri?: string;
  columns?: { name: string; type: string }[];
  data?: unknown[][];
  error?: { message: string; errorName?: string; errorType?: string };
}

/** `BasicQueryInfo`, the fields cutover reads. */
interface BasicQueryInfo {
  queryId: string;
  state: QueryState;
  query?: string;
  session?: { user?: string; source?: string | null; clientTags?: string[] };
  queryType?: string | null;
  queryStats?: { createTime?: string; endTime?: string; elapsedTime?: string };
  errorType?: string;
  errorCode?: { name?: string; type?: string };
}

const UI_COOKIE = 'Trino-UI-Token';
const CLUSTER_HOST_COOKIE = 'trinoClusterHost';
const REDIRECTS = [301, 302, 303, 307, 308] as const;
/** The client protocol asks to retry these after 50-100 ms: gateways and load balancers produce them. */
const RETRY_STATUSES = [502, 503, 504] as const;
const RETRY_FIRST_DELAY_MS = 50;
const RETRY_MAX_DELAY_MS = 100;
const RETRY_BUDGET_MS = 30_000;
const CANCEL_TIMEOUT_MS = 2_000;
const ERROR_MESSAGE_LENGTH = 1_000;
const CREDENTIALS_HINT = 'check CUTOVER_TRINO_USER and CUTOVER_TRINO_PASSWORD in the worker environment';

/** One Trino coordinator over its HTTP APIs and the client protocol. */
export class TrinoHttpClient implements TrinoClusterApi {
  private readonly http: HttpClient;
  readonly user: string;
  private readonly source: string;
  private readonly password?: string;
  /** The coordinator's origin: the only one `nextUri` is followed on. */
  private readonly origin: string;
  /** Headers of `/v1/query` and of statements run as the configured user. */
  private readonly userHeaders: Record<string, string>;
  private uiCookie?: string;

  constructor(options: TrinoHttpClientOptions) {
    this.user = options.user ?? 'cutover';
    this.source = options.source ?? 'cutover';
    this.password = options.password;
    this.origin = new URL(options.url).origin;
    this.userHeaders = { 'x-trino-user': this.user };
    if (options.password !== undefined) {
      this.userHeaders.authorization = `Basic ${Buffer.from(`${this.user}:${options.password}`).toString('base64')}`;
    }
    this.http = new HttpClient({
      baseUrl: options.url,
      service: 'Trino',
      errorPrefix: 'Trino',
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      connections: options.connections ?? 64,
      statusError: (status, req, short) => {
        if (status === 401 || status === 403) {
          return new IntegrationError(
            `Trino refused ${req.method} ${pathOf(req.path)} for user ${req.headers?.['x-trino-user'] ?? this.user} (HTTP ${status}): ${CREDENTIALS_HINT}`,
            'TrinoAuthenticationFailed',
            false,
            status,
          );
        }
        // A query that vanished between two polls (coordinator restarted); running the statement again may work.
        if (
          (status === 404 || status === 410) &&
          req.method === 'GET' &&
          pathOf(req.path).startsWith('/v1/statement/')
        ) {
          return new IntegrationError(
            `Trino no longer knows the query at ${pathOf(req.path)} (HTTP ${status})${short ? `: ${short}` : ''}`,
            'TrinoQueryLost',
            true,
            status,
          );
        }
        return undefined;
      },
    });
  }

  /** `GET /v1/info` (no auth). */
  async info(): Promise<ServerInfo> {
    const req: HttpRequest = { method: 'GET', path: '/v1/info' };
    const { data } = await this.http.json<ServerInfo>(req);
    if (typeof data?.nodeVersion?.version !== 'string') throw invalid(req, 'a server info without nodeVersion.version');
    return data;
  }

  /** `GET /v1/query` as the configured user. */
  async listQueries(): Promise<QuerySummary[]> {
    const req: HttpRequest = { method: 'GET', path: '/v1/query', headers: this.userHeaders };
    const { data } = await this.http.json<BasicQueryInfo[]>(req);
    if (!Array.isArray(data)) throw invalid(req, 'something other than a list of queries');
    return data.map(toQuerySummary);
  }

  /** Queries in an active state. */
  async activeQueries(): Promise<QuerySummary[]> {
    return (await this.listQueries()).filter((query) => ACTIVE_QUERY_STATES.has(query.state));
  }

  /** `GET /ui/api/stats`, logging in to the web UI first when it answers 401. */
  async clusterStats(): Promise<ClusterStats> {
    const req: HttpRequest = { method: 'GET', path: '/ui/api/stats', accept: [401] };
    let response = await this.http.send(this.withUiCookie(req));
    if (response.status === 401) {
      await this.uiLogin();
      response = await this.http.send(this.withUiCookie({ ...req, accept: undefined }));
    }
    const data = this.http.parse<ClusterStats>(req, response);
    if (typeof data?.activeWorkers !== 'number') throw invalid(req, 'cluster stats without activeWorkers');
    return data;
  }

  /**
   * `POST /v1/statement` and follow `nextUri` until it is absent. An aborted signal cancels the
   * query; so do `maxRows` and `timeoutMs`, which then return it FAILED.
   */
  async execute(sql: string, options: StatementOptions = {}): Promise<StatementResult> {
    const headers: Record<string, string> = { ...this.userHeaders, 'x-trino-source': options.source ?? this.source };
    // Lower-cased so that a caller's `X-Trino-User` replaces ours instead of being sent twice.
    if (options.headers) for (const name in options.headers) headers[name.toLowerCase()] = options.headers[name];
    if (options.user !== undefined) headers['x-trino-user'] = options.user;
    if (options.catalog !== undefined) headers['x-trino-catalog'] = options.catalog;
    if (options.schema !== undefined) headers['x-trino-schema'] = options.schema;
    const { timeoutMs, maxRows } = options;
    const exact = options.exactIntegers ?? false;
    if (timeoutMs === undefined) return this.follow(sql, headers, options.signal, maxRows, exact);

    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new StatementDeadline(timeoutMs)), timeoutMs);
    try {
      const signal = options.signal ? AbortSignal.any([options.signal, deadline.signal]) : deadline.signal;
      return await this.follow(sql, headers, signal, maxRows, exact);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the pooled connections. */
  async close(): Promise<void> {
    await this.http.close();
  }

  /** Runs one statement through the client protocol; see execute. */
  private async follow(
    sql: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
    maxRows: number | undefined,
    exactIntegers: boolean,
  ): Promise<StatementResult> {
    let first: { headers: IncomingHttpHeaders; results: QueryResults };
    try {
      first = await this.statementCall(
        { method: 'POST', path: '/v1/statement', text: sql, headers, signal },
        exactIntegers,
      );
    } catch (error) {
      // No query id yet, so nothing to cancel: a coordinator that does not even queue the statement is unwell.
      if (error instanceof StatementDeadline) {
        throw new IntegrationError(
          `Trino did not answer POST /v1/statement within ${formatMs(error.timeoutMs)}`,
          'TrinoUnreachable',
          true,
        );
      }
      throw error;
    }
    const clusterHost = cookieValue(first.headers, CLUSTER_HOST_COOKIE);
    let results = first.results;
    const id = results.id;
    let columns = results.columns;
    const rows: unknown[][] = [];
    let stopped: (NonNullable<StatementResult['error']> & { why: NonNullable<StatementResult['stopped']> }) | undefined;
    try {
      for (;;) {
        appendRows(rows, results.data);
        if (maxRows !== undefined && rows.length > maxRows) {
          stopped = { message: `returned more than ${maxRows} rows`, errorName: 'CUTOVER_ROW_LIMIT', why: 'rowLimit' };
          break;
        }
        if (results.nextUri === undefined) break;
        const next = this.onCoordinator(results.nextUri);
        if (next === undefined) {
          await this.cancel(id, results.nextUri, headers);
          throw this.offOrigin(results.nextUri);
        }
        results = (await this.statementCall({ method: 'GET', path: next, headers, signal }, exactIntegers)).results;
        columns ??= results.columns;
      }
    } catch (error) {
      if (!(error instanceof StatementDeadline)) {
        if (signal?.aborted && results.nextUri !== undefined) await this.cancel(id, results.nextUri, headers);
        throw error;
      }
      stopped = {
        message: `did not finish within ${formatMs(error.timeoutMs)}`,
        errorName: 'CUTOVER_TIMEOUT',
        why: 'timeout',
      };
    }
    if (stopped && results.nextUri !== undefined) await this.cancel(id, results.nextUri, headers);

    const result: StatementResult = {
      id,
      state: stopped || results.error ? 'FAILED' : 'FINISHED',
      columns: columns ?? [],
      rows: stopped && maxRows !== undefined ? rows.slice(0, maxRows) : rows,
    };
    if (stopped) {
      const { why, ...error } = stopped;
      result.error = error;
      result.stopped = why;
    } else if (results.error) {
      result.error = {
        // A coordinator's message can quote the statement and its values: it goes to heartbeats and history.
        message: cap(redact(results.error.message), ERROR_MESSAGE_LENGTH),
        errorName: results.error.errorName,
        errorType: results.error.errorType,
      };
    }
    if (clusterHost !== undefined) result.clusterHost = clusterHost;
    return result;
  }

  /** One protocol request, retried on 502/503/504 with a short growing delay. */
  private async statementCall(
    req: HttpRequest,
    exactIntegers: boolean,
  ): Promise<{ headers: IncomingHttpHeaders; results: QueryResults }> {
    const retrying: HttpRequest = { ...req, accept: RETRY_STATUSES };
    const deadline = Date.now() + RETRY_BUDGET_MS;
    let delay = RETRY_FIRST_DELAY_MS;
    for (;;) {
      const response = await this.http.send(retrying);
      if (response.status === 200) {
        const body = exactIntegers ? { ...response, body: quoteUnsafeIntegers(response.body) } : response;
        return { headers: response.headers, results: this.parseResults(req, body) };
      }
      if (Date.now() + delay > deadline) {
        throw new IntegrationError(
          `Trino kept answering ${req.method} ${pathOf(req.path)} with HTTP ${response.status} for ${RETRY_BUDGET_MS / 1000} s`,
          'TrinoUnavailable',
          true,
          response.status,
        );
      }
      await sleep(delay, req.signal);
      delay = Math.min(RETRY_MAX_DELAY_MS, delay + 10);
    }
  }

  private parseResults(req: HttpRequest, response: HttpResponse): QueryResults {
    const results = this.http.parse<QueryResults>(req, response);
    if (typeof results?.id !== 'string') throw invalid(req, 'a statement reply without a query id');
    return results;
  }

  /**
   * Cancels a query, best effort (the caller is already giving up on it): `DELETE nextUri` as the
   * client protocol says, or `DELETE /v1/query/{id}` on the coordinator when nextUri leads elsewhere.
   */
  private async cancel(id: string, nextUri: string, headers: Record<string, string>): Promise<void> {
    const path = this.onCoordinator(nextUri) ?? `/v1/query/${segment(id)}`;
    const timeout = AbortSignal.timeout(CANCEL_TIMEOUT_MS);
    await this.http
      .send({ method: 'DELETE', path, headers, signal: timeout, accept: [404, 410] })
      .catch(() => undefined);
  }

  /** `uri` as an absolute URL when it is on the coordinator's origin; undefined when it leads elsewhere. */
  private onCoordinator(uri: string): string | undefined {
    const url = URL.parse(uri, `${this.origin}/`);
    return url?.origin === this.origin ? url.href : undefined;
  }

  private offOrigin(nextUri: string): IntegrationError {
    const elsewhere = URL.parse(nextUri)?.origin ?? 'an address that is not a URL';
    return new IntegrationError(
      `Trino answered with a nextUri on ${elsewhere}, not on ${this.origin} where the statement was sent: ` +
        'cutover follows nextUri only on the coordinator it was given and sent nothing there (behind a proxy, ' +
        'Trino needs http-server.process-forwarded=true); it asked the coordinator to cancel the query',
      'TrinoNextUriOffOrigin',
      false,
    );
  }

  private async uiLogin(): Promise<void> {
    const response = await this.http.send({
      method: 'POST',
      path: '/ui/login',
      form: { username: this.user, password: this.password ?? '' },
      accept: REDIRECTS,
    });
    this.uiCookie = cookieValue(response.headers, UI_COOKIE);
    if (this.uiCookie === undefined) {
      throw new IntegrationError(
        `Trino's web UI refused the login of user ${this.user} (no ${UI_COOKIE} cookie): ${CREDENTIALS_HINT}; ` +
          'a password login needs HTTPS unless the coordinator allows insecure authentication over HTTP',
        'TrinoAuthenticationFailed',
        false,
        response.status,
      );
    }
  }

  private withUiCookie(req: HttpRequest): HttpRequest {
    return this.uiCookie === undefined ? req : { ...req, headers: { cookie: `${UI_COOKIE}=${this.uiCookie}` } };
  }
}

function toQuerySummary(info: BasicQueryInfo): QuerySummary {
  const summary: QuerySummary = { queryId: info.queryId, state: info.state };
  if (info.query !== undefined) summary.query = info.query;
  if (info.session?.user !== undefined) summary.user = info.session.user;
  if (typeof info.session?.source === 'string') summary.source = info.session.source;
  if (Array.isArray(info.session?.clientTags)) summary.clientTags = info.session.clientTags;
  if (typeof info.queryType === 'string') summary.queryType = info.queryType;
  if (info.queryStats?.createTime !== undefined) summary.createTime = info.queryStats.createTime;
  if (info.queryStats?.endTime !== undefined) summary.endTime = info.queryStats.endTime;
  if (info.errorCode?.name !== undefined) {
    summary.errorCode = info.errorCode.name;
    summary.errorName = info.errorCode.name;
  }
  const errorType = info.errorType ?? info.errorCode?.type;
  if (errorType !== undefined) summary.errorType = errorType;
  const elapsedMs = info.queryStats?.elapsedTime === undefined ? undefined : parseDuration(info.queryStats.elapsedTime);
  if (elapsedMs !== undefined) summary.elapsedMs = elapsedMs;
  return summary;
}

const DURATION_UNITS_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Milliseconds of an airlift Duration as Trino prints it (`20.00ms`, `1.23s`, `2.50m`); undefined if unreadable. */
export function parseDuration(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ns|us|ms|s|m|h|d)\s*$/.exec(text);
  return match ? Number(match[1]) * DURATION_UNITS_MS[match[2]] : undefined;
}

/** Appends a page in place: pages can be large, so no spread into push. */
function appendRows(rows: unknown[][], page: unknown[][] | undefined): void {
  if (page === undefined) return;
  for (const row of page) rows.push(row);
}

/** The value of a cookie that the reply sets, if any. */
function cookieValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const setCookie = headers['set-cookie'];
  if (setCookie === undefined) return undefined;
  const prefix = `${name}=`;
  for (const cookie of Array.isArray(setCookie) ? setCookie : [setCookie]) {
    if (cookie.startsWith(prefix)) {
      const end = cookie.indexOf(';');
      const value = cookie.slice(prefix.length, end === -1 ? undefined : end);
      return value === '' ? undefined : value;
    }
  }
  return undefined;
}

/** Why a statement was aborted when its `timeoutMs` ran out. */
class StatementDeadline extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no result within ${timeoutMs} ms`);
    this.name = 'StatementDeadline';
  }
}

/** `120 s`, `250 ms`. */
function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

function invalid(req: HttpRequest, what: string): IntegrationError {
  return new IntegrationError(
    `Trino answered ${req.method} ${pathOf(req.path)} with ${what}`,
    'TrinoInvalidResponse',
    false,
  );
}
