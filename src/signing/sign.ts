import { randomBytes, sign, verify } from 'node:crypto';
import type { OpenSshPrivateKey, OpenSshPublicKey } from './openssh';
import { formatApprovalPayload, type ApprovalClaims, type ApprovalSignature } from './payload';

/** A fresh nonce: 16 random bytes, base64url. */
export function newNonce(): string {
  return randomBytes(16).toString('base64url');
}

/** Signs a request's claims with the operator's key; the result holds no private key material. */
export function signApproval(key: OpenSshPrivateKey, claims: ApprovalClaims): ApprovalSignature {
  const payload = formatApprovalPayload(claims);
  return {
    payload,
    signature: sign(null, Buffer.from(payload, 'utf8'), key.key).toString('base64'),
    fingerprint: key.publicKey.fingerprint,
  };
}

/** True when `signed.signature` is `key`'s ed25519 signature of `signed.payload`. */
export function signatureMatches(signed: ApprovalSignature, key: OpenSshPublicKey): boolean {
  const signature = Buffer.from(signed.signature, 'base64');
  if (signature.length !== 64) return false;
  return verify(null, Buffer.from(signed.payload, 'utf8'), key.key, signature);
}
