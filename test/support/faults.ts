import assert from 'node:assert/strict';
import type { WorkflowHandle } from '@temporalio/client';
import { sleep, untilHealthy } from '../../src/devserver/wait';
import { TrinoHttpClient } from '../../src/integrations/trino/client';
import { canaryReadyRules } from '../../src/sandbox/canary-rules';
import { startSandboxFleet, type SandboxFleet } from '../../src/sandbox/fleet';
import { approveUpdate, statusQuery, type UpgradeStatus } from '../../src/workflows/messages';

/** What the fault tests share: status predicates, approving, long queries on blue, and the gateway's end state. */

export const inPhase =
  (phase: string, extra: (s: UpgradeStatus) => boolean = () => true) =>
  (s: UpgradeStatus) =>
    s.phase === phase && extra(s);
export const lastNote = (pattern: RegExp) => (s: UpgradeStatus) => pattern.test(s.timeline.at(-1)?.message ?? '');

/**
 * Approves every gate the upgrade reaches, not before `notBefore`, until it ends or `stop` aborts.
 * `handle` is a function so a test can hand out the handle of a reconnected client. Each call is
 * bounded and its errors ignored: the worker or the Temporal server may be away, and a call on a
 * client whose server was stopped may never settle.
 */
export async function approveWhenAsked(
  handle: WorkflowHandle | (() => WorkflowHandle),
  notBefore: Promise<void>,
  stop: AbortSignal,
): Promise<void> {
  const current = typeof handle === 'function' ? handle : () => handle;
  const stopped = new Promise<undefined>((resolve) => stop.addEventListener('abort', () => resolve(undefined)));
  const bounded = <T>(call: () => Promise<T>): Promise<T | undefined> =>
    Promise.race([
      Promise.resolve()
        .then(call)
        .catch(() => undefined),
      stopped,
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 10_000)),
    ]);
  while (!stop.aborted) {
    const status = await bounded(() => current().query(statusQuery));
    if (status && (status.phase === 'SUCCEEDED' || status.phase === 'ROLLED_BACK' || status.phase === 'FAILED')) return;
    if (status?.awaitingApproval) {
      await Promise.race([notBefore, stopped]);
      if (stop.aborted) return;
      await bounded(() => current().executeUpdate(approveUpdate, { args: [{ by: 'fault-tests' }] }));
    }
    await Promise.race([stopped, sleep(200)]);
  }
}

/**
 * Two queries of `seconds` started through the gateway in `group` (or, without a group, at a
 * coordinator's own address): a drain has to wait for them. Resolves to their final states.
 */
export async function startLongQueries(url: string, group: string | undefined, seconds = 12): Promise<string[]> {
  const client = new TrinoHttpClient({ url, connections: 2 });
  try {
    const results = await Promise.all(
      ['night-batch', 'etl-report'].map((user) =>
        client.execute(`/* sandbox:duration=${seconds}s */ SELECT 1`, {
          user,
          ...(group ? { headers: { 'X-Trino-Routing-Group': group } } : {}),
        }),
      ),
    );
    return results.map((result) => result.state);
  } finally {
    await client.close();
  }
}

/** `[name, active]` of every gateway backend, sorted by name, as the gateway's API lists them. */
export async function gatewayBackends(fleet: SandboxFleet): Promise<[string, boolean][]> {
  const backends = (await (await fetch(`${fleet.gatewayUrl}/gateway/backend/all`)).json()) as {
    name: string;
    active: boolean;
  }[];
  return backends.sort((a, b) => a.name.localeCompare(b.name)).map((backend) => [backend.name, backend.active]);
}

/** Runs one `SELECT version()` through the gateway in `group` and returns the version that answered. */
export async function versionThroughGateway(gatewayUrl: string, group: string): Promise<string> {
  const client = new TrinoHttpClient({ url: gatewayUrl, connections: 1 });
  try {
    const result = await client.execute('SELECT version()', {
      user: 'probe',
      headers: { 'X-Trino-Routing-Group': group },
    });
    assert.equal(result.state, 'FINISHED', `a query through the gateway finished: ${result.error?.message ?? ''}`);
    return String(result.rows?.[0]?.[0]);
  } finally {
    await client.close();
  }
}

/** The gateway lists `<group>-green` alone in `group`, and active. */
export function assertGreenAlone(fleet: SandboxFleet, group: string): void {
  assert.deepEqual(
    fleet.gateway
      .backends()
      .filter((backend) => backend.routingGroup === group)
      .map((backend) => [backend.name, backend.active]),
    [[`${group}-green`, true]],
    'green alone serves the group',
  );
}

/**
 * A fleet for one fault case: `<group>-blue` (470) active and HEALTHY in `group`, gateway health
 * every 100 ms and FILE rules ready for a routing-rule canary into `<group>-canary`.
 */
export async function startBlueFleet(group: string): Promise<SandboxFleet> {
  const fleet = await startSandboxFleet({
    healthIntervalMs: 100,
    rulesRefreshMs: 300,
    rules: canaryReadyRules(`${group}-canary`),
    clusters: [{ name: `${group}-blue`, version: '470', routingGroup: group }],
  });
  try {
    await untilHealthy(fleet, `${group}-blue`);
  } catch (error) {
    await fleet.stop();
    throw error;
  }
  return fleet;
}
