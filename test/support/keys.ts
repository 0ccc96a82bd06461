import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePrivateKey } from '../../src/signing/openssh';

/** The committed test-only key pair (test/fixtures/keys/README.md): never trusted anywhere real. */
export const FIXTURE_KEY = join(__dirname, '..', 'fixtures', 'keys', 'test-only-alice_ed25519');

export interface MadeKey {
  /** The private key file. */
  path: string;
  /** Its public key line, as a policy holds it. */
  publicKey: string;
  /** `ssh-keygen -l`'s SHA256 fingerprint. */
  fingerprint: string;
}

/** The public key line and ssh-keygen's own fingerprint of a private key file. */
export function describeKey(path: string): MadeKey {
  const publicKey = readFileSync(`${path}.pub`, 'utf8').trim();
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-f', `${path}.pub`], { encoding: 'utf8' }).split(' ')[1];
  return { path, publicKey, fingerprint };
}

/** A folder of keys made by the real ssh-keygen, removed by `remove()`. */
export function keyFolder(): {
  make(name: string, options?: { type?: string; passphrase?: string }): MadeKey;
  remove(): void;
} {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-keys-'));
  return {
    make(name, { type = 'ed25519', passphrase = '' } = {}) {
      const path = join(dir, name);
      execFileSync('ssh-keygen', ['-q', '-t', type, '-N', passphrase, '-C', `${name}@test`, '-f', path]);
      return describeKey(path);
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Strings that would betray a private key if they appeared anywhere (history, errors, output): the
 * seed in base64, base64url and hex, and every 24-character run of the key file's body.
 */
export function secretMarkers(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  const body = text
    .split('\n')
    .filter((line) => !line.startsWith('-----'))
    .join('');
  const chunks = (body.match(/.{24}/g) ?? []).slice(1); // the first run is the "openssh-key-v1" magic
  let seed: Buffer;
  try {
    seed = Buffer.from((parsePrivateKey(text).key.export({ format: 'jwk' }) as { d: string }).d, 'base64url');
  } catch {
    return chunks; // an encrypted key: its file is all there is to leak
  }
  return [
    seed.toString('base64').slice(0, 40),
    seed.toString('base64url').slice(0, 40),
    seed.toString('hex'),
    ...chunks,
  ];
}
