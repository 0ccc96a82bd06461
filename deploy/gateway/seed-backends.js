'use strict';
// gateway-seed (docker-compose.yml): registers the blue cluster in Trino Gateway on the stack's
// first start, so `cutover start` finds an active backend in the routing group.
//
// It only acts on a gateway that knows no backend at all. After an upgrade the gateway lists
// trino-green (and perhaps a retired trino-blue); re-adding blue as active then would mix two
// Trino versions in one routing group, so every later `docker compose up` leaves the gateway alone.
//
// Environment: GATEWAY_URL, SEED_BACKEND (JSON backend: name, proxyTo, active, routingGroup,
// externalUrl), CUTOVER_GATEWAY_USER, CUTOVER_GATEWAY_PASSWORD_FILE (a user with the API role).

const fs = require('node:fs');

const GATEWAY_URL = (process.env.GATEWAY_URL || 'http://trino-gateway:8080').replace(/\/+$/, '');
const ATTEMPTS = 30;
const DELAY_MS = 2000;

function log(message) {
  console.log(`gateway-seed: ${message}`);
}

function fail(message) {
  console.error(`gateway-seed: ${message}`);
  process.exit(1);
}

function required(name) {
  const value = process.env[name];
  if (!value) fail(`${name} is not set`);
  return value;
}

function readSecret(name) {
  const file = required(`${name}_FILE`);
  let value;
  try {
    value = fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    fail(`cannot read ${file} (${error.code || error.message}); is the secret defined?`);
  }
  if (!value) fail(`${file} is empty: set ${name} before docker compose up (docs/production.md)`);
  return value;
}

const backend = (() => {
  try {
    return JSON.parse(required('SEED_BACKEND'));
  } catch (error) {
    return fail(`SEED_BACKEND is not valid JSON: ${error.message}`);
  }
})();
const user = required('CUTOVER_GATEWAY_USER');
const password = readSecret('CUTOVER_GATEWAY_PASSWORD');
const authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function call(method, path, body) {
  const response = await fetch(`${GATEWAY_URL}${path}`, {
    method,
    headers: { authorization, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status === 403) fail(`${method} ${path}: 403, the gateway rejected user "${user}" (check the password)`);
  if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status} ${text.slice(0, 200)}`);
  const json = text ? JSON.parse(text) : undefined;
  // A missing role is HTTP 200 with {"code":401} on Trino Gateway.
  if (json && !Array.isArray(json) && typeof json === 'object' && json.code === 401) {
    fail(`${method} ${path}: user "${user}" lacks the API role (presetUsers privileges in deploy/gateway/config.yaml)`);
  }
  return json;
}

async function main() {
  for (let attempt = 1; ; attempt += 1) {
    try {
      const backends = await call('GET', '/gateway/backend/all');
      if (!Array.isArray(backends)) throw new Error('GET /gateway/backend/all did not return a list');
      if (backends.length > 0) {
        const names = backends.map((b) => `${b.name}${b.active ? '' : ' (inactive)'}`).join(', ');
        log(`the gateway already knows ${names}; nothing to seed`);
        return;
      }
      await call('POST', '/gateway/backend/modify/add', backend);
      log(
        `registered ${backend.name} -> ${backend.proxyTo} in routing group ${backend.routingGroup} (active: ${backend.active})`,
      );
      return;
    } catch (error) {
      if (attempt >= ATTEMPTS) fail(`giving up after ${attempt} attempts: ${error.message}`);
      log(`attempt ${attempt} failed (${error.message}); retrying`);
      await new Promise((resolve) => setTimeout(resolve, DELAY_MS));
    }
  }
}

main().catch((error) => fail(error.message));
