import { trafficMode } from '../integrations/traffic';
import { defaultRuleName } from '../integrations/traffic/routing-rule';
import type { UpgradePlan } from '../plan/schema';

/**
 * What an upgrade holds alone while it runs: the routing groups it changes (its own and a canary
 * group) and the routing rule it rewrites, each per gateway. A lease is a small workflow whose id
 * names the thing held, so Temporal's workflow-id uniqueness keeps a second holder out, whatever
 * the upgrade's own workflow id. Shared by the CLI, the workflow and the activities; no I/O here.
 */

/** Workflow type of a lease (src/workflows/lease.ts). */
export const LEASE_WORKFLOW_TYPE = 'upgradeLease';
/** The signal that ends a lease: its upgrade has ended. */
export const LEASE_RELEASE_SIGNAL = 'release';

/** The upgrade holding a lease: its workflow id and the first run of its continue-as-new chain. */
export interface LeaseOwner {
  workflowId: string;
  firstExecutionRunId: string;
}

export type LeaseKind = 'routing group' | 'routing rule';

/** One thing held alone: a routing group or a routing rule of a gateway. */
export interface Lease {
  /** The lease workflow's id, derived from what is held and never from the upgrade's id. */
  id: string;
  kind: LeaseKind;
  name: string;
  /** The gateway, as gatewayIdentity() spells it. */
  gateway: string;
}

/** Input (and memo) of a lease workflow. */
export interface LeaseInput {
  owner: LeaseOwner;
  lease: Lease;
}

/** What an upgrade of a plan changes: its gateway, its routing groups and the rule it rewrites. */
export interface Claims {
  gatewayUrl: string;
  routingGroups: string[];
  ruleName?: string;
}

/**
 * The gateway's identity in lease ids: its URL with the host lower-cased, the default port and a
 * trailing slash dropped. Plans carry no credentials in it (the schema refuses user info). Two
 * spellings of one gateway (an IP and a host name) stay two identities.
 */
export function gatewayIdentity(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname.replace(/\/+$/, '')}`;
}

/** The routing rule a plan's canary rewrites, if its traffic mode rewrites one. */
export function ruleOf(plan: UpgradePlan): string | undefined {
  const canary = plan.canary;
  if (!canary || !trafficMode(canary.traffic).rewritesRule) return undefined;
  return canary.ruleName ?? defaultRuleName(plan.routingGroup);
}

/** What an upgrade of `plan` holds while it runs. */
export function claimsOf(plan: UpgradePlan): Claims {
  const canary = plan.canary;
  const canaryGroup =
    canary && trafficMode(canary.traffic).separateEntry
      ? (canary.canaryGroup ?? `${plan.routingGroup}-canary`)
      : undefined;
  return {
    gatewayUrl: plan.gateway.url,
    routingGroups: canaryGroup ? [plan.routingGroup, canaryGroup] : [plan.routingGroup],
    ruleName: ruleOf(plan),
  };
}

/** The leases of `claims`, in one fixed order (routing groups, then the rule). */
export function leasesOf(claims: Claims): Lease[] {
  const gateway = gatewayIdentity(claims.gatewayUrl);
  const lease = (kind: LeaseKind, name: string): Lease => ({
    id: `cutover-lease:${kind === 'routing group' ? 'group' : 'rule'}:${name}@${gateway}`,
    kind,
    name,
    gateway,
  });
  return [
    ...claims.routingGroups.map((group) => lease('routing group', group)),
    ...(claims.ruleName ? [lease('routing rule', claims.ruleName)] : []),
  ];
}

/** Why a start is refused: the lease is held by the running upgrade `owner`. */
export function heldMessage(lease: Lease, owner: string): string {
  return lease.kind === 'routing group'
    ? `routing group ${lease.name} of gateway ${lease.gateway} already has a running upgrade ${owner} (one upgrade per routing group, whatever its workflow id); watch it with \`cutover watch ${owner}\`, or roll it back with \`cutover rollback ${owner} --reason ...\``
    : `routing rule ${lease.name} of gateway ${lease.gateway} is used by the running upgrade ${owner} (two upgrades never share a rule); set canary.ruleName to a rule of its own, or wait until \`cutover watch ${owner}\` shows it ended`;
}
