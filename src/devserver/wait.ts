import type { WorkflowHandle } from '@temporalio/client';
import type { SandboxFleet } from '../sandbox/fleet';
import { FINAL_PHASES, statusQuery, type Phase, type UpgradeStatus } from '../workflows/messages';

/** The waits that tests, the bench and the scripts share against a local stack. */

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `predicate` every `intervalMs` until it holds. A predicate that throws counts as "not yet"
 * (a server still starting); past `timeoutMs` the error names `what` (a function is asked only
 * then, to describe the state it saw) and the last error the predicate threw.
 */
export async function until(
  what: string | (() => string),
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  intervalMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await predicate()) return;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const description = typeof what === 'function' ? what() : what;
      const cause =
        lastError === undefined
          ? ''
          : ` (last error: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}${cause}`);
    }
    await sleep(intervalMs);
  }
}

/** A new backend is PENDING until the sandbox gateway's first health check (of every replica); clients only start after that. */
export function untilHealthy(fleet: SandboxFleet, name: string, timeoutMs = 10_000): Promise<void> {
  return until(
    `${name} HEALTHY in the gateway`,
    () => [...fleet.gatewayReplicas.values()].every((replica) => replica.backendState(name)?.trinoStatus === 'HEALTHY'),
    timeoutMs,
  );
}

/**
 * Polls the upgrade's `status` query until `accept` holds and returns that status. A query that
 * fails (no workflow task ran yet, no worker answers for a moment) is asked again; an upgrade that
 * ended without `accept` holding fails at once. Failures show the last status seen.
 */
export async function waitForStatus(
  handle: WorkflowHandle,
  accept: (status: UpgradeStatus) => boolean,
  what: string,
  timeoutMs = 60_000,
): Promise<UpgradeStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: UpgradeStatus | undefined;
  const seen = () =>
    `last status: ${JSON.stringify(last && { phase: last.phase, step: last.step, timeline: last.timeline.slice(-4) })}`;
  while (Date.now() < deadline) {
    const status = await handle.query(statusQuery).catch(() => undefined);
    if (status) {
      last = status;
      if (accept(status)) return status;
      if (FINAL_PHASES.has(status.phase))
        throw new Error(`the upgrade ended (${status.phase}) before ${what}; ${seen()}`);
    }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}; ${seen()}`);
}

/** Waits until the upgrade reaches `phase`. */
export function waitForPhase(handle: WorkflowHandle, phase: Phase, timeoutMs = 60_000): Promise<UpgradeStatus> {
  return waitForStatus(handle, (status) => status.phase === phase, `phase ${phase}`, timeoutMs);
}
