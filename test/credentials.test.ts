import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fixedPolicy, validatePolicy } from '../src/policy/load';
import type { WorkerPolicy } from '../src/policy/schema';
import { integrationsFromEnv } from '../src/worker/integrations';
import { json, rejectsWith, ScriptedServer } from './support/scripted-server';

/** The worker's own secrets, as an operator sets them. */
const WORKER_ENV = {
  CUTOVER_GATEWAY_USER: 'cutover',
  CUTOVER_GATEWAY_PASSWORD: 'gateway-s3cret',
  CUTOVER_TRINO_USER: 'cutover',
  CUTOVER_TRINO_PASSWORD: 'trino-s3cret',
};
const GATEWAY_BASIC = `Basic ${Buffer.from('cutover:gateway-s3cret').toString('base64')}`;
const TRINO_BASIC = `Basic ${Buffer.from('cutover:trino-s3cret').toString('base64')}`;

/**
 * A local listener on 127.0.0.1 records what each client sends: credentials reach only the
 * origins the worker policy names, over plain HTTP only to hosts it allows that for.
 */
describe('credentials never leave their origin', () => {
  const listener = new ScriptedServer();
  let port: string;

  before(async () => {
    await listener.start();
    port = new URL(listener.url).port;
    listener.reset((_req, res) => json(res, 200, []));
  });
  after(() => listener.stop());

  const policy = (text: object): WorkerPolicy => validatePolicy(text, 'test policy');

  /** The Authorization header the listener received from the gateway client built for `url`. */
  async function gatewayAuthorization(url: string, current: WorkerPolicy | undefined): Promise<string | undefined> {
    const deps = integrationsFromEnv(WORKER_ENV, fixedPolicy(current));
    listener.seen.length = 0;
    try {
      await deps.gateway({ url, requestTimeout: '2s' }).listBackends();
    } finally {
      await deps.close();
    }
    assert.equal(listener.seen.length, 1);
    return listener.seen[0].headers.authorization;
  }

  test('the gateway client sends credentials to a gateway origin in the policy (plain http allowed for its host)', async () => {
    const current = policy({ gateways: [`http://127.0.0.1:${port}`], plainHttpHosts: ['127.0.0.1'] });
    assert.equal(await gatewayAuthorization(listener.url, current), GATEWAY_BASIC);
  });

  test('the gateway client sends none to an origin outside the policy', async () => {
    const current = policy({
      gateways: ['https://gateway.example.com', 'http://127.0.0.1:1'],
      plainHttpHosts: ['127.0.0.1'],
    });
    assert.equal(await gatewayAuthorization(listener.url, current), undefined);
  });

  test('the gateway client sends none over plain http to a host not in plainHttpHosts', async () => {
    const current = policy({
      gateways: [`http://127.0.0.1:${port}`, `http://localhost:${port}`],
      plainHttpHosts: ['localhost'],
    });
    assert.equal(await gatewayAuthorization(listener.url, current), undefined);
  });

  test('without a policy no credentials go anywhere, and a 401 says why', async () => {
    assert.equal(await gatewayAuthorization(listener.url, undefined), undefined);

    const deps = integrationsFromEnv(WORKER_ENV, fixedPolicy(undefined));
    listener.reset((_req, res) => json(res, 401, { error: 'unauthorized' }));
    try {
      const error = await rejectsWith(
        deps.gateway({ url: listener.url, requestTimeout: '2s' }).listBackends(),
        'GatewayAuthenticationFailed',
        false,
      );
      assert.match(error.message, /runs without a worker policy/);
    } finally {
      listener.reset((_req, res) => json(res, 200, []));
      await deps.close();
    }
  });

  test('a Trino client sends its password only to a coordinator origin in the policy, and X-Trino-User always', async () => {
    const cases: [WorkerPolicy | undefined, string | undefined][] = [
      [
        policy({
          gateways: ['https://gw.example.com'],
          coordinators: ['http://127.0.0.1:*'],
          plainHttpHosts: ['127.0.0.1'],
        }),
        TRINO_BASIC,
      ],
      [policy({ gateways: [`http://127.0.0.1:${port}`], plainHttpHosts: ['127.0.0.1'] }), undefined],
      [policy({ gateways: ['https://gw.example.com'], coordinators: ['http://127.0.0.1:*'] }), undefined],
      [undefined, undefined],
    ];
    for (const [current, expected] of cases) {
      const deps = integrationsFromEnv(WORKER_ENV, fixedPolicy(current));
      listener.seen.length = 0;
      try {
        await deps.trino(listener.url).listQueries();
      } finally {
        await deps.close();
      }
      assert.equal(listener.seen[0].headers.authorization, expected, JSON.stringify(current?.coordinators));
      assert.equal(listener.seen[0].headers['x-trino-user'], 'cutover');
    }
  });

  test('a policy reload decides for the next client: credentials follow the policy in force', async () => {
    let current: WorkerPolicy | undefined;
    const deps = integrationsFromEnv(WORKER_ENV, { current: () => current });
    const gateway = () => deps.gateway({ url: listener.url, requestTimeout: '2s' });
    try {
      listener.seen.length = 0;
      await gateway().listBackends();
      current = policy({ gateways: [`http://127.0.0.1:${port}`], plainHttpHosts: ['127.0.0.1'] });
      await gateway().listBackends();
      current = policy({ gateways: ['https://gateway.example.com'] });
      await gateway().listBackends();
    } finally {
      await deps.close();
    }
    assert.deepEqual(
      listener.seen.map((req) => req.headers.authorization),
      [undefined, GATEWAY_BASIC, undefined],
    );
  });
});
