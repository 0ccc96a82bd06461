/**
 * The text an operator signs to approve, promote or roll back one upgrade. Pure code (no Node
 * modules): the workflow checks the binding itself, the worker's activity checks the signature.
 *
 *     cutover-approval v1
 *     workflow: cutover-adhoc
 *     run: 0198c0de-...            (the upgrade's first run id: the same across continue-as-new)
 *     action: approve              (approve | promote | promote-full | rollback)
 *     gate: 3:approval             (step index and kind the request answers; "any" for rollback)
 *     approver: alice
 *     expires: 2025-06-01T12:10:00.000Z
 *     nonce: 9x3V...               (random; one use per upgrade)
 *
 * Lines end with "\n" and the text has no trailing newline; any other spelling is refused, so
 * there is one text per request.
 */

/** What a signed request asks for; `promote-full` skips every remaining gate. */
export type SignedAction = 'approve' | 'promote' | 'promote-full' | 'rollback';
export const SIGNED_ACTIONS: readonly SignedAction[] = ['approve', 'promote', 'promote-full', 'rollback'];

/** The gate a rollback answers: none in particular (stopping is allowed at any step). */
export const ANY_GATE = 'any';

/** What a signature binds. */
export interface ApprovalClaims {
  workflowId: string;
  /** The upgrade's first run id (`firstExecutionRunId`), unchanged by continue-as-new. */
  runId: string;
  action: SignedAction;
  /** `<step index>:<step kind>` of the step the request answers, or `any`. */
  gate: string;
  approver: string;
  /** ISO time after which the worker refuses the signature. */
  expires: string;
  /** Random, so that a signature is good for one request of one upgrade. */
  nonce: string;
}

/** What a signed request carries beside its `by`: no private key material, only the signed text, its signature and the key's fingerprint. */
export interface ApprovalSignature {
  /** The exact signed text (formatApprovalPayload). */
  payload: string;
  /** Base64 ed25519 signature of the payload's UTF-8 bytes. */
  signature: string;
  /** `SHA256:...` of the signing key, as `ssh-keygen -l` prints it. */
  fingerprint: string;
}

/** Failure type of a refused approve, promote or rollback (non-retryable: the same request meets the same answer). */
export const APPROVAL_REFUSED = 'ApprovalRefused';

/** A payload that is not a cutover approval of this version. */
export class PayloadError extends Error {}

const HEADER = 'cutover-approval v1';
const MAX_LENGTH = 2048;
const LINES: readonly (readonly [label: string, field: keyof ApprovalClaims])[] = [
  ['workflow', 'workflowId'],
  ['run', 'runId'],
  ['action', 'action'],
  ['gate', 'gate'],
  ['approver', 'approver'],
  ['expires', 'expires'],
  ['nonce', 'nonce'],
];

const PRINTABLE = /^[^\s\p{Cc}](?:[^\p{Cc}]*[^\s\p{Cc}])?$/u;
const GATE = /^(?:\d{1,4}:[A-Za-z]{1,40}|any)$/;
const NONCE = /^[A-Za-z0-9_-]{16,128}$/;

/** The canonical text of a request's claims. */
export function formatApprovalPayload(claims: ApprovalClaims): string {
  return [HEADER, ...LINES.map(([label, field]) => `${label}: ${claims[field]}`)].join('\n');
}

/** Reads a payload back; refuses anything that is not exactly what formatApprovalPayload writes. */
export function parseApprovalPayload(text: string): ApprovalClaims {
  if (typeof text !== 'string' || text.length > MAX_LENGTH)
    throw new PayloadError(`the signed payload must be a text of at most ${MAX_LENGTH} characters`);
  const [header, ...lines] = text.split('\n');
  if (header !== HEADER) throw new PayloadError(`the signed payload does not start with "${HEADER}"`);
  if (lines.length !== LINES.length)
    throw new PayloadError(`the signed payload must have the lines ${LINES.map(([label]) => label).join(', ')}`);
  const values: Record<string, string> = {};
  LINES.forEach(([label, field], index) => {
    const prefix = `${label}: `;
    const line = lines[index];
    if (!line.startsWith(prefix))
      throw new PayloadError(`line ${index + 2} of the signed payload must be "${label}: ..."`);
    const value = line.slice(prefix.length);
    if (!PRINTABLE.test(value)) throw new PayloadError(`the signed payload's ${label} is empty or not printable`);
    values[field] = value;
  });
  const claims = values as unknown as ApprovalClaims;
  if (!SIGNED_ACTIONS.includes(claims.action))
    throw new PayloadError(`the signed payload's action must be one of ${SIGNED_ACTIONS.join(', ')}`);
  if (!GATE.test(claims.gate)) throw new PayloadError('the signed payload\'s gate must be "<step>:<kind>" or "any"');
  if (!NONCE.test(claims.nonce))
    throw new PayloadError("the signed payload's nonce must be 16 to 128 base64url characters");
  const expires = new Date(claims.expires);
  if (Number.isNaN(expires.getTime()) || expires.toISOString() !== claims.expires)
    throw new PayloadError("the signed payload's expiry must be an ISO time such as 2025-06-01T12:10:00.000Z");
  return claims;
}

/** The shape of a signature as it arrives in a request (from the CLI, or JSON typed into the Temporal UI). */
export function signatureShapeProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null)
    return 'the signature must be an object {payload, signature, fingerprint}';
  const { payload, signature, fingerprint } = value as Record<string, unknown>;
  if (typeof payload !== 'string' || typeof signature !== 'string' || typeof fingerprint !== 'string')
    return 'the signature must have the strings payload, signature and fingerprint';
  if (!/^SHA256:[A-Za-z0-9+/]{43}$/.test(fingerprint)) return "the signature's fingerprint must look like SHA256:...";
  if (!/^[A-Za-z0-9+/]{86}==$/.test(signature)) return 'the signature must be a base64 ed25519 signature';
  return undefined;
}

/** What the request must be bound to: this upgrade, this run, this action, the gate open now, the request's `by`. */
export type ExpectedBinding = Pick<ApprovalClaims, 'workflowId' | 'runId' | 'action' | 'gate' | 'approver'>;

/**
 * Why the claims do not bind this request, or undefined when they do. `used` holds the nonces
 * this upgrade already saw (the workflow knows them; the worker does not).
 */
export function bindingMismatch(
  claims: ApprovalClaims,
  expected: ExpectedBinding,
  used: ReadonlySet<string> = new Set(),
): string | undefined {
  if (claims.workflowId !== expected.workflowId)
    return `the signature is for upgrade ${claims.workflowId}, not ${expected.workflowId}`;
  if (claims.runId !== expected.runId)
    return `the signature is for another run of ${expected.workflowId} (run ${claims.runId}, this one is ${expected.runId}); sign again`;
  if (used.has(claims.nonce))
    return `the signature was already used in this upgrade (nonce ${claims.nonce}): a signature is good for one request; sign again`;
  if (claims.action !== expected.action) return `the signature is for ${claims.action}, not ${expected.action}`;
  if (claims.gate !== expected.gate)
    return `the signature answers gate ${claims.gate}, but the upgrade is at ${expected.gate}; sign again`;
  if (claims.approver !== expected.approver)
    return `the signature names approver ${claims.approver}, but the request is by ${expected.approver}`;
  return undefined;
}
