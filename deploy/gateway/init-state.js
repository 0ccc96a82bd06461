'use strict';
// gateway-init (docker-compose.yml): prepares the gateway's state volumes before it starts.
// Runs as root in the plain node image; idempotent, so it is safe on every `docker compose up`.
//
// 1. Form authentication needs an RSA key pair to sign login tokens. No key belongs in git, so one
//    is generated here on first start (PKCS#8 private key, X.509 SubjectPublicKeyInfo public key,
//    the PEM forms LbKeyProvider reads) and kept in the gateway-keys volume.
// 2. The routing rules file must be writable by the gateway (uid 1000): the routing-rules API
//    rewrites it in place. The repository copy is a read-only seed; it is copied into the
//    gateway-rules volume only when the volume has no rules yet, so rule changes made by cutover
//    (a canary share in flight) survive restarts.

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const KEYS_DIR = process.env.GATEWAY_KEYS_DIR || '/state/keys';
const RULES_DIR = process.env.GATEWAY_RULES_DIR || '/state/rules';
const SEED_RULES = process.env.SEED_RULES || '/seed/routing-rules.yaml';
const RULES_FILE = path.join(RULES_DIR, path.basename(SEED_RULES));
const OWNER_UID = Number(process.env.GATEWAY_UID || 1000);
const OWNER_GID = Number(process.env.GATEWAY_GID || 1000);

function log(message) {
  console.log(`gateway-init: ${message}`);
}

function ensureKeys() {
  const privatePath = path.join(KEYS_DIR, 'private.pem');
  const publicPath = path.join(KEYS_DIR, 'public.pem');
  fs.mkdirSync(KEYS_DIR, { recursive: true });
  if (fs.existsSync(privatePath) && fs.existsSync(publicPath)) {
    log(`keeping the existing key pair in ${KEYS_DIR}`);
  } else {
    const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    fs.writeFileSync(privatePath, privateKey, { mode: 0o600 });
    fs.writeFileSync(publicPath, publicKey, { mode: 0o644 });
    log(`generated a new RSA key pair in ${KEYS_DIR} (existing UI sessions become invalid)`);
  }
  for (const target of [KEYS_DIR, privatePath, publicPath]) fs.chownSync(target, OWNER_UID, OWNER_GID);
  fs.chmodSync(privatePath, 0o600);
}

function ensureRules() {
  fs.mkdirSync(RULES_DIR, { recursive: true });
  if (fs.existsSync(RULES_FILE)) {
    log(`keeping the live routing rules in ${RULES_FILE} (reset the gateway-rules volume to re-seed)`);
  } else {
    // Write to a temporary name and rename, so the gateway never sees a half-written file.
    const temporary = `${RULES_FILE}.tmp`;
    fs.copyFileSync(SEED_RULES, temporary);
    fs.renameSync(temporary, RULES_FILE);
    log(`seeded ${RULES_FILE} from ${SEED_RULES}`);
  }
  for (const target of [RULES_DIR, RULES_FILE]) fs.chownSync(target, OWNER_UID, OWNER_GID);
  fs.chmodSync(RULES_FILE, 0o644);
}

try {
  ensureKeys();
  ensureRules();
} catch (error) {
  console.error(`gateway-init: failed: ${error && error.message ? error.message : error}`);
  process.exit(1);
}
