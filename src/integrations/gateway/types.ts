/** A backend as Trino Gateway stores it (ProxyBackendConfiguration). */
export interface GatewayBackend {
  name: string;
  proxyTo: string;
  active: boolean;
  routingGroup: string;
  externalUrl?: string;
}

/** Health of a backend in the gateway's health cache. Only active + HEALTHY backends get new queries. */
export type TrinoStatus = 'PENDING' | 'HEALTHY' | 'UNHEALTHY' | 'UNKNOWN';

/** `GET /api/public/backends/{name}/state` (ClusterStats). */
export interface BackendState {
  clusterId: string;
  trinoStatus: TrinoStatus;
  runningQueryCount: number;
  queuedQueryCount: number;
  numWorkerNodes: number;
  proxyTo?: string;
  externalUrl?: string;
  routingGroup?: string;
}

/** A FILE routing rule as `/webapp/getRoutingRules` returns it. */
export interface RoutingRule {
  name: string;
  description?: string;
  priority?: number;
  actions: string[];
  condition: string;
}

/** One submission in the gateway's query history (QueryHistoryManager.QueryDetail); null fields are left out. */
export interface QueryHistoryRow {
  queryId: string;
  queryText: string;
  user?: string;
  source?: string;
  backendUrl?: string;
  captureTime: number;
  routingGroup?: string;
  externalUrl?: string;
}

/** The Trino Gateway operations cutover needs. */
export interface GatewayApi {
  /** `GET /gateway/backend/all`. */
  listBackends(): Promise<GatewayBackend[]>;
  /** `GET /gateway/backend/active`. */
  listActiveBackends(): Promise<GatewayBackend[]>;
  /** One backend by name, undefined when the gateway does not know it. */
  getBackend(name: string): Promise<GatewayBackend | undefined>;
  /** `POST /gateway/backend/modify/add`: fails (HTTP 500, a retryable error) when the name exists, so nobody's backend is overwritten. */
  addBackend(backend: GatewayBackend): Promise<GatewayBackend>;
  /** `POST /gateway/backend/modify/update` (creates when missing). */
  upsertBackend(backend: GatewayBackend): Promise<GatewayBackend>;
  /** `POST /gateway/backend/modify/delete`; deleting an unknown backend is not an error. */
  deleteBackend(name: string): Promise<void>;
  /** `POST /gateway/backend/activate/{name}`. */
  activateBackend(name: string): Promise<void>;
  /** `POST /gateway/backend/deactivate/{name}`. */
  deactivateBackend(name: string): Promise<void>;
  /** `GET /api/public/backends/{name}/state`; undefined when unknown (404). */
  backendState(name: string): Promise<BackendState | undefined>;
  /** `GET /entity` (ADMIN only): whether cutover's gateway user has the ADMIN role. */
  hasAdminRole(): Promise<boolean>;
  /** `GET /webapp/getRoutingRules`. */
  getRoutingRules(): Promise<RoutingRule[]>;
  /** `POST /webapp/updateRoutingRules`; returns all rules after the update. */
  updateRoutingRule(rule: RoutingRule): Promise<RoutingRule[]>;
  /**
   * `POST /webapp/findQueryHistory` (USER role): one page of submissions, newest first. The gateway
   * shows a user without the ADMIN role only their own queries.
   */
  findQueryHistory(page: number, size: number): Promise<{ total: number; rows: QueryHistoryRow[] }>;
  /** `GET /trino-gateway/readyz`. */
  isReady(): Promise<boolean>;
}
