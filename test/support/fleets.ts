import type { Client, WorkflowHandle } from '@temporalio/client';
import { fleetRunHistories } from '../../src/client/fleets';
import { untilHealthy } from '../../src/devserver/wait';
import { startSandboxFleet, type SandboxFleet, type SandboxFleetOptions } from '../../src/sandbox/fleet';
import {
  FINAL_FLEET_PHASES,
  fleetStatusQuery,
  type FleetStatus,
  type FleetWorkflow,
} from '../../src/workflows/fleet/messages';

/** What the fleet tests share: a fleet plan document, sandbox groups served by blue, and what the fleet started. */

/** Settings of every group's upgrade: fast, no approval, blue kept warm 1 s; `overrides` replace top-level keys. */
export function fleetBase(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    strategy: 'blue-green',
    green: { provisioner: { type: 'sandbox' } },
    health: { interval: '200ms', timeout: '20s', smokeQueries: ['SELECT 1'] },
    approval: { required: false },
    analysis: { minQueries: 0, interval: '200ms' },
    bake: '1s',
    drain: { timeout: '1m', interval: '200ms', resultGrace: '0s' },
    retire: { keepBlueFor: '1s', teardown: true },
    ...overrides,
  };
}

/** A document as `cutover fleet start` sends it: the fleet plan as written, groups upgraded to Trino 480. */
export function fleetDocument(
  gatewayUrl: string,
  name: string,
  groups: unknown[],
  waves: unknown[],
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    name,
    gateway: { url: gatewayUrl, requestTimeout: '5s' },
    version: '480',
    base: fleetBase(),
    groups,
    waves,
    ...extra,
  };
}

/** Options of a sandbox fleet whose every group is served by `<group>-blue` (Trino 470), health checked every 100 ms. */
export function groupsFleetOptions(groups: string[]): SandboxFleetOptions {
  return {
    healthIntervalMs: 100,
    clusters: groups.map((group) => ({ name: `${group}-blue`, version: '470', routingGroup: group })),
  };
}

/** Waits until every group's blue is HEALTHY in the gateway. */
export async function untilGroupsHealthy(fleet: SandboxFleet, groups: string[]): Promise<void> {
  for (const group of groups) await untilHealthy(fleet, `${group}-blue`);
}

/** A sandbox fleet started here (the caller stops it) whose groups are served by their blue, HEALTHY. */
export async function startGroupsFleet(groups: string[]): Promise<SandboxFleet> {
  const fleet = await startSandboxFleet(groupsFleetOptions(groups));
  try {
    await untilGroupsHealthy(fleet, groups);
  } catch (error) {
    await fleet.stop();
    throw error;
  }
  return fleet;
}

/** The gateway's backends of `group`: `[name, active]`, sorted. */
export function backendsOf(fleet: SandboxFleet, group: string): [string, boolean][] {
  return fleet.gateway
    .backends()
    .filter((backend) => backend.routingGroup === group)
    .map((backend): [string, boolean] => [backend.name, backend.active])
    .sort((a, b) => a[0].localeCompare(b[0]));
}

/** Child workflows the fleet's history started, by workflow id, over every run of the fleet (continue-as-new). */
export async function childStarts(handle: WorkflowHandle<FleetWorkflow>, client: Client) {
  const counts = new Map<string, number>();
  const histories = await fleetRunHistories(client, handle.workflowId);
  for (const history of histories)
    for (const event of history.events ?? []) {
      const id = event.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId;
      if (id) counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  const lengths = histories.map((history) => history.events?.length ?? 0);
  return {
    counts,
    events: lengths.reduce((sum, length) => sum + length, 0),
    runs: histories.length,
    longestRun: Math.max(...lengths),
  };
}

/**
 * Polls the fleet's status until `predicate`; a query the workflow does not answer yet is retried,
 * and a fleet that ended (or closed) first fails the wait at once.
 */
export async function untilFleet(
  handle: WorkflowHandle<FleetWorkflow>,
  what: string,
  predicate: (status: FleetStatus) => boolean,
  timeoutMs = 90_000,
): Promise<FleetStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: FleetStatus | undefined;
  while (Date.now() < deadline) {
    last = await handle.query(fleetStatusQuery).catch(() => last);
    if (last && predicate(last)) return last;
    if (last && FINAL_FLEET_PHASES.has(last.phase)) throw new Error(`the fleet ended ${last.phase} before ${what}`);
    if (!last && (await handle.describe()).status.name !== 'RUNNING')
      throw new Error(`the fleet closed before ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(
    `timed out waiting for ${what}; last: ${JSON.stringify(last?.members.map((m) => [m.routingGroup, m.state, m.phase]))}`,
  );
}
