import type { FastifyInstance, FastifyReply } from 'fastify';
import type { GatewayAuthorizer } from './gateway-auth';
import {
  backendFromJson,
  backendJson,
  DuplicateBackendError,
  InvalidBackendError,
  UnknownBackendError,
  type BackendStore,
} from './gateway-backends';
import { RulesFileWriteError, type GatewayRouter } from './gateway-router';
import type { QueryHistory } from './query-history';
import { UnsupportedRoutingRuleError } from './routing-rules';

/** What the REST API serves from. */
export interface GatewayApiContext {
  store: BackendStore;
  router: GatewayRouter;
  history: QueryHistory;
  auth: GatewayAuthorizer;
  /** True once the first health round finished. */
  ready: () => boolean;
}

/** Jersey answers an unreadable JSON body with 400 before the resource runs. */
class UnreadableJsonError extends Error {
  constructor(cause: unknown) {
    super(`Unable to process JSON: ${(cause as Error).message}`);
    this.name = 'UnreadableJsonError';
  }
}

function parseJson(body: unknown): unknown {
  try {
    return JSON.parse(typeof body === 'string' ? body : '');
  } catch (error) {
    throw new UnreadableJsonError(error);
  }
}

function ok<T>(data: T): { code: number; msg: string; data: T } {
  return { code: 200, msg: 'Successful.', data };
}

/** Maps the errors the real resources produce to their status codes. */
function fail(reply: FastifyReply, error: unknown): FastifyReply {
  const text = (status: number): FastifyReply =>
    reply
      .code(status)
      .type('text/plain')
      .send((error as Error).message);
  if (error instanceof UnreadableJsonError || error instanceof UnsupportedRoutingRuleError) return text(400);
  if (error instanceof UnknownBackendError) return text(404);
  if (
    error instanceof DuplicateBackendError ||
    error instanceof InvalidBackendError ||
    error instanceof RulesFileWriteError
  )
    return text(500);
  throw error;
}

/** Registers the real Trino Gateway's REST endpoints for backends, health, rules and history. */
export function registerGatewayApi(
  app: FastifyInstance,
  { store, router, history, auth, ready }: GatewayApiContext,
): void {
  const api = { preHandler: auth.require('API') };
  const user = { preHandler: auth.require('USER') };
  const admin = { preHandler: auth.require('ADMIN') };

  app.get('/gateway', api, async (_request, reply) => reply.type('application/json').send('ok'));
  app.get('/gateway/backend/all', api, async () => store.all());
  app.get('/gateway/backend/active', api, async () => store.all().filter((backend) => backend.active));

  for (const [action, active] of [
    ['activate', true],
    ['deactivate', false],
  ] as const) {
    app.post<{ Params: { name: string } }>(`/gateway/backend/${action}/:name`, api, async (request, reply) => {
      try {
        store.setActive(request.params.name, active);
        return reply.code(200).send();
      } catch (error) {
        return fail(reply, error);
      }
    });
  }

  app.post('/gateway/backend/modify/add', api, async (request, reply) => {
    try {
      const backend = backendFromJson(parseJson(request.body));
      store.add(backend);
      return backendJson(backend);
    } catch (error) {
      return fail(reply, error);
    }
  });

  app.post('/gateway/backend/modify/update', api, async (request, reply) => {
    try {
      const backend = backendFromJson(parseJson(request.body));
      store.upsert(backend);
      return backendJson(backend);
    } catch (error) {
      return fail(reply, error);
    }
  });

  // The body is the bare name, whatever the content type says (the real test sends JSON content type).
  app.post('/gateway/backend/modify/delete', api, async (request, reply) => {
    store.delete(typeof request.body === 'string' ? request.body : '');
    return reply.code(200).send();
  });

  app.get('/api/public/backends', async () => store.all());
  app.get<{ Params: { name: string } }>('/api/public/backends/:name', async (request, reply) => {
    const backend = store.get(request.params.name);
    return backend ?? reply.code(404).send();
  });
  app.get<{ Params: { name: string } }>('/api/public/backends/:name/state', async (request, reply) => {
    const state = store.state(request.params.name);
    return state ?? reply.code(404).send();
  });

  app.post('/webapp/getAllBackends', user, async () =>
    ok(
      store.all().map((backend) => {
        const health = store.health(backend.name);
        return {
          ...backend,
          queued: health.queuedQueryCount,
          running: health.runningQueryCount,
          status: health.status,
        };
      }),
    ),
  );

  // The entity types of the admin API (RESOURCE_GROUP and SELECTOR went in gateway 19).
  app.get('/entity', admin, async () => ['GATEWAY_BACKEND']);

  app.get('/webapp/getRoutingRules', admin, async (_request, reply) => {
    const rules = router.routingRules();
    // Without a rules file the real resource fails reading a null path.
    return rules
      ? ok(rules)
      : reply.code(500).type('text/plain').send('Routing rules are not configured: the rules engine is disabled');
  });

  app.post('/webapp/updateRoutingRules', admin, async (request, reply) => {
    try {
      const rules = router.updateRoutingRule(parseJson(request.body));
      return rules
        ? ok(rules)
        : reply.code(500).type('text/plain').send('Routing rules are not configured: the rules engine is disabled');
    } catch (error) {
      return fail(reply, error);
    }
  });

  app.get('/trino-gateway/livez', async () => 'ok');
  app.get('/trino-gateway/readyz', async (_request, reply) =>
    ready() ? 'ok' : reply.code(503).type('text/plain').send('Trino Gateway is still initializing'),
  );
  // One page of the history, newest first, filtered like QueryHistoryDao's findQueryHistory (exact matches).
  app.post('/webapp/findQueryHistory', user, async (request, reply) => {
    try {
      const body = typeof request.body === 'string' && request.body.trim() !== '' ? parseJson(request.body) : null;
      const query = historyQuery(body);
      if ('refused' in query) return reply.code(400).send({ code: 'JSON_PARSING_ERROR', message: query.refused });
      // GatewayWebAppResource: a caller without the ADMIN role sees only its own queries, whatever it asked for.
      query.user = auth.nonAdminCaller(request.headers.authorization) ?? query.user;
      // The resource fails on a null request (no body) and PostgreSQL on a negative LIMIT: Jetty's error page.
      if (body === null || query.size < 0)
        return reply.code(500).type('text/html').send('<html><body><h2>HTTP ERROR 500 Server Error</h2></body></html>');
      const rows = history
        .list()
        .filter(
          (row) =>
            (query.user === undefined || row.user === query.user) &&
            (query.source === undefined || row.source === query.source) &&
            (query.queryId === undefined || row.queryId === query.queryId) &&
            (query.externalUrl === undefined || row.externalUrl === query.externalUrl),
        );
      // HaQueryHistoryManager.getStart: a page below 1 is page 1; a size of 0 is LIMIT 0 (no rows, the total).
      const from = (Math.max(query.page, 1) - 1) * query.size;
      return ok({ total: rows.length, rows: rows.slice(from, from + query.size).map(withoutNulls) });
    } catch (error) {
      return fail(reply, error);
    }
  });

  // The real gateway leaves null fields out (no `source` key when the client sent no X-Trino-Source).
  app.get('/trino-gateway/api/queryHistory', user, async () => history.list().map(withoutNulls));
}

/** The fields of `/webapp/findQueryHistory` (QueryHistoryRequest, read by Jackson): page 1 and size 10 when absent. */
interface HistoryQuery {
  page: number;
  size: number;
  user?: string;
  source?: string;
  queryId?: string;
  externalUrl?: string;
}

/**
 * Reads the body as Jackson reads QueryHistoryRequest: `page` and `size` are Integers (a number in
 * a string counts, a fraction is refused with a 400), null or absent is the default, unknown
 * fields are ignored, an empty filter is no filter.
 */
function historyQuery(body: unknown): HistoryQuery | { refused: string } {
  const fields = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const text = (key: string) => (typeof fields[key] === 'string' && fields[key] !== '' ? fields[key] : undefined);
  const integer = (key: string, fallback: number): number | string => {
    const value = fields[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value === 'number')
      return Number.isInteger(value)
        ? value
        : `Cannot coerce Floating-point value (${value}) to \`java.lang.Integer\` value (but could if coercion was enabled using \`CoercionConfig\`)`;
    if (typeof value === 'string' && /^\s*[-+]?\d+\s*$/.test(value)) return Number(value);
    return `Cannot deserialize value of type \`java.lang.Integer\` from ${JSON.stringify(value)}: not a valid \`java.lang.Integer\` value`;
  };
  const page = integer('page', 1);
  const size = integer('size', 10);
  if (typeof page === 'string') return { refused: page };
  if (typeof size === 'string') return { refused: size };
  return {
    page,
    size,
    user: text('user'),
    source: text('source'),
    queryId: text('queryId'),
    externalUrl: text('externalUrl'),
  };
}

function withoutNulls<T extends object>(row: T): Partial<T> {
  return Object.fromEntries(Object.entries(row).filter(([, value]) => value !== null)) as Partial<T>;
}
