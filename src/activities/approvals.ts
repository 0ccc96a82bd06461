import { ApplicationFailure } from '@temporalio/activity';
import type { PolicyApprover, WorkerPolicy } from '../policy/schema';
import { KeyFormatError, parsePublicKey, type OpenSshPublicKey } from '../signing/openssh';
import {
  APPROVAL_REFUSED,
  bindingMismatch,
  parseApprovalPayload,
  PayloadError,
  type ApprovalClaims,
  type ApprovalSignature,
  type SignedAction,
} from '../signing/payload';
import { signatureMatches } from '../signing/sign';
import type { ActivityDeps } from './types';

/** Longest a signature may stay valid: a signed approval is for now, not for next week. */
export const MAX_SIGNATURE_LIFETIME_MS = 24 * 3600_000;

/** An operator's approve, promote or rollback, and what it must be bound to. */
export interface VerifyApprovalInput {
  workflowId: string;
  /** The upgrade's first run id. */
  runId: string;
  action: SignedAction;
  /** The gate open now (`<step>:<kind>`), or `any` for a rollback. */
  gate: string;
  /** Who the request says it is by. */
  by: string;
  routingGroup: string;
  signature?: ApprovalSignature;
}

/** Who the worker found the request to be by. */
export interface VerifiedApproval {
  approver: string;
  /** The signing key's fingerprint; absent for an unsigned request the policy allows. */
  fingerprint?: string;
}

/** The worker's side of signed approvals: it alone holds the policy (approvers, their keys, whether signatures are required). */
export function approvalActivities(deps: ActivityDeps) {
  return {
    /**
     * Checks an approve, promote or rollback against the worker policy: the signature (key of the
     * named approver, payload bound to this run, gate and action, not expired), the approver's
     * routing groups, and whether unsigned requests are allowed. A refusal is a non-retryable
     * ApprovalRefused failure whose message says why.
     */
    async verifyApproval(input: VerifyApprovalInput): Promise<VerifiedApproval> {
      const verdict = checkApproval(deps.policy(), input, Date.now());
      if ('refused' in verdict) throw ApplicationFailure.nonRetryable(verdict.refused, APPROVAL_REFUSED);
      return verdict;
    },
  };
}

/** The decision of verifyApproval at time `now`, without the failure wrapping. */
export function checkApproval(
  policy: WorkerPolicy | undefined,
  input: VerifyApprovalInput,
  now: number,
): VerifiedApproval | { refused: string } {
  const { by, action, routingGroup, signature } = input;
  const approving = action !== 'rollback';
  if (!signature) {
    if (!policy || !approving) return { approver: by };
    if (policy.requireSignedApprovals)
      return {
        refused: `this worker requires signed approvals: ${commandOf(action, input.workflowId)} --key ~/.ssh/id_ed25519`,
      };
    if (policy.approvers.length > 0 && !policy.approvers.some((a) => a.name === by && groupMatches(a, routingGroup)))
      return { refused: notAnApprover(policy, by, routingGroup) };
    return { approver: by };
  }

  let claims: ApprovalClaims;
  try {
    claims = parseApprovalPayload(signature.payload);
  } catch (error) {
    if (error instanceof PayloadError) return { refused: error.message };
    throw error;
  }
  const mismatch = bindingMismatch(claims, { ...input, approver: by });
  if (mismatch) return { refused: mismatch };
  const named = (policy?.approvers ?? []).filter((approver) => approver.name === by);
  if (named.length === 0)
    return {
      refused: `${by} has no key in the worker policy, so the signature cannot be verified; the worker's operators add approvers' public keys to its policy`,
    };
  const keys: { approver: PolicyApprover; key: OpenSshPublicKey }[] = [];
  for (const approver of named) {
    try {
      keys.push({ approver, key: parsePublicKey(approver.publicKey) });
    } catch (error) {
      if (!(error instanceof KeyFormatError)) throw error;
      return { refused: `the worker policy's public key of ${by} cannot be used (${error.message}); fix the policy` };
    }
  }
  const match = keys.find(({ key }) => key.fingerprint === signature.fingerprint);
  if (!match)
    return {
      refused: `wrong key: ${signature.fingerprint} is not ${by}'s key in the worker policy (${keys.map(({ key }) => key.fingerprint).join(', ')})`,
    };
  if (!signatureMatches(signature, match.key))
    return { refused: `the signature does not match its payload and ${by}'s key ${match.key.fingerprint}` };
  const expires = Date.parse(claims.expires);
  if (expires <= now)
    return {
      refused: `the signature expired at ${claims.expires} (${Math.ceil((now - expires) / 1000)} s ago); sign again`,
    };
  if (expires - now > MAX_SIGNATURE_LIFETIME_MS)
    return {
      refused: `the signature expires at ${claims.expires}, more than 24h ahead; sign again with a shorter --expires-in`,
    };
  if (approving && !groupMatches(match.approver, routingGroup))
    return {
      refused: `${by} may not approve routing group ${routingGroup} (groups in the worker policy: ${match.approver.groups.join(', ')})`,
    };
  return { approver: by, fingerprint: match.key.fingerprint };
}

/** The CLI line that sends `action` (to show how to sign it). */
function commandOf(action: SignedAction, id: string): string {
  return action === 'promote-full' ? `cutover promote ${id} --full` : `cutover ${action} ${id}`;
}

function notAnApprover(policy: WorkerPolicy, by: string, routingGroup: string): string {
  const names = [...new Set(policy.approvers.filter((a) => groupMatches(a, routingGroup)).map((a) => a.name))];
  return `${by} is not an approver of routing group ${routingGroup} in the worker policy (${names.length > 0 ? `approvers: ${names.join(', ')}` : 'it names none for this group'})`;
}

/** True when one of the approver's group patterns (`*` matches any run of characters) matches the routing group. */
function groupMatches(approver: PolicyApprover, routingGroup: string): boolean {
  return approver.groups.some((pattern) =>
    new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`).test(routingGroup),
  );
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
