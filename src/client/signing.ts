import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import type { Client } from '@temporalio/client';
import type { Command } from 'commander';
import { durationMs } from '../plan/duration';
import { KeyFormatError, parsePrivateKey, type OpenSshPrivateKey } from '../signing/openssh';
import { ANY_GATE, type ApprovalSignature, type SignedAction } from '../signing/payload';
import { newNonce, signApproval } from '../signing/sign';
import { readFleet } from './commands/fleet-handle';
import { readUpgrade } from './commands/upgrade-handle';
import { UsageError } from './output';
import { RefusedError } from './upgrades';

/** Options of the verbs that can be signed (approve, promote, rollback). */
export interface SigningOptions {
  key?: string;
  expiresIn: string;
}

/** Environment variable naming the key file when --key is not given. */
export const SIGNING_KEY_VARIABLE = 'CUTOVER_SIGNING_KEY';

const LONGEST_EXPIRY_MS = 24 * 3600_000;
const STATUS_TIMEOUT_MS = 10_000;

/** Adds --key and --expires-in to a verb. */
export function withSigningOptions(command: Command): Command {
  return command
    .option('--key <path>', `sign with this OpenSSH ed25519 private key (default: $${SIGNING_KEY_VARIABLE})`)
    .option('--expires-in <duration>', 'how long the signature stays valid (at most 24h)', '10m');
}

/**
 * The operator's signing key from --key or CUTOVER_SIGNING_KEY, read before anything is sent;
 * undefined when neither is set (the request goes unsigned). Bad keys are bad usage (exit 2).
 */
export async function signingKeyOf(options: SigningOptions): Promise<OpenSshPrivateKey | undefined> {
  expiryMs(options.expiresIn);
  const named = options.key ?? process.env[SIGNING_KEY_VARIABLE];
  if (!named) return undefined;
  const path = named.startsWith('~/') ? `${homedir()}${named.slice(1)}` : named;
  const source = options.key ? `--key ${named}` : `${SIGNING_KEY_VARIABLE}=${named}`;
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(
      `cannot read the signing key (${source}): ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (code ?? 'unreadable')}; make one with \`ssh-keygen -t ed25519\``,
    );
  }
  try {
    return parsePrivateKey(text);
  } catch (error) {
    if (error instanceof KeyFormatError) throw new UsageError(`cannot sign with ${source}: ${error.message}`);
    throw error;
  }
}

/**
 * Signs `action` for the upgrade's run and the gate it is at now, both read from its `status`:
 * the worker refuses the signature for any other run or gate, after `expiresIn`, and a second time.
 */
export async function signRequest(
  client: Client,
  id: string,
  action: SignedAction,
  by: string,
  key: OpenSshPrivateKey,
  expiresIn: string,
): Promise<ApprovalSignature> {
  const { status, workerProblem } = await readUpgrade(client, id, STATUS_TIMEOUT_MS);
  return signAt(id, status ?? { problem: workerProblem }, action, by, key, expiresIn);
}

/** Signs `action` for a fleet's run and the gate it is at now (`<wave index>:approval`), read from its `fleetStatus`. */
export async function signFleetRequest(
  client: Client,
  id: string,
  action: SignedAction,
  by: string,
  key: OpenSshPrivateKey,
  expiresIn: string,
): Promise<ApprovalSignature> {
  const { status, workerProblem } = await readFleet(client, id, STATUS_TIMEOUT_MS);
  return signAt(id, status ?? { problem: workerProblem }, action, by, key, expiresIn);
}

/** What a signature binds, from a workflow's status (an upgrade's or a fleet's), or why that status is unknown. */
export type SigningTarget = { id: string; runId?: string; gate?: string } | { problem?: string };

/** Signs `action` for the run and gate of `target` (see signRequest). */
export function signAt(
  id: string,
  target: SigningTarget,
  action: SignedAction,
  by: string,
  key: OpenSshPrivateKey,
  expiresIn: string,
): ApprovalSignature {
  const verb = action === 'promote-full' ? 'promote' : action;
  if (!('id' in target))
    throw new RefusedError(
      `cannot sign the ${verb} of ${id}: ${target.problem ?? 'its status is unknown'} (the signature binds the run and gate its status names)`,
    );
  if (!target.runId || !target.gate)
    throw new RefusedError(
      `cannot sign the ${verb} of ${id}: its worker predates signed approvals (no run id and gate in its status); upgrade the workers or send it without --key`,
    );
  return signApproval(key, {
    workflowId: target.id,
    runId: target.runId,
    action,
    gate: action === 'rollback' ? ANY_GATE : target.gate,
    approver: by,
    expires: new Date(Date.now() + expiryMs(expiresIn)).toISOString(),
    nonce: newNonce(),
  });
}

function expiryMs(expiresIn: string): number {
  const ms = /^\d+(ms|s|m|h)$/.test(expiresIn) ? durationMs(expiresIn) : NaN;
  if (!(ms >= 1000 && ms <= LONGEST_EXPIRY_MS))
    throw new UsageError(
      `--expires-in must be a duration from 1s to 24h such as "10m" (got ${JSON.stringify(expiresIn)})`,
    );
  return ms;
}
