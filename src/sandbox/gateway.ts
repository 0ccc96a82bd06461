import { createServer } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { Agent } from 'undici';
import type { GatewayBackend, RoutingRule } from '../integrations/gateway/types';
import { registerGatewayApi } from './gateway-api';
import { GatewayAuthorizer, type GatewayAuthOptions } from './gateway-auth';
import { BackendStore, type BackendTable, type ClusterStatsJson, type StoredBackend } from './gateway-backends';
import { HealthMonitor } from './gateway-health';
import { GatewayProxy, isProxiedPath } from './gateway-proxy';
import { GatewayRouter, type QueryOwner, type RulesFaults, type RulesFile } from './gateway-router';
import { createListener, listenLocal, type Listener } from './http-listener';
import { Journal } from './journal';
import { QueryHistory, type QueryDetail } from './query-history';

/** How to run the sandbox gateway. */
export interface SandboxGatewayOptions extends GatewayAuthOptions {
  /** 0 or absent: a random free port. */
  port?: number;
  /** Health round interval (the real `monitor.taskDelay`, default there 1 min). */
  healthIntervalMs?: number;
  /** A backend that does not answer `/v1/info` within this is UNHEALTHY. */
  healthTimeoutMs?: number;
  /** Group for requests without one, and the fallback of groups that cannot serve. */
  defaultRoutingGroup?: string;
  /** FILE routing rules; the rules engine is enabled when given. Refused when an expression is unsupported. */
  rules?: RoutingRule[];
  /** How long the router keeps using the rules it read (the real `rulesRefreshPeriod`, default there 1 min). */
  rulesRefreshMs?: number;
  /** The real `requestAnalyzerConfig.analyzeRequest` (default false there too): rules see `trinoQueryProperties`. */
  analyzeRequest?: boolean;
  /** Rows kept in the query history (the real endpoint returns 2,000). */
  queryHistoryLimit?: number;
  /** Extra routes on the same port, registered before listening (the fleet's control API). */
  extraRoutes?: (app: FastifyInstance) => void;
  /** Where effects are recorded; a new journal when absent. */
  journal?: Journal;
}

/** What the replicas of one gateway share (its database, maybe its rules file), and this replica's name. */
export interface ReplicaOf {
  name: string;
  table: BackendTable;
  history: QueryHistory;
  owners: Map<string, QueryOwner>;
  /** One rules file on shared storage; absent: this replica has its own, written from the options' rules. */
  rulesFile?: RulesFile;
}

/** Fault switches of one gateway replica. */
export interface ReplicaFaults extends RulesFaults {
  /** Its health monitor's results are dropped: its health cache keeps what it had (a lagging replica). */
  healthFrozen?: boolean;
}

/** Thrown when the gateway is used before it started. */
export class GatewayNotStartedError extends Error {
  constructor() {
    super('sandbox gateway has not been started');
    this.name = 'GatewayNotStartedError';
  }
}

/**
 * A Trino Gateway (release 17+ semantics) on one 127.0.0.1 port: the REST API of backends,
 * health, routing rules and query history, the health monitor, and the proxy to Trino.
 */
export class SandboxGateway {
  /** Every effective change, for tests and demos. */
  readonly journal: Journal;
  private readonly store: BackendStore;
  private readonly router: GatewayRouter;
  private readonly history: QueryHistory;
  /** Idle sockets are dropped before the coordinators' 5 s keep-alive ends, so a reused socket is never one they just closed. */
  private readonly dispatcher = new Agent({ keepAliveTimeout: 4_000, connections: 256 });
  private readonly monitor: HealthMonitor;
  private readonly listener: Listener;
  private port = 0;
  private stopped?: Promise<void>;

  constructor(
    private readonly options: SandboxGatewayOptions = {},
    /** One replica of a gateway of several; absent: a gateway of its own. */
    replica?: ReplicaOf,
  ) {
    this.journal = options.journal ?? new Journal();
    this.store = new BackendStore(this.journal, replica?.table, replica?.name);
    this.history = replica?.history ?? new QueryHistory(options.queryHistoryLimit ?? 100_000);
    this.router = new GatewayRouter(this.store, this.journal, {
      defaultRoutingGroup: options.defaultRoutingGroup ?? 'adhoc',
      rules: options.rules,
      rulesFile: replica?.rulesFile,
      owners: replica?.owners,
      replica: replica?.name,
      rulesRefreshMs: options.rulesRefreshMs ?? 1_000,
      maxQueryOwners: options.queryHistoryLimit ?? 100_000,
    });
    const intervalMs = options.healthIntervalMs ?? 1_000;
    this.monitor = new HealthMonitor(this.store, {
      intervalMs,
      timeoutMs: options.healthTimeoutMs ?? Math.max(500, Math.min(intervalMs, 5_000)),
      dispatcher: this.dispatcher,
    });
    const proxy = new GatewayProxy(this.store, this.router, this.history, this.dispatcher, {
      analyzeRequest: options.analyzeRequest ?? false,
    });
    // Like the real pre-matching filter: Trino paths go to the proxy before any API routing.
    this.listener = createListener({
      serverFactory: (handler) =>
        createServer((req, res) => {
          if (isProxiedPath(req.url ?? '/')) void proxy.handle(req, res);
          else handler(req, res);
        }),
    });
    registerGatewayApi(this.listener.app, {
      store: this.store,
      router: this.router,
      history: this.history,
      auth: new GatewayAuthorizer(options),
      ready: () => this.monitor.initialized,
    });
    options.extraRoutes?.(this.listener.app);
  }

  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  get url(): string {
    if (this.port === 0) throw new GatewayNotStartedError();
    return `http://127.0.0.1:${this.port}`;
  }

  /** Listens and starts health checks (first round at once). */
  async start(): Promise<void> {
    this.port = await listenLocal(this.listener.app, this.options.port ?? 0);
    this.monitor.start();
  }

  /** Stops health checks, the listener and every connection; later calls wait for the first. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      await this.monitor.stop();
      this.listener.destroySockets();
      await this.listener.app.close();
      await this.dispatcher.close();
    })();
    return this.stopped;
  }

  /** All backends as `/gateway/backend/all` returns them. */
  backends(): StoredBackend[] {
    return this.store.all();
  }

  /** `/api/public/backends/{name}/state`, undefined when unknown. */
  backendState(name: string): ClusterStatsJson | undefined {
    return this.store.state(name);
  }

  /** Same effect as `POST /gateway/backend/modify/update`. */
  upsertBackend(backend: GatewayBackend): void {
    this.store.upsert(backend);
  }

  /** Sets this replica's fault switches (rules file, health cache). */
  setFaults(faults: ReplicaFaults): void {
    const { healthFrozen, ...rules } = faults;
    if (healthFrozen !== undefined) this.monitor.frozen = healthFrozen;
    this.router.setRulesFaults(rules);
  }

  /** The rules as `/webapp/getRoutingRules` returns them (undefined without a rules engine). */
  routingRules(): RoutingRule[] | undefined {
    return this.router.routingRules();
  }

  /** Runs a health round now and waits for it. */
  checkHealthNow(): Promise<void> {
    return this.monitor.checkNow();
  }

  /** The query history, newest first. */
  queryHistory(): QueryDetail[] {
    return this.history.list();
  }
}
