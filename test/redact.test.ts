import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TrinoGatewayClient } from '../src/integrations/gateway/client';
import { cap, redact } from '../src/integrations/redact';
import { TrinoHttpClient } from '../src/integrations/trino/client';
import { json, rejectsWith, ScriptedServer } from './support/scripted-server';

describe('redact and cap', () => {
  test('secrets are removed, the rest of the text stays', () => {
    const cases: [string, string][] = [
      ['Authorization: Basic dXNlcjpwYXNz\nHost: gw', 'Authorization: [redacted]\nHost: gw'],
      ['proxy-authorization: Negotiate YIIabc', 'proxy-authorization: [redacted]'],
      ['{"Authorization":"Bearer abc.def","ok":1}', '{"Authorization":"[redacted]","ok":1}'],
      ['Cookie: Trino-UI-Token=abc; other=1', 'Cookie: [redacted]'],
      ['set-cookie: session=abc; Path=/', 'set-cookie: [redacted]'],
      ['retry with Bearer eyJhbGciOiJIUzI1NiJ9 later', 'retry with Bearer [redacted] later'],
      ['Basic authentication is required', 'Basic authentication is required'],
      ['jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln end', 'jwt [redacted] end'],
      ['https://admin:hunter2@gw.example.com/api', 'https://[redacted]@gw.example.com/api'],
      ['GET /x?user=bob&token=abc123&y=2', 'GET /x?user=bob&token=[redacted]&y=2'],
      [
        'password=hunter2 PASSWORD: "two words" db_secret=x',
        'password=[redacted] PASSWORD: "[redacted]" db_secret=[redacted]',
      ],
      ['{"password":"hunter2","user":"bob"}', '{"password":"[redacted]","user":"bob"}'],
      ['CUTOVER_GATEWAY_TOKEN=abc api-key: k1', 'CUTOVER_GATEWAY_TOKEN=[redacted] api-key: [redacted]'],
      ['-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----\nnext', '[redacted]\nnext'],
      ['installing trino-green 480 in adhoc', 'installing trino-green 480 in adhoc'],
    ];
    for (const [text, expected] of cases) assert.equal(redact(text), expected, text);
  });

  test('long runs of text cost linear time', () => {
    const started = Date.now();
    for (const text of ['a'.repeat(1_000_000), 'a.'.repeat(500_000), 'token'.repeat(200_000), 'x://'.repeat(250_000)]) {
      redact(text);
    }
    assert.ok(Date.now() - started < 2_000, `took ${Date.now() - started} ms`);
  });

  test('cap keeps the start and says how much was cut', () => {
    assert.equal(cap('short', 10), 'short');
    assert.equal(cap('x'.repeat(15), 10), `${'x'.repeat(10)}… [5 more characters cut]`);
  });
});

describe('response bodies in integration errors', () => {
  const server = new ScriptedServer();
  before(() => server.start());
  after(() => server.stop());

  test('a gateway error quotes its body redacted and capped', async () => {
    const body = `upstream said: Authorization: Bearer tok-123456\n${'padding '.repeat(100)}`;
    server.reset((_req, res) => res.writeHead(500).end(body));
    const gateway = new TrinoGatewayClient({ url: server.url, requestTimeoutMs: 1_000 });
    try {
      const error = await rejectsWith(gateway.listBackends(), 'GatewayUnavailable', true);
      assert.doesNotMatch(error.message, /tok-123456/);
      assert.match(error.message, /Authorization: \[redacted\]/);
      assert.ok(error.message.length < 400, error.message);

      server.reset((_req, res) => json(res, 200, { code: 500, msg: 'db login failed: password=hunter2' }));
      const refused = await rejectsWith(gateway.listBackends(), 'GatewayRefused', false);
      assert.match(refused.message, /password=\[redacted\]/);
    } finally {
      await gateway.close();
    }
  });

  test("a coordinator's query error message is redacted and capped", async () => {
    server.reset((_req, res) =>
      json(res, 200, {
        id: 'q1',
        error: { message: `line 1: secret='abc' ${'x'.repeat(5_000)}`, errorName: 'SYNTAX_ERROR' },
      }),
    );
    const trino = new TrinoHttpClient({ url: server.url, requestTimeoutMs: 1_000 });
    try {
      const result = await trino.execute('SELECT 1');
      assert.equal(result.state, 'FAILED');
      assert.match(result.error?.message ?? '', /^line 1: secret='\[redacted\]' x+… \[\d+ more characters cut\]$/);
      assert.ok((result.error?.message.length ?? 0) < 1_100);
    } finally {
      await trino.close();
    }
  });
});
