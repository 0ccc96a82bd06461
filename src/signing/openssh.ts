import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';

/**
 * OpenSSH ed25519 keys as `ssh-keygen -t ed25519` writes them: the private key file
 * (`openssh-key-v1`, PROTOCOL.key) and the public key line (`ssh-ed25519 AAAA... comment`).
 */

/** A key file or key line that cannot be used. Its message never quotes key material. */
export class KeyFormatError extends Error {}

export interface OpenSshPublicKey {
  key: KeyObject;
  /** `SHA256:...`, as `ssh-keygen -l` prints it. */
  fingerprint: string;
  comment: string;
}

export interface OpenSshPrivateKey {
  key: KeyObject;
  publicKey: OpenSshPublicKey;
}

const KEY_TYPE = 'ssh-ed25519';
const MAGIC = Buffer.from('openssh-key-v1\0', 'latin1');
const BEGIN = '-----BEGIN OPENSSH PRIVATE KEY-----';
const END = '-----END OPENSSH PRIVATE KEY-----';
const MAKE_ONE = 'make one with `ssh-keygen -t ed25519`';

/** `SHA256:` and the unpadded base64 of the SHA-256 of the public key blob, like `ssh-keygen -l`. */
export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** Parses an OpenSSH public key line (`ssh-ed25519 AAAA... comment`). */
export function parsePublicKey(line: string): OpenSshPublicKey {
  const [type, data, ...comment] = line.trim().split(/\s+/);
  if (type !== KEY_TYPE)
    throw new KeyFormatError(`not an ed25519 public key (${type ? `type ${type}` : 'empty'}): ${MAKE_ONE}`);
  if (!data || !/^[A-Za-z0-9+/]+={0,2}$/.test(data))
    throw new KeyFormatError('the public key line has no base64 key after "ssh-ed25519"');
  const blob = Buffer.from(data, 'base64');
  return publicKeyFromBlob(blob, comment.join(' '));
}

/**
 * Parses an unencrypted OpenSSH ed25519 private key file. Encrypted keys are refused: cutover
 * never asks for a passphrase.
 */
export function parsePrivateKey(text: string): OpenSshPrivateKey {
  const trimmed = text.trim();
  if (trimmed.startsWith(`${KEY_TYPE} `) || trimmed.startsWith('ssh-'))
    throw new KeyFormatError('this is a public key; give the private key file (the one without .pub)');
  if (!trimmed.startsWith(BEGIN) || !trimmed.endsWith(END)) {
    const pem = /^-----BEGIN ([A-Z ]+)-----/.exec(trimmed)?.[1];
    throw new KeyFormatError(
      pem
        ? `this is a ${pem}, not an OpenSSH ed25519 key: ${MAKE_ONE}`
        : `not an OpenSSH private key file (no "${BEGIN}" line): ${MAKE_ONE}`,
    );
  }
  const body = trimmed.slice(BEGIN.length, -END.length).replace(/\s+/g, '');
  const data = Buffer.from(body, 'base64');
  try {
    return privateKeyFromData(data);
  } finally {
    data.fill(0);
  }
}

function privateKeyFromData(data: Buffer): OpenSshPrivateKey {
  if (data.length < MAGIC.length || !data.subarray(0, MAGIC.length).equals(MAGIC))
    throw new KeyFormatError('not an openssh-key-v1 private key (bad magic); the file may be damaged');
  const reader = new SshReader(data.subarray(MAGIC.length));
  const cipher = reader.text();
  reader.text(); // kdf name
  reader.bytes(); // kdf options
  if (cipher !== 'none')
    throw new KeyFormatError(
      `this key is encrypted (${nameOf(cipher)}): decrypt it with ssh-keygen -p or use an unencrypted key`,
    );
  if (reader.uint32() !== 1) throw new KeyFormatError('the key file holds more than one key; give a file with one');
  const publicKey = publicKeyFromBlob(reader.bytes(), '');
  const secret = new SshReader(reader.bytes());
  if (secret.uint32() !== secret.uint32()) throw new KeyFormatError('the private key section is damaged');
  const type = secret.text();
  if (type !== KEY_TYPE) throw new KeyFormatError(`the key type is ${nameOf(type)}, not ssh-ed25519: ${MAKE_ONE}`);
  const pub = secret.bytes();
  const pair = secret.bytes();
  const comment = secret.text();
  if (pair.length !== 64 || !pair.subarray(32).equals(pub) || !pub.equals(rawPublicKey(publicKey.key)))
    throw new KeyFormatError('the private key does not match its public key; the file may be damaged');
  const key = createPrivateKey({
    key: { kty: 'OKP', crv: 'Ed25519', d: pair.subarray(0, 32).toString('base64url'), x: pub.toString('base64url') },
    format: 'jwk',
  });
  return { key, publicKey: { ...publicKey, comment } };
}

function publicKeyFromBlob(blob: Buffer, comment: string): OpenSshPublicKey {
  const reader = new SshReader(blob);
  const type = reader.text();
  if (type !== KEY_TYPE) throw new KeyFormatError(`the key type is ${nameOf(type)}, not ssh-ed25519: ${MAKE_ONE}`);
  const raw = reader.bytes();
  if (raw.length !== 32 || !reader.atEnd()) throw new KeyFormatError('the ed25519 public key is damaged');
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
  return { key, fingerprint: fingerprintOf(blob), comment };
}

/** A type or cipher name read from a file, shown only when it looks like one (a damaged file could hold anything). */
function nameOf(value: string): string {
  return /^[a-z0-9@.-]{1,40}$/.test(value) ? value : 'unknown type';
}

function rawPublicKey(key: KeyObject): Buffer {
  return Buffer.from((key.export({ format: 'jwk' }) as { x: string }).x, 'base64url');
}

/** Reads SSH wire format: uint32 and length-prefixed strings. */
class SshReader {
  private offset = 0;

  constructor(private readonly data: Buffer) {}

  uint32(): number {
    if (this.offset + 4 > this.data.length) throw new KeyFormatError('the key is truncated');
    const value = this.data.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  bytes(): Buffer {
    const length = this.uint32();
    if (this.offset + length > this.data.length) throw new KeyFormatError('the key is truncated');
    const value = this.data.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  text(): string {
    return this.bytes().toString('latin1');
  }

  atEnd(): boolean {
    return this.offset === this.data.length;
  }
}
