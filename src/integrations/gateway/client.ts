import { GATEWAY_AUTH_FAILED, GATEWAY_ROLE_MISSING, IntegrationError } from '../errors';
import { excerpt, HttpClient, segment, type HttpRequest } from '../http';
import type { GatewayAuth } from './credentials';
import type { BackendState, GatewayApi, GatewayBackend, QueryHistoryRow, RoutingRule, TrinoStatus } from './types';

/** Where the gateway is and how to authenticate. */
export interface TrinoGatewayClientOptions {
  url: string;
  auth?: GatewayAuth;
  /** Why no credentials are sent although the worker has some (the worker policy), for the message of a 401. */
  withheldBecause?: string;
  requestTimeoutMs?: number;
}

/** The `{code, msg, data}` wrapper of `/webapp/*` replies. */
interface WebappResult<T> {
  code?: number;
  msg?: string;
  data?: T;
}

const CREDENTIALS_HINT =
  'check CUTOVER_GATEWAY_USER and CUTOVER_GATEWAY_PASSWORD (or CUTOVER_GATEWAY_TOKEN) in the worker environment';

/** Trino Gateway's REST API, exactly as the real gateway serves it. */
export class TrinoGatewayClient implements GatewayApi {
  private readonly http: HttpClient;

  constructor(options: TrinoGatewayClientOptions) {
    this.http = new HttpClient({
      baseUrl: options.url,
      service: 'Trino Gateway',
      errorPrefix: 'Gateway',
      requestTimeoutMs: options.requestTimeoutMs,
      headers: options.auth ? { authorization: authorization(options.auth) } : undefined,
      statusError: (status, req) =>
        status === 401 || status === 403
          ? new IntegrationError(
              options.auth
                ? `Trino Gateway refused the credentials for ${req.method} ${req.path} (HTTP ${status}): ${CREDENTIALS_HINT}`
                : `Trino Gateway requires authentication for ${req.method} ${req.path} (HTTP ${status}) and the worker sent none: ${options.withheldBecause ?? 'set CUTOVER_GATEWAY_USER and CUTOVER_GATEWAY_PASSWORD (or CUTOVER_GATEWAY_TOKEN) in the worker environment'}`,
              GATEWAY_AUTH_FAILED,
              false,
              status,
            )
          : undefined,
    });
  }

  /** `GET /gateway/backend/all`. */
  async listBackends(): Promise<GatewayBackend[]> {
    return this.backendList('/gateway/backend/all');
  }

  /** `GET /gateway/backend/active`. */
  async listActiveBackends(): Promise<GatewayBackend[]> {
    return this.backendList('/gateway/backend/active');
  }

  /** `GET /api/public/backends/{name}`; undefined when the gateway does not know it. */
  async getBackend(name: string): Promise<GatewayBackend | undefined> {
    const { status, data } = await this.http.json<unknown>({
      method: 'GET',
      path: `/api/public/backends/${segment(name)}`,
      accept: [404],
    });
    if (status === 404 || data === undefined || data === null) return undefined;
    return toBackend(data);
  }

  /** `POST /gateway/backend/modify/add`; a name that exists fails on the gateway's primary key (HTTP 500). */
  async addBackend(backend: GatewayBackend): Promise<GatewayBackend> {
    return this.writeBackend('/gateway/backend/modify/add', backend);
  }

  /** `POST /gateway/backend/modify/update` (creates when missing); returns the backend as stored. */
  async upsertBackend(backend: GatewayBackend): Promise<GatewayBackend> {
    return this.writeBackend('/gateway/backend/modify/update', backend);
  }

  private async writeBackend(path: string, backend: GatewayBackend): Promise<GatewayBackend> {
    const req: HttpRequest = { method: 'POST', path, json: backend };
    const data = this.checkApiReply(req, (await this.http.json<unknown>(req)).data);
    return data && typeof data === 'object' ? toBackend(data) : backend;
  }

  /** `POST /gateway/backend/modify/delete` with the bare name; an unknown backend counts as deleted. */
  async deleteBackend(name: string): Promise<void> {
    if ((await this.getBackend(name)) === undefined) return;
    const req: HttpRequest = { method: 'POST', path: '/gateway/backend/modify/delete', text: name, accept: [404] };
    const response = await this.http.send(req);
    if (response.status !== 404) this.checkApiReply(req, this.http.parse(req, response));
  }

  /** `POST /gateway/backend/activate/{name}`. */
  async activateBackend(name: string): Promise<void> {
    await this.switchBackend('activate', name);
  }

  /** `POST /gateway/backend/deactivate/{name}`. */
  async deactivateBackend(name: string): Promise<void> {
    await this.switchBackend('deactivate', name);
  }

  /** `GET /api/public/backends/{name}/state`; undefined when unknown (404). */
  async backendState(name: string): Promise<BackendState | undefined> {
    const { status, data } = await this.http.json<Record<string, unknown>>({
      method: 'GET',
      path: `/api/public/backends/${segment(name)}/state`,
      accept: [404],
    });
    if (status === 404 || data === undefined || data === null) return undefined;
    return toBackendState(name, data);
  }

  /**
   * Whether the user cutover authenticates as has the gateway's ADMIN role: `GET /entity` (ADMIN
   * only) lists the entity types to an admin and answers `{"code":401}` to anyone else.
   */
  async hasAdminRole(): Promise<boolean> {
    const req: HttpRequest = { method: 'GET', path: '/entity' };
    const { data } = await this.http.json<unknown>(req);
    if (Array.isArray(data)) return true;
    if (isWrapped(data) && (data.code === 401 || data.code === 403)) return false;
    throw new IntegrationError(
      `Trino Gateway answered GET ${req.path} with neither a list of entity types nor a role refusal`,
      'GatewayInvalidResponse',
      false,
    );
  }

  /** `GET /webapp/getRoutingRules` (ADMIN role; FILE rules only). */
  async getRoutingRules(): Promise<RoutingRule[]> {
    const req: HttpRequest = { method: 'GET', path: '/webapp/getRoutingRules' };
    return (await this.webapp<RoutingRule[]>(req, 'ADMIN')) ?? [];
  }

  /** `POST /webapp/updateRoutingRules`; the rule must already exist in the gateway's rules file. */
  async updateRoutingRule(rule: RoutingRule): Promise<RoutingRule[]> {
    const req: HttpRequest = { method: 'POST', path: '/webapp/updateRoutingRules', json: rule };
    const rules = (await this.webapp<RoutingRule[]>(req, 'ADMIN')) ?? [];
    // The gateway replaces a rule of the same name and silently ignores a new one.
    if (!rules.some((existing) => existing.name === rule.name)) {
      throw new IntegrationError(
        `Trino Gateway has no routing rule named "${rule.name}" and cannot add one through its API: add it to the rules file (routingRules.rulesConfigPath) first`,
        'RoutingRuleNotFound',
        false,
      );
    }
    return rules;
  }

  /** `POST /webapp/findQueryHistory` (USER role): `{page, size}` in, `{total, rows}` out, newest first. */
  async findQueryHistory(page: number, size: number): Promise<{ total: number; rows: QueryHistoryRow[] }> {
    const req: HttpRequest = { method: 'POST', path: '/webapp/findQueryHistory', json: { page, size } };
    const data = await this.webapp<{ total?: number; rows?: QueryHistoryRow[] }>(req, 'USER');
    return { total: data?.total ?? 0, rows: data?.rows ?? [] };
  }

  /** `GET /trino-gateway/readyz`; gateways older than release 14 answer 404 there, so fall back to the public backend list. */
  async isReady(): Promise<boolean> {
    try {
      const ready = await this.http.send({ method: 'GET', path: '/trino-gateway/readyz', accept: [404, 503] });
      if (ready.status !== 404) return ready.status === 200;
      const backends = await this.http.send({ method: 'GET', path: '/api/public/backends', accept: [404, 503] });
      return backends.status === 200;
    } catch (error) {
      if (error instanceof IntegrationError && error.retryable) return false;
      throw error;
    }
  }

  /** Closes the pooled connections. */
  async close(): Promise<void> {
    await this.http.close();
  }

  private async backendList(path: string): Promise<GatewayBackend[]> {
    const req: HttpRequest = { method: 'GET', path };
    const data = this.checkApiReply(req, (await this.http.json<unknown>(req)).data);
    if (!Array.isArray(data)) {
      throw new IntegrationError(
        `Trino Gateway answered GET ${path} with something other than a list of backends`,
        'GatewayInvalidResponse',
        false,
      );
    }
    return data.map(toBackend);
  }

  private async switchBackend(action: 'activate' | 'deactivate', name: string): Promise<void> {
    const req: HttpRequest = { method: 'POST', path: `/gateway/backend/${action}/${segment(name)}`, accept: [404] };
    const response = await this.http.send(req);
    if (response.status === 404) {
      // The gateway answers 404 for every failure of these two calls, so show its reason too.
      const reason = excerpt(response.body);
      throw new IntegrationError(
        `Trino Gateway has no backend named "${name}" to ${action}${reason ? ` (${reason})` : ''}`,
        'BackendNotFound',
        false,
        404,
      );
    }
    this.checkApiReply(req, this.http.parse(req, response));
  }

  /** `/gateway/*` replies are raw JSON, except the `{"code":401}` a missing API role produces. */
  private checkApiReply(req: HttpRequest, data: unknown): unknown {
    if (isWrapped(data) && data.code !== 200) throw refusal(req, data, 'API');
    return data;
  }

  private async webapp<T>(req: HttpRequest, role: string): Promise<T | undefined> {
    const { status, data } = await this.http.json<WebappResult<T>>(req);
    if (status === 204 || !isWrapped(data)) {
      throw new IntegrationError(
        `Trino Gateway gave no result for ${req.method} ${req.path} (HTTP ${status}): routing rules need routingRules.rulesType FILE`,
        'GatewayRefused',
        false,
        status,
      );
    }
    if (data.code !== 200) throw refusal(req, data, role);
    return data.data;
  }
}

function authorization(auth: GatewayAuth): string {
  return auth.type === 'bearer'
    ? `Bearer ${auth.token}`
    : `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`;
}

function isWrapped(data: unknown): data is WebappResult<unknown> & { code: number } {
  return (
    typeof data === 'object' &&
    data !== null &&
    !Array.isArray(data) &&
    typeof (data as WebappResult<unknown>).code === 'number'
  );
}

function refusal(req: HttpRequest, data: WebappResult<unknown>, role: string): IntegrationError {
  const message = data.msg ? ` (${excerpt(data.msg)})` : '';
  if (data.code === 401 || data.code === 403) {
    return new IntegrationError(
      `Trino Gateway refused ${req.method} ${req.path}: the user cutover authenticates as lacks the ${role} role${message}; ` +
        `grant it in the gateway's authorization section or use another user`,
      GATEWAY_ROLE_MISSING,
      false,
    );
  }
  return new IntegrationError(
    `Trino Gateway refused ${req.method} ${req.path} with code ${data.code}${message}`,
    'GatewayRefused',
    false,
  );
}

function toBackend(raw: unknown): GatewayBackend {
  const value = (raw ?? {}) as Partial<GatewayBackend>;
  if (typeof value.name !== 'string' || typeof value.proxyTo !== 'string') {
    throw new IntegrationError(
      'Trino Gateway answered with a backend without name or proxyTo',
      'GatewayInvalidResponse',
      false,
    );
  }
  const backend: GatewayBackend = {
    name: value.name,
    proxyTo: value.proxyTo,
    active: value.active !== false,
    routingGroup: value.routingGroup ?? 'adhoc',
  };
  if (value.externalUrl) backend.externalUrl = value.externalUrl;
  return backend;
}

const STATUSES: ReadonlySet<string> = new Set(['PENDING', 'HEALTHY', 'UNHEALTHY', 'UNKNOWN']);

/** Release 12+ `ClusterStats`; also reads release 10-11 (`healthy`) and 7-9 (`{QUEUED, RUNNING}`) shapes. */
function toBackendState(name: string, raw: Record<string, unknown>): BackendState {
  const trinoStatus: TrinoStatus =
    typeof raw.trinoStatus === 'string' && STATUSES.has(raw.trinoStatus)
      ? (raw.trinoStatus as TrinoStatus)
      : typeof raw.healthy === 'boolean'
        ? raw.healthy
          ? 'HEALTHY'
          : 'UNHEALTHY'
        : 'UNKNOWN';
  const state: BackendState = {
    clusterId: typeof raw.clusterId === 'string' ? raw.clusterId : name,
    trinoStatus,
    runningQueryCount: count(raw.runningQueryCount ?? raw.RUNNING),
    queuedQueryCount: count(raw.queuedQueryCount ?? raw.QUEUED),
    numWorkerNodes: count(raw.numWorkerNodes),
  };
  if (typeof raw.proxyTo === 'string') state.proxyTo = raw.proxyTo;
  if (typeof raw.externalUrl === 'string') state.externalUrl = raw.externalUrl;
  if (typeof raw.routingGroup === 'string') state.routingGroup = raw.routingGroup;
  return state;
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}
