import type { GatewayApi } from '../gateway/types';
import type { CanarySelector } from './selector';

/** What a traffic router needs to know about the canary; names only, the worker holds the credentials. */
export interface CanarySettings {
  /** The routing group canary users are sent to, for modes that route by rule. */
  canaryGroup: string;
  /** The gateway routing rule a rule-based mode rewrites. */
  ruleName: string;
  /** The gateway's rules refresh period: a rule change counts as applied after it. */
  rulesRefresh: string;
  /** The traffic the share applies to (plan `canary.selector`); absent: every user's queries. */
  selector?: CanarySelector;
  /** The plan's routing group: the rule takes only its requests (absent in calls scheduled before canaries were scoped). */
  routingGroup?: string;
  /** The gateway's `routing.defaultRoutingGroup` (plan `gateway.defaultRoutingGroup`, default adhoc). */
  defaultRoutingGroup?: string;
}

/** A share of new queries as the gateway gives it, and how long until its router acts on it. */
export interface AppliedWeight {
  percent: number;
  appliedAfterMs: number;
}

/**
 * One way of moving a share of new queries to green (as Argo Rollouts' traffic routing reconcilers
 * and Flagger's routers do). The plain members are read by the workflow and the plan's validation;
 * `router` does the gateway I/O, inside activities.
 */
export interface TrafficMode {
  /** One line for the plan reference: how the mode splits traffic. */
  readonly summary: string;
  /** The backend that takes canary traffic: green itself, or an entry of its own beside green. */
  canaryEntry(green: string): string;
  /** True when the canary entry is a gateway backend of its own: registered with green, removed once green takes 100%. */
  readonly separateEntry: boolean;
  /** True when the mode rewrites the plan's routing rule, which then belongs to one upgrade at a time. */
  readonly rewritesRule: boolean;
  /** Why the mode cannot give green `weight`% with this many blue backends (e.g. "is not reachable ..."), or undefined. */
  unreachableWeight(weight: number, blueBackends: number): string | undefined;
  /** How a shift reads in the timeline once applied. */
  describeShift(shift: {
    percent: number;
    appliedPercent: number;
    entry: string;
    routingGroup: string;
    canaryGroup: string;
    selector?: CanarySelector;
  }): string;
  router(gateway: GatewayApi, settings: CanarySettings): TrafficRouter;
}

/** The gateway side of a traffic mode; every method is idempotent. */
export interface TrafficRouter {
  /** Registers the canary entry inactive, so the gateway health-checks it (a no-op when green is the entry). */
  register(entry: string, url: string): Promise<void>;
  /** Gives the (active, HEALTHY) canary entry `percent` (< 100) of new queries. */
  setWeight(percent: number, blueBackends: number): Promise<AppliedWeight>;
  /** Sends no new query to the canary any more (the caller deactivates its entry). */
  reset(): Promise<AppliedWeight>;
  /** The share the gateway's rule gives as it stores it now (read back); undefined without a rule or in another shape. */
  readWeight(): Promise<number | undefined>;
}
