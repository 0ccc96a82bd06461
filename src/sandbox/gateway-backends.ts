import type { BackendState, GatewayBackend, TrinoStatus } from '../integrations/gateway/types';
import type { Journal } from './journal';

/** What the health monitor learned about one backend. */
export interface BackendHealth {
  status: TrinoStatus;
  runningQueryCount: number;
  queuedQueryCount: number;
  numWorkerNodes: number;
}

/**
 * `GET /api/public/backends/{name}/state`: the real ClusterStats record. Null fields are left out,
 * as the real gateway 20 does (its `userQueuedCount` is null and absent; seen by the real-stack test).
 */
export interface ClusterStatsJson extends BackendState {
  proxyTo: string;
  externalUrl: string;
  routingGroup: string;
}

/** A backend as stored: `externalUrl` is always set, to proxyTo when the client gave none (like the real DB row). */
export type StoredBackend = Required<GatewayBackend>;

/** Add of a name that exists: the real gateway fails on the primary key of `gateway_backend`. */
export class DuplicateBackendError extends Error {
  constructor(name: string) {
    super(
      `ERROR: duplicate key value violates unique constraint "gateway_backend_pkey": Key (name)=(${name}) already exists.`,
    );
    this.name = 'DuplicateBackendError';
  }
}

/** Activate or deactivate of an unknown name; message as HaGatewayManager's checkState. */
export class UnknownBackendError extends Error {
  constructor(name: string) {
    super(`No cluster found with name: ${name}, could not (de)activate`);
    this.name = 'UnknownBackendError';
  }
}

/** A backend JSON the real gateway rejects in validateBackendConfiguration (it answers 500). */
export class InvalidBackendError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidBackendError';
  }
}

const UNMONITORED: BackendHealth = { status: 'UNKNOWN', runningQueryCount: 0, queuedQueryCount: 0, numWorkerNodes: 0 };
const NEW_BACKEND: BackendHealth = { ...UNMONITORED, status: 'PENDING' };

/** HaGatewayManager.removeTrailingSlash: one trailing "/" goes. */
function withoutTrailingSlash(url: string): string {
  return url.replace(/\/$/, '');
}

/**
 * Reads a backend like Jackson reads ProxyBackendConfiguration: `active` defaults to true and
 * `routingGroup` to "adhoc"; an explicit null or a missing name/proxyTo is refused.
 */
export function backendFromJson(value: unknown): GatewayBackend {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new InvalidBackendError('Backend must be a JSON object');
  const raw = value as Record<string, unknown>;
  const text = (key: string, fallback?: string): string | undefined => {
    const field = raw[key];
    if (field === undefined) return fallback;
    if (typeof field !== 'string') {
      if (field === null) return undefined;
      throw new InvalidBackendError(`Backend ${key} must be a string`);
    }
    return field;
  };
  const name = text('name');
  const proxyTo = text('proxyTo');
  const routingGroup = text('routingGroup', 'adhoc');
  if (name === undefined) throw new InvalidBackendError('Backend name cannot be null');
  if (proxyTo === undefined) throw new InvalidBackendError('Backend proxyTo URL cannot be null');
  if (routingGroup === undefined) throw new InvalidBackendError('Backend routing group cannot be null');
  if (raw.active !== undefined && typeof raw.active !== 'boolean')
    throw new InvalidBackendError('Backend active must be a boolean');
  const externalUrl = text('externalUrl');
  return {
    name,
    proxyTo,
    active: raw.active ?? true,
    routingGroup,
    ...(externalUrl === undefined ? {} : { externalUrl }),
  };
}

/** The JSON the real gateway returns for a backend: externalUrl falls back to proxyTo. */
export function backendJson(backend: GatewayBackend): StoredBackend {
  return {
    name: backend.name,
    proxyTo: backend.proxyTo,
    active: backend.active,
    routingGroup: backend.routingGroup,
    externalUrl: backend.externalUrl ?? backend.proxyTo,
  };
}

function stored(backend: GatewayBackend): StoredBackend {
  const proxyTo = withoutTrailingSlash(backend.proxyTo);
  return { ...backendJson(backend), proxyTo, externalUrl: withoutTrailingSlash(backend.externalUrl ?? proxyTo) };
}

/** A change of the backend table that every replica's health cache follows. */
type TableChange = { kind: 'added' | 'deleted' | 'changed'; name: string };

/**
 * The gateway's database table `gateway_backend`: one per gateway, shared by all its replicas
 * (each replica keeps its own health cache over it, see BackendStore).
 */
export class BackendTable {
  readonly rows = new Map<string, StoredBackend>();
  private readonly listeners: ((change: TableChange) => void)[] = [];

  /** Calls `listener` after every change, whichever replica made it. */
  subscribe(listener: (change: TableChange) => void): void {
    this.listeners.push(listener);
  }

  changed(change: TableChange): void {
    for (const listener of this.listeners) listener(change);
  }
}

/**
 * The gateway's backend table plus one replica's in-memory health cache, with release 17–20
 * semantics: API writes change the table only; health changes come from the monitor (a new
 * backend starts PENDING in every replica's cache). Every effective change goes to the journal,
 * including when a routing group loses or regains its last active HEALTHY backend (per replica,
 * named in `replica` when the gateway has several).
 */
export class BackendStore {
  private readonly backends: Map<string, StoredBackend>;
  private readonly healthByName = new Map<string, BackendHealth>();
  private servedGroups = new Map<string, boolean>();

  constructor(
    private readonly journal: Journal,
    private readonly table = new BackendTable(),
    /** This replica's name, when the gateway has several. */
    private readonly replica?: string,
  ) {
    this.backends = table.rows;
    for (const name of this.backends.keys()) this.healthByName.set(name, NEW_BACKEND);
    table.subscribe((change) => {
      if (change.kind === 'added') this.healthByName.set(change.name, NEW_BACKEND);
      if (change.kind === 'deleted') this.healthByName.delete(change.name);
      this.refreshGroups();
    });
  }

  /** All backends in insertion order. */
  all(): StoredBackend[] {
    return [...this.backends.values()];
  }

  /** One backend by name. */
  get(name: string): StoredBackend | undefined {
    return this.backends.get(name);
  }

  /** `modify/add`: fails when the name exists. */
  add(backend: GatewayBackend): void {
    if (this.backends.has(backend.name)) throw new DuplicateBackendError(backend.name);
    this.insert(stored(backend));
  }

  /** `modify/update`: replaces the backend, or adds it when missing. */
  upsert(backend: GatewayBackend): void {
    const next = stored(backend);
    const previous = this.backends.get(next.name);
    if (!previous) {
      this.insert(next, 'created by update');
      return;
    }
    const changed = (Object.keys(next) as (keyof StoredBackend)[]).filter((key) => next[key] !== previous[key]);
    this.backends.set(next.name, next);
    this.journal.append('backend.updated', {
      name: next.name,
      group: next.routingGroup,
      detail:
        changed.length === 0
          ? 'unchanged'
          : `changed ${changed.map((key) => `${key}=${String(next[key])}`).join(', ')}`,
    });
    this.table.changed({ kind: 'changed', name: next.name });
  }

  /** `modify/delete`: true when something was deleted. */
  delete(name: string): boolean {
    const backend = this.backends.get(name);
    if (!backend) return false;
    this.backends.delete(name);
    this.journal.append('backend.deleted', { name, group: backend.routingGroup });
    this.table.changed({ kind: 'deleted', name });
    return true;
  }

  /** `activate` / `deactivate`; journaled only when the flag changes. */
  setActive(name: string, active: boolean): void {
    const backend = this.backends.get(name);
    if (!backend) throw new UnknownBackendError(name);
    if (backend.active === active) return;
    this.backends.set(name, { ...backend, active });
    this.journal.append(active ? 'backend.activated' : 'backend.deactivated', { name, group: backend.routingGroup });
    this.table.changed({ kind: 'changed', name });
  }

  /** Health cache entry; UNKNOWN for a name the monitor does not track. */
  health(name: string): BackendHealth {
    return this.healthByName.get(name) ?? UNMONITORED;
  }

  /** Stores a check result, unless the backend was deleted or moved while it was being checked. */
  applyHealth(name: string, checkedProxyTo: string, health: BackendHealth): void {
    const backend = this.backends.get(name);
    if (!backend || backend.proxyTo !== checkedProxyTo) return;
    const previous = this.health(name).status;
    this.healthByName.set(name, health);
    if (previous !== health.status) {
      this.journal.append('backend.health', {
        name,
        group: backend.routingGroup,
        detail: health.status,
        ...this.replicaField(),
      });
      this.refreshGroups();
    }
  }

  /** Active and HEALTHY backends of a routing group: the only ones that get new queries. */
  routable(routingGroup: string): StoredBackend[] {
    return this.all().filter(
      (b) => b.routingGroup === routingGroup && b.active && this.health(b.name).status === 'HEALTHY',
    );
  }

  /** The ClusterStats JSON of `/api/public/backends/{name}/state`. */
  state(name: string): ClusterStatsJson | undefined {
    const backend = this.backends.get(name);
    if (!backend) return undefined;
    const health = this.health(name);
    return {
      clusterId: name,
      runningQueryCount: health.runningQueryCount,
      queuedQueryCount: health.queuedQueryCount,
      numWorkerNodes: health.numWorkerNodes,
      trinoStatus: health.status,
      proxyTo: backend.proxyTo,
      externalUrl: backend.externalUrl,
      routingGroup: backend.routingGroup,
    };
  }

  private insert(backend: StoredBackend, detail?: string): void {
    this.backends.set(backend.name, backend);
    this.journal.append('backend.added', {
      name: backend.name,
      group: backend.routingGroup,
      detail: [detail, `proxyTo=${backend.proxyTo}`, `active=${backend.active}`].filter(Boolean).join(', '),
    });
    this.table.changed({ kind: 'added', name: backend.name });
  }

  private replicaField(): { replica?: string } {
    return this.replica === undefined ? {} : { replica: this.replica };
  }

  /** Journals `group.served` / `group.unserved` when a group gains its first or loses its last routable backend. */
  private refreshGroups(): void {
    const served = new Map<string, boolean>();
    for (const backend of this.backends.values()) {
      const routable = backend.active && this.health(backend.name).status === 'HEALTHY';
      served.set(backend.routingGroup, (served.get(backend.routingGroup) ?? false) || routable);
    }
    for (const [group, now] of served) {
      if (now !== (this.servedGroups.get(group) ?? false))
        this.journal.append(now ? 'group.served' : 'group.unserved', { group, ...this.replicaField() });
    }
    for (const [group, before] of this.servedGroups) {
      if (before && !served.has(group)) this.journal.append('group.unserved', { group, ...this.replicaField() });
    }
    this.servedGroups = served;
  }
}
