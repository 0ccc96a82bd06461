import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { QueryTracker, type InjectedError, type SimulatedQuery } from './coordinator-queries';
import type { ResultChangeKind } from './coordinator-results';
import { basicQueryInfo, externalBaseUrl, formatDuration, queryResults } from './coordinator-protocol';
import { createListener, listenLocal, type Listener } from './http-listener';
import { requestCookie, trinoUser } from './trino-request';

/** How to create a simulated coordinator. */
export interface SimulatedCoordinatorOptions {
  /** Cluster name, also used in its node id and failure messages. */
  name: string;
  /** Reported as `/v1/info` nodeVersion.version and by `SELECT version()`. */
  version: string;
  /** 0 or absent: a random free port, kept across crash and recovery. */
  port?: number;
  /** `/v1/info` says `starting: true` this long after each start; statements then fail with SERVER_STARTING_UP, as in Trino. */
  startupDelayMs?: number;
  environment?: string;
  /** Active workers reported by `/ui/api/stats` once started. */
  workers?: number;
  /**
   * Access control that lets only these users view other users' queries (Trino's file-based query
   * rule `allow: ["view"]`): `/v1/query` lists, and `GET /v1/query/{id}` shows (else 403), only
   * a user's own queries to everyone else. `/ui/api/stats` still counts every user's queries.
   * Absent: Trino's default access control, every user sees every query.
   */
  queryViewers?: string[];
}

/** Fault switches; they survive a crash and recovery, queries and UI sessions do not. */
export interface CoordinatorFaults {
  /** `/v1/info` and new statements answer 503. */
  unhealthy: boolean;
  /** Fraction (0..1) of new queries that end FAILED with GENERIC_INTERNAL_ERROR. */
  failRate: number;
  /** Added to the run time of every new query. */
  queryDelayMs: number;
  /** A uniformly random 0..this many ms added to the run time of each new query (jittered latency). */
  queryJitterMs: number;
  /** Multiplies the own run time of every new query (2: twice as slow). */
  queryLatencyFactor: number;
  /**
   * Errors new queries fail with, as Trino types and names them: each rule fails that fraction of
   * the new queries whose SQL contains `sqlContains` (of all of them when absent), e.g. a function
   * an upgrade removed: `{ rate: 1, errorType: 'USER_ERROR', errorName: 'FUNCTION_NOT_FOUND', sqlContains: 'my_udf(' }`.
   */
  errors: ErrorFault[];
  /**
   * Results new queries return differently from every other cluster, for shadow validation: each
   * rule changes the result of the queries whose SQL contains `sqlContains` (see ResultChangeKind),
   * e.g. `{ sqlContains: 'FROM sandbox.shadow.orders', change: 'float' }`.
   */
  resultChanges: ResultChange[];
  /** When not 0, `GET /v1/query` answers this HTTP status (401 of a rotated password, 503 of an overloaded coordinator). */
  queryListStatus: number;
  /**
   * Access control without impersonation rules (Trino's file-based access control): a statement
   * whose Basic-auth user differs from its `X-Trino-User` FAILS with PERMISSION_DENIED ("Access
   * Denied: User cutover cannot impersonate user alice"). Off: the default access control, which allows it.
   */
  refuseImpersonation: boolean;
  /** The listener is closed and every socket was cut. */
  crashed: boolean;
}

/** One rule of the `errors` fault switch. */
export interface ErrorFault extends InjectedError {
  /** Fraction (0..1) of the matching new queries that fail with this error. */
  rate: number;
  sqlContains?: string;
}

/** One rule of the `resultChanges` fault switch. */
export interface ResultChange {
  sqlContains: string;
  change: ResultChangeKind;
}

/** A cluster as the fleet's control API shows it. */
export interface SandboxClusterInfo {
  name: string;
  version: string;
  url: string;
  starting: boolean;
  faults: CoordinatorFaults;
}

/** One process lifetime: everything a crash loses. */
interface Incarnation {
  listener: Listener;
  queries: QueryTracker;
  startedAt: number;
  uiTokens: Set<string>;
}

/** Trino answers a nextUri poll after at most this long if nothing happened (client protocol long poll). */
const LONG_POLL_MS = 1_000;
const UI_COOKIE = 'Trino-UI-Token';
const STATEMENT_PATH = '/v1/statement/:phase/:queryId/:slug/:token';

/** Thrown when the coordinator is used before it ever started. */
export class CoordinatorNotStartedError extends Error {
  constructor(name: string) {
    super(`simulated coordinator ${name} has not been started`);
    this.name = 'CoordinatorNotStartedError';
  }
}

/**
 * A Trino coordinator on its own 127.0.0.1 port, speaking the parts of Trino's HTTP API that
 * Trino Gateway and cutover use, with switches to make it slow, failing, unhealthy or dead.
 */
export class SimulatedCoordinator {
  readonly name: string;
  readonly version: string;
  readonly environment: string;
  readonly nodeId: string;
  private readonly startupDelayMs: number;
  private readonly workers: number;
  private readonly queryViewers?: ReadonlySet<string>;
  private port: number;
  private current?: Incarnation;
  private switches: Omit<CoordinatorFaults, 'crashed'> = {
    unhealthy: false,
    failRate: 0,
    queryDelayMs: 0,
    queryJitterMs: 0,
    queryLatencyFactor: 1,
    errors: [],
    resultChanges: [],
    queryListStatus: 0,
    refuseImpersonation: false,
  };
  private crashed = false;

  constructor(options: SimulatedCoordinatorOptions) {
    this.name = options.name;
    this.version = options.version;
    this.environment = options.environment ?? 'sandbox';
    this.nodeId = `${options.name}-coordinator`;
    this.port = options.port ?? 0;
    this.startupDelayMs = options.startupDelayMs ?? 0;
    this.workers = options.workers ?? 1;
    if (options.queryViewers) this.queryViewers = new Set(options.queryViewers);
  }

  /** Base URL, e.g. `http://127.0.0.1:41234`; the same after a crash and recovery. */
  get url(): string {
    if (this.port === 0) throw new CoordinatorNotStartedError(this.name);
    return `http://127.0.0.1:${this.port}`;
  }

  /** True until `startupDelayMs` has passed since the last start. */
  get starting(): boolean {
    return this.current !== undefined && Date.now() - this.current.startedAt < this.startupDelayMs;
  }

  /** Current fault switches. */
  get faults(): CoordinatorFaults {
    return { ...this.switches, crashed: this.crashed };
  }

  /** The control API's view of this cluster. */
  describe(): SandboxClusterInfo {
    return { name: this.name, version: this.version, url: this.url, starting: this.starting, faults: this.faults };
  }

  /** Starts listening; a no-op when already running. */
  async start(): Promise<void> {
    if (this.current) return;
    const listener = createListener();
    const incarnation: Incarnation = {
      listener,
      queries: new QueryTracker(this.name, this.version),
      startedAt: Date.now(),
      uiTokens: new Set(),
    };
    this.registerRoutes(listener.app, incarnation);
    this.port = await listenLocal(listener.app, this.port);
    this.current = incarnation;
    this.crashed = false;
  }

  /** Stops for good: closes the listener and cuts every connection. */
  async stop(): Promise<void> {
    await this.shutDown();
    this.crashed = false;
  }

  /** Dies like a killed process: listener closed, sockets cut, queries in flight lost. */
  async crash(): Promise<void> {
    await this.shutDown();
    this.crashed = true;
  }

  /** Restarts a crashed coordinator on the same port with fresh state and the startup delay again. */
  async recover(): Promise<void> {
    if (this.crashed) await this.start();
  }

  /** Changes fault switches; omitted ones keep their value. */
  setFaults(patch: Partial<Omit<CoordinatorFaults, 'crashed'>>): void {
    if (patch.failRate !== undefined && !(patch.failRate >= 0 && patch.failRate <= 1)) {
      throw new RangeError(`failRate must be between 0 and 1, got ${patch.failRate}`);
    }
    if (patch.queryDelayMs !== undefined && !(patch.queryDelayMs >= 0)) {
      throw new RangeError(`queryDelayMs must be 0 or more, got ${patch.queryDelayMs}`);
    }
    if (patch.queryJitterMs !== undefined && !(patch.queryJitterMs >= 0)) {
      throw new RangeError(`queryJitterMs must be 0 or more, got ${patch.queryJitterMs}`);
    }
    if (patch.queryLatencyFactor !== undefined && !(patch.queryLatencyFactor > 0)) {
      throw new RangeError(`queryLatencyFactor must be above 0, got ${patch.queryLatencyFactor}`);
    }
    for (const rule of patch.errors ?? []) {
      if (!(rule.rate >= 0 && rule.rate <= 1))
        throw new RangeError(`errors[].rate must be between 0 and 1, got ${rule.rate}`);
    }
    this.switches = {
      unhealthy: patch.unhealthy ?? this.switches.unhealthy,
      failRate: patch.failRate ?? this.switches.failRate,
      queryDelayMs: patch.queryDelayMs ?? this.switches.queryDelayMs,
      queryJitterMs: patch.queryJitterMs ?? this.switches.queryJitterMs,
      queryLatencyFactor: patch.queryLatencyFactor ?? this.switches.queryLatencyFactor,
      errors: patch.errors ?? this.switches.errors,
      resultChanges: patch.resultChanges ?? this.switches.resultChanges,
      queryListStatus: patch.queryListStatus ?? this.switches.queryListStatus,
      refuseImpersonation: patch.refuseImpersonation ?? this.switches.refuseImpersonation,
    };
  }

  /** How a new query fails, if it does: startup, then the `errors` rules in order, then `failRate`. */
  private failureFor(sql: string): 'starting' | 'random' | InjectedError | undefined {
    if (this.starting) return 'starting';
    for (const { rate, sqlContains, ...error } of this.switches.errors) {
      if ((sqlContains === undefined || sql.includes(sqlContains)) && Math.random() < rate) return error;
    }
    return Math.random() < this.switches.failRate ? 'random' : undefined;
  }

  /** The failure of a statement whose Basic-auth user may not impersonate its `X-Trino-User` (`refuseImpersonation`). */
  private impersonationRefused(authorization: string | undefined, user: string): InjectedError | undefined {
    if (!this.switches.refuseImpersonation || !authorization?.startsWith('Basic ')) return undefined;
    const authenticated = Buffer.from(authorization.slice(6), 'base64').toString('utf8').split(':')[0];
    if (!authenticated || authenticated === user) return undefined;
    return {
      errorType: 'USER_ERROR',
      errorName: 'PERMISSION_DENIED',
      message: `Access Denied: User ${authenticated} cannot impersonate user ${user}`,
    };
  }

  /** Whether `user` may see `query`, as Trino's access control filters `/v1/query`: its own always. */
  private mayView(user: string, query: SimulatedQuery): boolean {
    return this.queryViewers === undefined || query.user === user || this.queryViewers.has(user);
  }

  private async shutDown(): Promise<void> {
    const incarnation = this.current;
    if (!incarnation) return;
    this.current = undefined;
    incarnation.listener.app.server.close();
    incarnation.listener.destroySockets();
    incarnation.queries.dispose();
    await incarnation.listener.app.close();
  }

  private registerRoutes(app: FastifyInstance, live: Incarnation): void {
    const base = (request: FastifyRequest): string => externalBaseUrl(request.headers, `127.0.0.1:${this.port}`);
    const needUser = (request: FastifyRequest, reply: FastifyReply): string | undefined => {
      const user = trinoUser(request.headers);
      if (!user) {
        void reply
          .code(401)
          .header('www-authenticate', 'Basic realm="Trino"')
          .type('text/plain')
          .send('Basic authentication or X-Trino-Original-User or X-Trino-User must be sent');
      }
      return user;
    };
    const unavailable = (reply: FastifyReply): FastifyReply =>
      reply.code(503).type('text/plain').send('Service Unavailable');

    app.get('/v1/info', async (_request, reply) => {
      if (this.switches.unhealthy) return unavailable(reply);
      return {
        nodeId: this.nodeId,
        state: 'ACTIVE',
        nodeVersion: { version: this.version },
        environment: this.environment,
        coordinator: true,
        starting: this.starting,
        uptime: formatDuration(Date.now() - live.startedAt),
      };
    });

    app.post('/v1/statement', async (request, reply) => {
      const user = needUser(request, reply);
      if (!user) return reply;
      if (this.switches.unhealthy) return unavailable(reply);
      const sql = typeof request.body === 'string' ? request.body : '';
      if (sql.trim() === '') return reply.code(400).type('text/plain').send('SQL statement is empty');
      const query = live.queries.submit({
        sql,
        user,
        source: request.headers['x-trino-source'] as string | undefined,
        clientTags: request.headers['x-trino-client-tags'] as string | undefined,
        extraDelayMs: this.switches.queryDelayMs + Math.random() * this.switches.queryJitterMs,
        latencyFactor: this.switches.queryLatencyFactor,
        failure: this.impersonationRefused(request.headers.authorization, user) ?? this.failureFor(sql),
        resultChange: this.switches.resultChanges.find((rule) => sql.includes(rule.sqlContains))?.change,
      });
      return queryResults(query, base(request), query.nextToken);
    });

    app.get<{ Params: { phase: string; queryId: string; slug: string; token: string } }>(
      STATEMENT_PATH,
      async (request, reply) => {
        const query = live.queries.get(request.params.queryId);
        const token = Number(request.params.token);
        const knownPhase = request.params.phase === 'queued' || request.params.phase === 'executing';
        if (!query || !knownPhase || query.slug !== request.params.slug || !Number.isInteger(token)) {
          return reply.code(404).type('text/plain').send('Query not found');
        }
        if (query.lastPage?.token === token) return query.lastPage.body;
        if (token !== query.nextToken)
          return reply.code(404).type('text/plain').send(`Invalid token ${token} for query ${query.id}`);
        await live.queries.waitForProgress(query, LONG_POLL_MS);
        return this.page(live.queries, query, token, base(request));
      },
    );

    // Trino's cancel: 204 whether or not the query was still running, 404 for a query it does not know.
    app.delete<{ Params: { phase: string; queryId: string; slug: string } }>(STATEMENT_PATH, async (request, reply) => {
      const query = live.queries.get(request.params.queryId);
      const knownPhase = request.params.phase === 'queued' || request.params.phase === 'executing';
      if (!query || !knownPhase || query.slug !== request.params.slug)
        return reply.code(404).type('text/plain').send('Query not found');
      live.queries.cancel(query.id);
      return reply.code(204).send();
    });

    app.get<{ Querystring: { state?: string } }>('/v1/query', async (request, reply) => {
      const user = needUser(request, reply);
      if (!user) return reply;
      const refused = this.switches.queryListStatus;
      if (refused !== 0) return reply.code(refused).type('text/plain').send(`query list refused (fault switch)`);
      const wanted = request.query.state?.toUpperCase();
      return live.queries
        .list()
        .filter((query) => this.mayView(user, query) && (!wanted || query.state === wanted))
        .map((query) => basicQueryInfo(query, base(request)));
    });

    // Fastify answers HEAD with this handler too, which is what the gateway's query-id probe uses.
    app.get<{ Params: { queryId: string } }>('/v1/query/:queryId', async (request, reply) => {
      const user = needUser(request, reply);
      if (!user) return reply;
      const query = live.queries.get(request.params.queryId);
      if (!query) return reply.code(410).send();
      if (!this.mayView(user, query)) return reply.code(403).type('text/plain').send('Forbidden');
      return basicQueryInfo(query, base(request));
    });

    app.delete<{ Params: { queryId: string } }>('/v1/query/:queryId', async (request, reply) => {
      if (!needUser(request, reply)) return reply;
      return reply.code(live.queries.cancel(request.params.queryId) ? 204 : 410).send();
    });

    // An insecure Trino's form login accepts any user name, with or without a password.
    app.post('/ui/login', async (_request, reply) => {
      const token = randomBytes(16).toString('hex');
      live.uiTokens.add(token);
      return reply
        .code(303)
        .header('set-cookie', `${UI_COOKIE}=${token}; Path=/ui; HttpOnly`)
        .header('location', '/ui/')
        .send();
    });

    app.get('/ui/api/stats', async (request, reply) => {
      const token = requestCookie(request.headers, UI_COOKIE);
      if (!token || !live.uiTokens.has(token)) return reply.code(401).type('text/plain').send('Unauthorized');
      const counts = live.queries.counts();
      const workers = this.starting ? 0 : this.workers;
      return {
        runningQueries: counts.running,
        blockedQueries: 0,
        queuedQueries: counts.queued,
        activeCoordinators: 1,
        activeWorkers: workers,
        runningDrivers: counts.running * workers,
        totalAvailableProcessors: workers * 4,
        reservedMemory: 0,
        totalInputRows: counts.finishedTotal,
        totalInputBytes: 0,
        totalCpuTimeSecs: Math.round(counts.cpuMs / 1_000),
      };
    });
  }

  /** Renders the page for `token` once, so a retry of the same token gets the same page. */
  private page(queries: QueryTracker, query: SimulatedQuery, token: number, baseUrl: string): unknown {
    if (query.lastPage?.token === token) return query.lastPage.body;
    const body = queryResults(query, baseUrl, token + 1, queries.takeRows(query));
    query.lastPage = { token, body };
    query.reportedState = query.state;
    query.nextToken = token + 1;
    return body;
  }
}
