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
      const query = historyQuery(parseJson(request.body));
      const rows = history
        .list()
        .filter(
          (row) =>
            (query.user === undefined || row.user === query.user) &&
            (query.source === undefined || row.source === query.source) &&
            (query.queryId === undefined || row.queryId === query.queryId) &&
            (query.externalUrl === undefined || row.externalUrl === query.externalUrl),
        );
      const from = (query.page - 1) * query.size;
      return ok({ total: rows.length, rows: rows.slice(from, from + query.size).map(withoutNulls) });
    } catch (error) {
      return fail(reply, error);
    }
  });

  // The real gateway leaves null fields out (no `source` key when the client sent no X-Trino-Source).
  app.get('/trino-gateway/api/queryHistory', user, async () => history.list().map(withoutNulls));
}

/** The body of `/webapp/findQueryHistory` (QueryHistoryRequest): page from 1, size 10 by default. */
function historyQuery(body: unknown): {
  page: number;
  size: number;
  user?: string;
  source?: string;
  queryId?: string;
  externalUrl?: string;
} {
  const fields = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const text = (key: string) => (typeof fields[key] === 'string' && fields[key] !== '' ? fields[key] : undefined);
  const count = (key: string, fallback: number) =>
    typeof fields[key] === 'number' && fields[key] >= 1 ? Math.floor(fields[key]) : fallback;
  return {
    page: count('page', 1),
    size: count('size', 10),
    user: text('user'),
    source: text('source'),
    queryId: text('queryId'),
    externalUrl: text('externalUrl'),
  };
}

function withoutNulls<T extends object>(row: T): Partial<T> {
  return Object.fromEntries(Object.entries(row).filter(([, value]) => value !== null)) as Partial<T>;
}
