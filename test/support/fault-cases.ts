import assert from 'node:assert/strict';
import type { WorkflowHandle } from '@temporalio/client';
import { TrinoHttpClient } from '../../src/integrations/trino/client';
import type { SandboxFleet } from '../../src/sandbox/fleet';
import { approveUpdate, statusQuery, type UpgradeStatus } from '../../src/workflows/messages';

/** What the fault tests share: approving, long queries on blue, and the journal checks. */

export const inPhase = (phase: string, extra: (s: UpgradeStatus) => boolean = () => true) => (s: UpgradeStatus) => s.phase === phase && extra(s);
export const lastNote = (pattern: RegExp) => (s: UpgradeStatus) => pattern.test(s.timeline.at(-1)?.message ?? '');

/**
 * Approves every gate the upgrade reaches, not before `notBefore`, until it ends or `stop` aborts.
 * Each call is bounded and its errors ignored: the worker or the Temporal server may be away, and
 * a call on a client whose server was stopped may never settle.
 */
export async function approveWhenAsked(handle: () => WorkflowHandle, notBefore: Promise<void>, stop: AbortSignal): Promise<void> {
  const stopped = new Promise<undefined>((resolve) => stop.addEventListener('abort', () => resolve(undefined)));
  const bounded = <T>(call: () => Promise<T>): Promise<T | undefined> =>
    Promise.race([call().catch(() => undefined), stopped, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 10_000))]);
  while (!stop.aborted) {
    const status = await bounded(() => handle().query(statusQuery));
    if (status && (status.phase === 'SUCCEEDED' || status.phase === 'ROLLED_BACK' || status.phase === 'FAILED')) return;
    if (status?.awaitingApproval) {
      await Promise.race([notBefore, stopped]);
      if (stop.aborted) return;
      await bounded(() => handle().executeUpdate(approveUpdate, { args: [{ by: 'fault-tests' }] }));
    }
    await Promise.race([stopped, new Promise((resolve) => setTimeout(resolve, 200))]);
  }
}

/** Queries of 12 s started on blue before the flip: the drain has to wait for them. */
export async function startLongQueries(gatewayUrl: string, group: string): Promise<string[]> {
  const client = new TrinoHttpClient({ url: gatewayUrl, connections: 2 });
  try {
    const results = await Promise.all(
      ['night-batch', 'etl-report'].map((user) => client.execute('/* sandbox:duration=12s */ SELECT 1', { user, headers: { 'X-Trino-Routing-Group': group } })),
    );
    return results.map((result) => result.state);
  } finally {
    await client.close();
  }
}

/** A new backend is PENDING until the gateway's first health check; clients only start after that. */
export async function untilHealthy(fleet: SandboxFleet, name: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (fleet.gateway.backendState(name)?.trinoStatus !== 'HEALTHY') {
    if (Date.now() > deadline) throw new Error(`${name} never became HEALTHY`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** How often the fleet journaled `kind` for backend or cluster `name` since `since`. */
export function journalCount(fleet: SandboxFleet, since: number, kind: string, name: string): number {
  return fleet.journal(since).filter((entry) => entry.kind === kind && entry.name === name).length;
}

/** The group never lacked an active HEALTHY backend since `since`. */
export function assertAlwaysServed(fleet: SandboxFleet, since: number, group: string): void {
  assert.deepEqual(
    fleet.journal(since).filter((entry) => entry.kind === 'group.unserved' && entry.group === group),
    [],
    'the group always had an active HEALTHY backend',
  );
}

/** A finished upgrade of `group` (`<group>-blue` to `<group>-green`) changed everything exactly once. */
export function assertUpgradedOnce(fleet: SandboxFleet, since: number, group: string): void {
  const count = (kind: string, name: string) => journalCount(fleet, since, kind, name);
  assert.equal(count('cluster.created', `${group}-green`), 1, 'green provisioned once');
  assert.equal(count('backend.added', `${group}-green`) + count('backend.updated', `${group}-green`), 1, 'green registered once');
  assert.equal(count('backend.activated', `${group}-green`), 1, 'green activated once');
  assert.equal(count('backend.deactivated', `${group}-blue`), 1, 'blue deactivated once');
  assert.equal(count('cluster.deleted', `${group}-blue`), 1, 'blue torn down once');
  assertAlwaysServed(fleet, since, group);
}
