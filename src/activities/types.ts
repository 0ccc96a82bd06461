import type { ProvisionerConfig } from '../plan/schema';
import type { ExpectedBackend } from './backend-ownership';
import type { GatewayApi } from '../integrations/gateway/types';
import type { ClosableProvisioner } from '../integrations/provisioners';
import type { TrinoClusterApi } from '../integrations/trino/types';
import type { Webhook } from '../integrations/webhook/types';
import type { HealthSnapshot } from '../observations';
import type { ShadowConfig } from '../plan/schema';
import type { WorkerPolicy } from '../policy/schema';
import type { ShadowQueryOptions } from '../shadow/run';
import type { CompareOptions, ShadowComparison, ShadowRun } from '../shadow/types';

/** Where the gateway is; credentials are the worker's, never part of an activity input. */
export interface GatewayTarget {
  url: string;
  requestTimeout: string;
  /** The replicas `url` balances (the plan's `gateway.replicas`); absent: `url` is the only gateway to ask. */
  replicas?: string[];
}

/** A backend and the coordinator address it proxies to. */
export interface BackendRef {
  name: string;
  proxyTo: string;
}

export interface ProvisionerTarget {
  config: ProvisionerConfig;
  gatewayUrl: string;
}

/** The integrations activities use; the worker builds them from its environment. */
export interface ActivityDeps {
  gateway(target: GatewayTarget): GatewayApi;
  trino(url: string): TrinoClusterApi;
  /** A provisioner for one activity call; the caller closes it. */
  provisioner(target: ProvisionerTarget, staticUrl: string | undefined, signal: AbortSignal): ClosableProvisioner;
  /** The worker policy in force (it can change on SIGHUP); undefined when the worker runs without one. */
  policy(): WorkerPolicy | undefined;
  /** The webhooks of the policy in force (none without a policy). */
  webhooks(): Webhook[];
  /** The worker's clock (epoch ms) that change windows are judged by; default Date.now. */
  now?(): number;
  /** Runs and compares shadow-validation queries (src/shadow/); a worker without it refuses the shadow step. */
  shadowEngine?: ShadowEngine;
}

/** The shadow-validation engine: run a query on one cluster, compare two runs, tell a non-deterministic query. */
export interface ShadowEngine {
  run(client: TrinoClusterApi, sql: string, options: ShadowQueryOptions): Promise<ShadowRun>;
  compare(
    sql: string,
    blue: ShadowRun,
    green: ShadowRun,
    options: CompareOptions,
    blueAgain?: ShadowRun,
  ): ShadowComparison;
  /** Why the query cannot be compared (now(), random(), LIMIT without ORDER BY, ...), or undefined. */
  isNondeterministic(sql: string): string | undefined;
}

export interface ShadowGreenInput {
  gateway: GatewayTarget;
  routingGroup: string;
  /** Blue's coordinator and green's, each queried at its own address (never through the gateway). */
  blueUrl: string;
  greenUrl: string;
  /** Every active blue backend of the group: the pairs are spread over them (absent in runs that predate it: `blueUrl` only). */
  blues?: BackendRef[];
  shadow: ShadowConfig;
}

export interface InspectGatewayInput {
  gateway: GatewayTarget;
  routingGroup: string;
  blue?: string[];
  green: string;
  /** Green's address when the plan gives it (else the provisioner tells it later). */
  greenUrl?: string;
  /**
   * Canary modes with an entry of their own: the group canary users go to, which must not serve
   * anything else; `requestAnalyzer` when the plan's selector reads the query's shape (the gateway must analyse requests);
   * `defaultRoutingGroup` the gateway's default group, for the rule text the preflight asks operators to add.
   */
  canary?: { group: string; entry: string; rule?: string; requestAnalyzer?: boolean; defaultRoutingGroup?: string };
}
export interface InspectGatewayResult {
  blue: BackendRef[];
  blueVersion?: string;
}

export interface CheckQueryVisibilityInput {
  /** Blue's backends, whose coordinators the drain will poll. */
  backends: BackendRef[];
}

export interface InspectGreenInput {
  provisioner: ProvisionerTarget;
  name: string;
  url?: string;
}

export interface ProvisionGreenInput {
  provisioner: ProvisionerTarget;
  name: string;
  version: string;
  url?: string;
  routingGroup: string;
}

export interface VerifyGreenInput {
  url: string;
  version: string;
  interval: string;
  timeout: string;
  smokeQueries: string[];
  minActiveWorkers: number;
}

export interface RegisterGreenInput {
  gateway: GatewayTarget;
  name: string;
  url: string;
  routingGroup: string;
}

export interface WaitForGatewayHealthyInput {
  gateway: GatewayTarget;
  name: string;
  interval: string;
  timeout: string;
}
export interface GatewayHealthResult {
  status: string;
  /** False when the gateway does not health-check inactive backends (releases before 17). */
  monitored: boolean;
}

export interface ShiftTrafficInput {
  gateway: GatewayTarget;
  /** Backend that takes the traffic. */
  to: string;
  /** Backends that stop getting new queries once `to` is active and HEALTHY. */
  from: string[];
  interval: string;
  timeout: string;
  /** The group `to` and `from` must be in; absent in calls scheduled before ownership checks (then nothing is checked). */
  routingGroup?: string;
  /** The address `to` must proxy to, when known. */
  toProxyTo?: string;
}

export interface BakeGreenInput {
  gateway: GatewayTarget;
  name: string;
  url: string;
  version: string;
  duration: string;
  interval: string;
  maxConsecutiveFailures: number;
}
/** How a bake went; `watchedMs` and `unwatchedMs` are absent in results recorded before bakes counted only watched time. */
export type BakeGreenResult = (
  { healthy: true; snapshot: HealthSnapshot } | { healthy: false; reason: string; snapshot: HealthSnapshot }
) & {
  /** Bake time green was watched. */
  watchedMs?: number;
  /** Time green went unwatched (worker outage, gateway unreachable) and the bake made up. */
  unwatchedMs?: number;
};

export interface DrainInput {
  backends: BackendRef[];
  interval: string;
  /** Give up after this long and report what still runs; without it, wait until drained. */
  timeout?: string;
  /**
   * A backend whose coordinator cannot be reached at all for this long counts as drained: a crashed
   * coordinator has no query left to finish. Without it, an unreachable backend is waited for.
   */
  unreachableFor?: string;
  /**
   * Drained only this long after the last query ended (on top of `timeout`): with Trino's spooling
   * protocol a client fetches a finished query's result segments from the coordinator afterwards.
   */
  resultGrace?: string;
}
export interface DrainResult {
  drained: boolean;
  remaining: number;
  waitedMs: number;
}

export interface RemoveBackendInput {
  gateway: GatewayTarget;
  name: string;
  /** What the backend must be for cutover to remove it (absent in calls scheduled before ownership checks). */
  expected?: ExpectedBackend;
}
/** Whether the backend is gone; one that is not cutover's is left as it is, and why. */
export interface RemoveBackendResult {
  removed: boolean;
  leftBecause?: string;
}

export interface TeardownInput {
  provisioner: ProvisionerTarget;
  name: string;
  url?: string;
}

export interface RetireInput {
  gateway: GatewayTarget;
  provisioner: ProvisionerTarget;
  backends: BackendRef[];
  teardown: boolean;
  /** Blue's routing group; a backend found elsewhere or at another address is not retired (absent before ownership checks). */
  routingGroup?: string;
}

export interface ReadRoutingGroupInput {
  gateway: GatewayTarget;
  routingGroup: string;
  /** Backends to report wherever they are (or that they are gone). */
  names: string[];
}
/** Backends of the group and the named ones, as the gateway lists them now. */
export type RoutingGroupState = { name: string; routingGroup: string; active: boolean }[];
