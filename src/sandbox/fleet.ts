import { SimulatedCoordinator, type ErrorFault, type ResultChange } from './coordinator';
import { registerControlApi } from './fleet-control-api';
import type { FastifyInstance } from 'fastify';
import { ClusterVersionConflictError, UnknownClusterError, UnknownReplicaError } from './fleet-errors';
import { SandboxGateway, type ReplicaFaults, type SandboxGatewayOptions } from './gateway';
import { GatewayBalancer } from './gateway-balancer';
import { BackendTable } from './gateway-backends';
import { RulesFile, type QueryOwner } from './gateway-router';
import { Journal, type JournalEntry } from './journal';
import { QueryHistory } from './query-history';

export { ClusterVersionConflictError, UnknownClusterError, UnknownReplicaError } from './fleet-errors';

/** A cluster to create: a coordinator of a version, optionally slow to start. */
export interface SandboxClusterSpec {
  name: string;
  version: string;
  /** Routing group of an initial cluster's gateway backend (default "adhoc"). */
  routingGroup?: string;
  startupDelayMs?: number;
  /** Only these users see other users' queries in `/v1/query` (access control); absent: everyone sees all. */
  queryViewers?: string[];
}

/** How to start the fleet: the gateway's options plus the clusters registered at start. */
export interface SandboxFleetOptions extends Omit<SandboxGatewayOptions, 'extraRoutes' | 'journal'> {
  /** Started and registered ACTIVE in the gateway before it serves. */
  clusters?: SandboxClusterSpec[];
  /**
   * Gateway replicas (default 1). With several, they share one backend table and query history
   * (the real gateway's database), each has its own health monitor and cache and its own rules
   * file, and `gatewayUrl` is a round-robin balancer in front of them; `port` is the balancer's.
   */
  gatewayReplicas?: number;
  /** With several replicas: one rules file for all (shared storage) instead of one each. */
  sharedRulesFile?: boolean;
}

/** Fault changes the control API accepts; `crash: false` recovers a crashed cluster. */
export interface FaultRequest {
  unhealthy?: boolean;
  failRate?: number;
  queryDelayMs?: number;
  queryJitterMs?: number;
  queryLatencyFactor?: number;
  errors?: ErrorFault[];
  resultChanges?: ResultChange[];
  queryListStatus?: number;
  refuseImpersonation?: boolean;
  crash?: boolean;
}

interface ClusterEntry {
  coordinator: SimulatedCoordinator;
  /** Settles when the coordinator listens; concurrent creates of one name share it. */
  started: Promise<void>;
}

/**
 * The local fleet: one sandbox gateway with the control API on its port (under `/sandbox/v1/`,
 * which no real gateway path uses) and the simulated coordinators it creates.
 */
export class SandboxFleet {
  /** The gateway (its first replica when it has several: every replica sees the same backends). */
  readonly gateway: SandboxGateway;
  /** Every replica of the gateway by name (`gw-1`, `gw-2`, ...); just `gateway` when it has one. */
  readonly gatewayReplicas: ReadonlyMap<string, SandboxGateway>;
  private readonly balancer?: GatewayBalancer;
  private readonly entries = new Map<string, ClusterEntry>();
  private readonly effects = new Journal();

  constructor(private readonly options: SandboxFleetOptions = {}) {
    const { gatewayReplicas = 1, sharedRulesFile = false, ...gatewayOptions } = options;
    const shared = {
      ...gatewayOptions,
      journal: this.effects,
      extraRoutes: (app: FastifyInstance) => registerControlApi(app, this),
    };
    if (gatewayReplicas <= 1) {
      this.gateway = new SandboxGateway(shared);
      this.gatewayReplicas = new Map([['gw-1', this.gateway]]);
      return;
    }
    // The replicas' database: backends, query history and the query ids it lets any replica route.
    const database = {
      table: new BackendTable(),
      history: new QueryHistory(options.queryHistoryLimit ?? 100_000),
      owners: new Map<string, QueryOwner>(),
      rulesFile: sharedRulesFile && options.rules ? new RulesFile(options.rules) : undefined,
    };
    const replicas = new Map<string, SandboxGateway>();
    for (let i = 1; i <= gatewayReplicas; i++) {
      const name = `gw-${i}`;
      // Each listens on a port of its own; `port` is the balancer's.
      replicas.set(name, new SandboxGateway({ ...shared, port: 0 }, { name, ...database }));
    }
    this.gatewayReplicas = replicas;
    this.gateway = replicas.get('gw-1')!;
    this.balancer = new GatewayBalancer(() => this.replicaUrls());
  }

  /** Base URL clients use, e.g. `http://127.0.0.1:8080`: the gateway, or the balancer in front of its replicas. */
  get gatewayUrl(): string {
    return this.balancer?.url ?? this.gateway.url;
  }

  /** Each replica's own address, in order (the plan's `gateway.replicas`). */
  replicaUrls(): string[] {
    return [...this.gatewayReplicas.values()].map((replica) => replica.url);
  }

  /** Sets fault switches of one gateway replica (a lagging or refusing rules file, a frozen health cache). */
  setReplicaFaults(name: string, faults: ReplicaFaults): void {
    const replica = this.gatewayReplicas.get(name);
    if (!replica) throw new UnknownReplicaError(name);
    replica.setFaults(faults);
    this.effects.append('replica.faults', { replica: name, detail: JSON.stringify(faults) });
  }

  /** Every cluster, in creation order. */
  clusters(): SimulatedCoordinator[] {
    return [...this.entries.values()].map((entry) => entry.coordinator);
  }

  /** One cluster by name. */
  cluster(name: string): SimulatedCoordinator | undefined {
    return this.entries.get(name)?.coordinator;
  }

  /** Creates and starts a coordinator, or returns the existing one of the same version (idempotent). */
  async createCluster(
    spec: Omit<SandboxClusterSpec, 'routingGroup'>,
  ): Promise<{ cluster: SimulatedCoordinator; created: boolean }> {
    const existing = this.entries.get(spec.name);
    if (existing) {
      if (existing.coordinator.version !== spec.version) {
        throw new ClusterVersionConflictError(spec.name, existing.coordinator.version, spec.version);
      }
      await existing.started;
      return { cluster: existing.coordinator, created: false };
    }
    const coordinator = new SimulatedCoordinator({
      name: spec.name,
      version: spec.version,
      startupDelayMs: spec.startupDelayMs,
      queryViewers: spec.queryViewers,
    });
    const entry: ClusterEntry = { coordinator, started: coordinator.start() };
    this.entries.set(spec.name, entry);
    try {
      await entry.started;
    } catch (error) {
      this.entries.delete(spec.name);
      throw error;
    }
    this.effects.append('cluster.created', {
      name: spec.name,
      detail: `version=${spec.version}, url=${coordinator.url}`,
    });
    return { cluster: coordinator, created: true };
  }

  /** Stops and forgets a cluster; false when there was none (idempotent). Its gateway backend stays. */
  async deleteCluster(name: string): Promise<boolean> {
    const entry = this.entries.get(name);
    if (!entry) return false;
    this.entries.delete(name);
    await entry.started.catch(() => undefined);
    await entry.coordinator.stop();
    this.effects.append('cluster.deleted', { name });
    return true;
  }

  /** Applies fault switches, then crash or recovery; journals each effect. */
  async applyFaults(name: string, faults: FaultRequest): Promise<SimulatedCoordinator> {
    const coordinator = this.cluster(name);
    if (!coordinator) throw new UnknownClusterError(name);
    const { crash, ...switches } = faults;
    if (Object.keys(switches).length > 0) {
      coordinator.setFaults(switches);
      this.effects.append('cluster.faults', { name, detail: JSON.stringify(switches) });
    }
    if (crash === true && !coordinator.faults.crashed) {
      await coordinator.crash();
      this.effects.append('cluster.crashed', { name });
    } else if (crash === false && coordinator.faults.crashed) {
      await coordinator.recover();
      this.effects.append('cluster.recovered', { name });
    }
    return coordinator;
  }

  /** Journal entries at or after `since` (epoch ms). */
  journal(since?: number): JournalEntry[] {
    return this.effects.entries(since);
  }

  /** Starts the initial clusters, registers them ACTIVE, then starts the gateway. */
  async start(clusters: SandboxClusterSpec[] = []): Promise<void> {
    for (const spec of clusters) {
      const { cluster } = await this.createCluster(spec);
      this.gateway.upsertBackend({
        name: spec.name,
        proxyTo: cluster.url,
        active: true,
        routingGroup: spec.routingGroup ?? 'adhoc',
      });
    }
    for (const replica of this.gatewayReplicas.values()) await replica.start();
    await this.balancer?.start(this.options.port ?? 0);
  }

  /** Stops the gateway and every cluster. */
  async stop(): Promise<void> {
    await this.balancer?.stop();
    await Promise.all([...this.gatewayReplicas.values()].map((replica) => replica.stop()));
    await Promise.all(this.clusters().map((coordinator) => coordinator.stop()));
  }
}

/** Starts a fleet: clusters first, then the gateway (port 0 = random; `cutover sandbox` passes 8080). */
export async function startSandboxFleet(options: SandboxFleetOptions = {}): Promise<SandboxFleet> {
  const fleet = new SandboxFleet(options);
  try {
    await fleet.start(options.clusters);
  } catch (error) {
    await Promise.all(fleet.clusters().map((coordinator) => coordinator.stop()));
    throw error;
  }
  return fleet;
}
