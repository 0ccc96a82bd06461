import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';
import type { VerifiedApproval } from '../activities/approvals';
import {
  bindingMismatch,
  parseApprovalPayload,
  PayloadError,
  signatureShapeProblem,
  type ApprovalClaims,
  type ApprovalSignature,
  type SignedAction,
} from '../signing/payload';
import { quick, verificationOptions } from './activity-options';
import type { OperatorTarget } from './operator-actions';

/**
 * Patch id of signed approvals: approve, promote and signed rollbacks ask the worker
 * (`verifyApproval`) who they are from before they apply. Upgrades whose history predates it apply
 * them at once, as they did.
 */
export const SIGNED_APPROVALS = 'signed-approvals';

/** The gate id of a step: `<index>:<kind>`, what a signed request answers. */
export function gateId(index: number, kind: string | undefined): string {
  return `${index}:${kind ?? 'done'}`;
}

/** An operator request that names who it is by, and may prove it. */
export interface SignableInput {
  by: string;
  signature?: ApprovalSignature;
}

/** How an operator action names its approver: what it signs, the gate it answers, and what a failed check does. */
export interface ApprovalRule<I extends SignableInput> {
  signedAction(input: I): SignedAction;
  gate(target: OperatorTarget): string;
  /** approve, promote: refused unless the worker accepts who asks. rollback: goes ahead unverified (stopping is always allowed). */
  required: boolean;
}

/** Who the request is by once checked: a timeline label ("alice (signature verified, key SHA256:...)"), or why it is refused. */
export type Authorization = { by: string } | { refused: string };

/**
 * What the workflow itself can refuse at once, before asking the worker: a `by` the plan does not
 * list, and a signature that is malformed, for another upgrade, run, action or gate, or replayed.
 * Update validators use it, so such requests never reach history.
 */
export function authorizationRefusal<I extends SignableInput>(
  target: OperatorTarget,
  rule: ApprovalRule<I>,
  input: I,
): string | undefined {
  const approvers = target.plan.approval.approvers;
  if (rule.required && approvers && !approvers.includes(input.by))
    return `${input.by} is not an approver (approvers: ${approvers.join(', ')})`;
  if (input.signature === undefined) return undefined;
  const claims = claimsOf(input.signature);
  if (typeof claims === 'string') return claims;
  return bindingMismatch(
    claims,
    {
      workflowId: target.status.id,
      runId: target.status.runId,
      action: rule.signedAction(input),
      gate: rule.gate(target),
      approver: input.by,
    },
    target.usedNonces,
  );
}

/**
 * Checks who a request is from: the workflow's own checks, then the worker's `verifyApproval`
 * (the policy's keys and groups, expiry, whether unsigned requests are allowed). An unsigned
 * rollback is taken as before, without asking. A signature's nonce is spent once presented.
 */
export async function authorize<I extends SignableInput>(
  target: OperatorTarget,
  rule: ApprovalRule<I>,
  input: I,
): Promise<Authorization> {
  const refusal = authorizationRefusal(target, rule, input);
  if (refusal) return rule.required ? { refused: refusal } : unverified(target, input, refusal);
  if (input.signature) target.useNonce((claimsOf(input.signature) as ApprovalClaims).nonce);
  else if (!rule.required) return { by: input.by };
  const action = rule.signedAction(input);
  try {
    const verified = await quick.verifyApproval.executeWithOptions(
      verificationOptions(`verify ${action} by ${input.by}`),
      [
        {
          workflowId: target.status.id,
          runId: target.status.runId,
          action,
          gate: rule.gate(target),
          by: input.by,
          routingGroup: target.plan.routingGroup,
          signature: input.signature,
        },
      ],
    );
    return { by: approverLabel(verified) };
  } catch (error) {
    const reason = verificationFailure(error);
    return rule.required ? { refused: reason } : unverified(target, input, reason);
  }
}

/** "alice (signature verified, key SHA256:...)" for a signed request, the plain name for an unsigned one. */
export function approverLabel(verified: VerifiedApproval): string {
  return verified.fingerprint
    ? `${verified.approver} (signature verified, key ${verified.fingerprint})`
    : verified.approver;
}

function unverified(target: OperatorTarget, input: SignableInput, reason: string): Authorization {
  target.note(
    `the signature of the rollback from ${input.by} was not verified (${reason}); the rollback goes ahead: stopping is always allowed`,
  );
  return { by: `${input.by} (signature not verified)` };
}

function claimsOf(signature: ApprovalSignature): ApprovalClaims | string {
  const shape = signatureShapeProblem(signature);
  if (shape) return shape;
  try {
    return parseApprovalPayload(signature.payload);
  } catch (error) {
    if (error instanceof PayloadError) return error.message;
    throw error;
  }
}

function verificationFailure(error: unknown): string {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (cause instanceof ApplicationFailure) return cause.message;
  if (cause instanceof TimeoutFailure) return 'the worker did not verify the request in time; send it again';
  return `the worker could not verify the request: ${cause instanceof Error ? cause.message : String(cause)}`;
}
