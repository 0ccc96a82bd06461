/**
 * `npx tsx scripts/real-stack/compare.ts`: sends the same requests (the ones cutover's integrations
 * and the query load make) to the real stack and to the sandbox fleet and prints every difference
 * in status codes, JSON shapes and protocol details. How the sandbox differences in
 * docs/real-stack.md were found.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { parseAllDocuments } from 'yaml';
import { sleep } from '../../src/devserver/wait';
import type { RoutingRule } from '../../src/integrations/gateway/types';
import { startSandboxFleet } from '../../src/sandbox/fleet';
import { REPO_ROOT } from './components';
import { progress, startRealStack } from './stack';

interface Exchange {
  step: string;
  status: number;
  body: unknown;
  headers?: Record<string, unknown>;
}

async function call(
  base: string,
  step: string,
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<Exchange> {
  const response = await request(`${base}${path}`, { method: method as 'GET', body, headers });
  const text = await response.body.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // text
  }
  const pick = ['set-cookie', 'content-type', 'via'];
  const picked: Record<string, unknown> = {};
  for (const name of pick) if (response.headers[name] !== undefined) picked[name] = response.headers[name];
  return { step, status: response.statusCode, body: parsed, headers: picked };
}

/** The JSON shape (keys and value types), with URLs and ids replaced, so the two sides compare. */
function shape(value: unknown, urls: Map<string, string>): unknown {
  if (Array.isArray(value)) return value.length === 0 ? [] : [shape(value[0], urls), `x${value.length}`];
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = shape((value as Record<string, unknown>)[key], urls);
    return out;
  }
  if (typeof value === 'string') {
    let text = value;
    for (const [url, label] of urls) text = text.split(url).join(label);
    if (/^\d{8}_\d{6}_\d{5}_\w{5}$/.test(text)) return '<queryId>';
    return text.length > 80 ? `${text.slice(0, 80)}…` : text;
  }
  if (typeof value === 'number') return value > 1e12 ? '<epoch-ms>' : value;
  return value;
}

async function scenario(gateway: string, blue: string, green: string): Promise<Exchange[]> {
  const json = { 'content-type': 'application/json' };
  const out: Exchange[] = [];
  const step = async (name: string, method: string, path: string, body?: string, headers?: Record<string, string>) =>
    out.push(await call(gateway, name, method, path, body, headers));
  await step('readyz', 'GET', '/trino-gateway/readyz');
  await step(
    'upsert blue (no externalUrl)',
    'POST',
    '/gateway/backend/modify/update',
    JSON.stringify({ name: 'trino-blue', proxyTo: blue, active: true, routingGroup: 'adhoc' }),
    json,
  );
  await step(
    'upsert green inactive',
    'POST',
    '/gateway/backend/modify/update',
    JSON.stringify({ name: 'trino-green', proxyTo: `${green}/`, active: false, routingGroup: 'adhoc' }),
    json,
  );
  await step('all', 'GET', '/gateway/backend/all');
  await step('active', 'GET', '/gateway/backend/active');
  await step('public backend', 'GET', '/api/public/backends/trino-green');
  await step('public unknown backend', 'GET', '/api/public/backends/nope');
  await sleep(5_000);
  await step('state of inactive green', 'GET', '/api/public/backends/trino-green/state');
  await step('state of unknown', 'GET', '/api/public/backends/nope/state');
  await step('activate unknown', 'POST', '/gateway/backend/activate/nope');
  await step('deactivate unknown', 'POST', '/gateway/backend/deactivate/nope');
  await step('statement', 'POST', '/v1/statement', 'SELECT 1', {
    'x-trino-user': 'alice',
    'x-trino-routing-group': 'adhoc',
  });
  const first = out.at(-1)!.body as { nextUri?: string };
  let nextUri = first.nextUri;
  let polls = 0;
  while (nextUri) {
    const reply = await call('', `poll ${polls}`, 'GET', nextUri, undefined, { 'x-trino-user': 'alice' });
    if (polls === 0) out.push(reply);
    nextUri = (reply.body as { nextUri?: string }).nextUri;
    polls++;
    if (!nextUri) out.push({ ...reply, step: 'last poll' });
  }
  await step('statement without user', 'POST', '/v1/statement', 'SELECT 1');
  await step('query history', 'GET', '/trino-gateway/api/queryHistory');
  await step('rules', 'GET', '/webapp/getRoutingRules');
  await step("entity types (ADMIN only: how cutover tells it may read every user's history)", 'GET', '/entity');
  await step(
    'update unknown rule',
    'POST',
    '/webapp/updateRoutingRules',
    JSON.stringify({
      name: 'nope',
      description: 'x',
      priority: 1,
      condition: 'true',
      actions: ['result.put("routingGroup", "x")'],
    }),
    json,
  );
  const canary = (rules: unknown): RoutingRule =>
    ((rules as { data: RoutingRule[] }).data ?? []).find((rule) => rule.name === 'cutover-canary-adhoc')!;
  const original = canary(out.find((e) => e.step === 'rules')!.body);
  const everyone = { ...original, condition: original.condition.replace(/< 0$/, '< 100') };
  await step('update canary rule to 100%', 'POST', '/webapp/updateRoutingRules', JSON.stringify(everyone), json);
  await step('rules after update', 'GET', '/webapp/getRoutingRules');
  await sleep(4_000);
  await step('statement while canary group has no backend', 'POST', '/v1/statement', 'SELECT 2', {
    'x-trino-user': 'bob',
    'x-trino-source': 'compare',
  });
  await step('query history after canary statement', 'GET', '/trino-gateway/api/queryHistory');
  const firstId = (out.find((e) => e.step === 'statement')!.body as { id?: string }).id ?? '';
  const requests: [string, string | undefined][] = [
    ['defaults', '{}'],
    ['page 1 size 2', '{"page":1,"size":2}'],
    ['page 2 size 2', '{"page":2,"size":2}'],
    ['page 0 size 1', '{"page":0,"size":1}'],
    ['size 0', '{"size":0}'],
    ['size -1', '{"size":-1}'],
    ['page and size as strings', '{"page":"2","size":"1"}'],
    ['fractional page', '{"page":1.7,"size":1}'],
    ['user alice', '{"user":"alice"}'],
    ['empty user', '{"user":""}'],
    ['source compare', '{"source":"compare"}'],
    ['queryId of the first statement', JSON.stringify({ queryId: firstId })],
    ['unknown field', '{"page":1,"size":1,"routingGroup":"nope"}'],
    ['no body', undefined],
  ];
  for (const [name, body] of requests)
    await step(`findQueryHistory ${name}`, 'POST', '/webapp/findQueryHistory', body, json);
  await step('restore canary rule', 'POST', '/webapp/updateRoutingRules', JSON.stringify(original), json);
  await step('delete green', 'POST', '/gateway/backend/modify/delete', 'trino-green', { 'content-type': 'text/plain' });
  await step('delete unknown', 'POST', '/gateway/backend/modify/delete', 'nope', { 'content-type': 'text/plain' });
  await step('all after delete', 'GET', '/gateway/backend/all');
  return out;
}

async function coordinator(url: string): Promise<Exchange[]> {
  return [
    await call(url, 'coordinator /v1/info', 'GET', '/v1/info'),
    await call(url, 'coordinator /v1/query', 'GET', '/v1/query', undefined, { 'x-trino-user': 'cutover' }),
    await call(url, 'coordinator /v1/query no user', 'GET', '/v1/query'),
    await call(url, 'coordinator /ui/api/stats', 'GET', '/ui/api/stats'),
  ];
}

async function main(): Promise<void> {
  const stack = await startRealStack();
  const rules = parseAllDocuments(readFileSync(join(REPO_ROOT, 'deploy', 'gateway', 'routing-rules.yaml'), 'utf8'))
    .map((doc) => doc.toJSON() as RoutingRule | null)
    .filter((rule): rule is RoutingRule => rule !== null);
  const fleet = await startSandboxFleet({ healthIntervalMs: 1000, rules, rulesRefreshMs: 2000 });
  try {
    const sbBlue = (await fleet.createCluster({ name: 'trino-blue', version: '470' })).cluster;
    const sbGreen = (await fleet.createCluster({ name: 'trino-green', version: '476' })).cluster;
    const realUrls = new Map([
      [stack.gateway.url, '<gateway>'],
      [stack.blue.url, '<blue>'],
      [stack.green.url, '<green>'],
      ['127.0.0.1', '<host>'],
    ]);
    const sbUrls = new Map([
      [fleet.gatewayUrl, '<gateway>'],
      [sbBlue.url, '<blue>'],
      [sbGreen.url, '<green>'],
      ['127.0.0.1', '<host>'],
    ]);
    const [real, sandbox] = await Promise.all([
      scenario(stack.gateway.url, stack.blue.url, stack.green.url).then(async (x) => [
        ...x,
        ...(await coordinator(stack.blue.url)),
      ]),
      scenario(fleet.gatewayUrl, sbBlue.url, sbGreen.url).then(async (x) => [...x, ...(await coordinator(sbBlue.url))]),
    ]);
    let differences = 0;
    for (let i = 0; i < Math.max(real.length, sandbox.length); i++) {
      const r = real[i];
      const s = sandbox[i];
      const rs = JSON.stringify({
        status: r?.status,
        body: shape(r?.body, realUrls),
        headers: shape(r?.headers, realUrls),
      });
      const ss = JSON.stringify({
        status: s?.status,
        body: shape(s?.body, sbUrls),
        headers: shape(s?.headers, sbUrls),
      });
      if (rs !== ss) {
        differences++;
        process.stdout.write(`\n== ${r?.step ?? s?.step}\n  real:    ${rs}\n  sandbox: ${ss}\n`);
      }
    }
    process.stdout.write(`\n${differences} differing exchanges of ${real.length}\n`);
  } finally {
    await fleet.stop();
    await stack.stop();
  }
}

main().catch((error) => {
  progress(`${(error as Error).stack ?? error}`);
  process.exit(1);
});
