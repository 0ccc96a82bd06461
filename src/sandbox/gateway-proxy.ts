import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { request, type Dispatcher } from 'undici';
import type { BackendStore } from './gateway-backends';
import { NoActiveBackendError, type GatewayRouter, type QueryOwner } from './gateway-router';
import type { QueryHistory } from './query-history';
import { analyzeStatement, NO_STATEMENT, type QueryProperties } from './query-properties';
import { RuleEvaluationError, type HeaderLookup } from './routing-rules';
import { trinoUser } from './trino-request';

/** Paths the real gateway hands to Trino (PathFilter); everything else is its own API. */
const PROXIED_PREFIXES = ['/v1/statement', '/v1/query', '/v1/spooled', '/ui', '/v1/info', '/v1/node', '/oauth2'];
const STATEMENT_PATH = '/v1/statement';
const QUERY_PATH = '/v1/query';
const QUERY_STATE_SEGMENTS = new Set(['queued', 'scheduled', 'executing']);
const QUERY_ID_IN_PATH = /.*\/(\d+_\d+_\d+_\w+).*/;
const QUERY_ID_IN_PARAMS = /.*(?:%2F|[qQ][uU][eE][rR][yY]_?[iI][dD]=|^)(\d+_\d+_\d+_\w+).*/;
/** Connection-level headers that belong to one hop only; undici refuses some of them outright. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
  'te',
  'trailer',
  'expect',
]);
/** ProxyRequestHandler.PRESERVED_HEADERS_TO_SKIP, plus the length undici recomputes. */
const NOT_FORWARDED = new Set(['host', 'accept-encoding', 'content-length']);
const PROBE_TIMEOUT_MS = 5_000;

/** True when the real gateway would proxy this path to a Trino backend. */
export function isProxiedPath(path: string): boolean {
  return PROXIED_PREFIXES.some((prefix) => path.startsWith(prefix));
}

/** The query id a follow-up request carries, like ProxyUtils.extractQueryIdIfPresent (never for POST). */
function extractQueryId(path: string, search: string): string | undefined {
  const params = search.startsWith('?') ? search.slice(1) : search;
  const fromParams = params ? QUERY_ID_IN_PARAMS.exec(params) : null;
  if (fromParams) return fromParams[1];
  if (path.startsWith(STATEMENT_PATH) || path.startsWith(QUERY_PATH)) {
    const tokens = path.slice(path.startsWith(STATEMENT_PATH) ? STATEMENT_PATH.length : QUERY_PATH.length).split('/');
    if (tokens.length < 2 || tokens[1] === '') return undefined;
    if (tokens.length >= 3 && QUERY_STATE_SEGMENTS.has(tokens[1]))
      return tokens.length >= 4 && tokens[2] === 'partialCancel' ? tokens[3] : tokens[2];
    return tokens[1];
  }
  if (path.startsWith('/ui')) return QUERY_ID_IN_PATH.exec(path)?.[1];
  return undefined;
}

/** `request.getHeader(name)` over node's lower-cased headers. */
function headerLookup(headers: IncomingHttpHeaders): HeaderLookup {
  return (name) => {
    const value = headers[name.toLowerCase()];
    return Array.isArray(value) ? value[0] : value;
  };
}

function sendText(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function responseHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers))
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  return out;
}

/**
 * The gateway's proxy: follow-up requests go to the backend that owns their query id, new
 * requests to a backend chosen by the router; POST /v1/statement replies are recorded for
 * stickiness and query history and get the `trinoClusterHost` cookie.
 */
export class GatewayProxy {
  constructor(
    private readonly store: BackendStore,
    private readonly router: GatewayRouter,
    private readonly history: QueryHistory,
    private readonly dispatcher: Dispatcher,
    private readonly options: { analyzeRequest: boolean },
  ) {}

  /**
   * What the request analyzer (QueryMetadataParser) makes of a request when enabled: a POST's
   * statement, qualified by the session's catalog and schema headers; nothing for other methods.
   */
  private queryProperties(req: IncomingMessage, body: Buffer): QueryProperties | undefined {
    if (!this.options.analyzeRequest) return undefined;
    if (req.method !== 'POST' || body.length === 0) return NO_STATEMENT;
    const header = headerLookup(req.headers);
    return analyzeStatement(body.toString('utf8'), {
      catalog: header('X-Trino-Catalog'),
      schema: header('X-Trino-Schema'),
    });
  }

  /** Serves one proxied request end to end; never throws. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://gateway');
      const body = await readBody(req);
      const queryId = req.method === 'POST' ? undefined : extractQueryId(url.pathname, url.search);
      // Gateway 20 looks for a query id in any POST mentioning kill_query through the analyzer's
      // properties (ProxyUtils.extractQueryIdIfPresent), which do not exist without it: HTTP 500.
      if (req.method === 'POST' && !this.options.analyzeRequest && /kill_query/i.test(body.toString('utf8')))
        return sendText(res, 500, 'java.lang.NullPointerException: trinoQueryProperties is null');
      let target: QueryOwner | undefined;
      if (queryId) {
        target = this.router.owner(queryId) ?? (await this.probe(queryId, trinoUser(req.headers)));
        if (!target) return sendText(res, 404, `Query ${queryId} is not known to any backend`);
      } else {
        const routingGroup = this.router.routingGroupFor({
          header: headerLookup(req.headers),
          queryProperties: this.queryProperties(req, body),
          now: Date.now(),
        });
        const backend = this.router.pickBackend(routingGroup);
        target = { proxyTo: backend.proxyTo, routingGroup, externalUrl: backend.externalUrl };
      }
      await this.forward(req, res, url, body, target);
    } catch (error) {
      if (error instanceof NoActiveBackendError || error instanceof RuleEvaluationError)
        sendText(res, 500, error.message);
      else sendText(res, 502, `Proxy request failed: ${(error as Error).message}`);
    }
  }

  private async forward(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    body: Buffer,
    target: QueryOwner,
  ): Promise<void> {
    const aborter = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) aborter.abort();
    });
    const method = req.method ?? 'GET';
    const upstream = await request(`${target.proxyTo}${url.pathname}${url.search}`, {
      method,
      headers: this.forwardedHeaders(req),
      body: method === 'GET' || method === 'HEAD' ? undefined : body,
      dispatcher: this.dispatcher,
      signal: aborter.signal,
    });
    const headers = responseHeaders(upstream.headers);
    if (method === 'POST' && url.pathname.startsWith(STATEMENT_PATH)) {
      const reply = Buffer.from(await upstream.body.arrayBuffer());
      this.record(req, body, reply, upstream.statusCode, target);
      // includeClusterHostInResponse: the real gateway sets the backend's host name only, no port.
      const cookies = headers['set-cookie'] ?? [];
      headers['set-cookie'] = [
        ...(Array.isArray(cookies) ? cookies : [cookies]),
        `trinoClusterHost=${new URL(target.proxyTo).hostname};Version=1`,
      ];
      headers['content-length'] = String(reply.length);
      res.writeHead(upstream.statusCode, headers);
      res.end(reply);
      return;
    }
    res.writeHead(upstream.statusCode, headers);
    try {
      await pipeline(upstream.body, res);
    } catch {
      // The client went away or the backend died mid-body: the socket is already torn down.
    }
  }

  /** Request headers as ProxyRequestHandler forwards them, plus Via and the X-Forwarded-* set. */
  private forwardedHeaders(req: IncomingMessage): Record<string, string | string[]> {
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name) && !NOT_FORWARDED.has(name)) headers[name] = value;
    }
    headers.via = `HTTP/${req.httpVersion} TrinoGateway`;
    const clientAddress = req.socket.remoteAddress ?? '127.0.0.1';
    const forwardedFor = req.headers['x-forwarded-for'];
    headers['x-forwarded-for'] = forwardedFor ? `${String(forwardedFor)}, ${clientAddress}` : clientAddress;
    // An address set by a proxy in front of the gateway wins, as Trino reads the first value.
    headers['x-forwarded-proto'] ??= 'http';
    headers['x-forwarded-host'] ??= req.headers.host ?? `127.0.0.1:${req.socket.localPort}`;
    headers['x-forwarded-port'] ??= String(req.socket.localPort);
    return headers;
  }

  /** recordBackendForQueryId: a history row per submission, and the query id's owner when the reply has one. */
  private record(req: IncomingMessage, sql: Buffer, reply: Buffer, status: number, target: QueryOwner): void {
    let queryId: string | null = null;
    if (status === 200) {
      try {
        const id = (JSON.parse(reply.toString('utf8')) as { id?: unknown }).id;
        if (typeof id === 'string') queryId = id;
      } catch {
        // Not a QueryResults document: the history row keeps a null query id, as in the real gateway.
      }
    }
    if (queryId) this.router.remember(queryId, target);
    const source = headerLookup(req.headers)('X-Trino-Source');
    this.history.add({
      queryId,
      queryText: sql.toString('utf8'),
      user: trinoUser(req.headers) ?? null,
      source: source ?? null,
      backendUrl: new URL(target.proxyTo).origin,
      captureTime: Date.now(),
      routingGroup: target.routingGroup,
      externalUrl: target.externalUrl,
    });
  }

  /**
   * Asks every backend `HEAD /v1/query/<id>` and waits for all answers (the real probe only looks
   * at answers already in, issue #1241). It sends the request's Trino user, which the real probe
   * omits, because Trino requires one on that endpoint.
   */
  private async probe(queryId: string, user: string | undefined): Promise<QueryOwner | undefined> {
    const found = await Promise.all(
      this.store.all().map(async (backend) => {
        try {
          const response = await request(`${backend.proxyTo}/v1/query/${encodeURIComponent(queryId)}`, {
            method: 'HEAD',
            headers: { 'x-trino-user': user ?? 'trino-gateway' },
            dispatcher: this.dispatcher,
            signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
          });
          await response.body.dump();
          return response.statusCode === 200 ? backend : undefined;
        } catch {
          return undefined;
        }
      }),
    );
    const backend = found.find((b) => b !== undefined);
    if (!backend) return undefined;
    const owner = { proxyTo: backend.proxyTo, routingGroup: backend.routingGroup, externalUrl: backend.externalUrl };
    this.router.remember(queryId, owner);
    return owner;
  }
}
