import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { MetricMeter } from '@temporalio/common';
import { figuresOf } from '../src/activities/canary-analysis';
import { slackBody } from '../src/integrations/webhook/bodies';
import { webhooksOf } from '../src/integrations/webhook/client';
import { analysisMetrics } from '../src/metrics';
import type { CanaryMeasurement } from '../src/observations';
import { parsePolicy, PolicyError, validatePolicy } from '../src/policy/load';
import type { UpgradeEvent } from '../src/upgrade-events';
import { rejectsWith, ScriptedServer } from './support/scripted-server';

const EVENT: UpgradeEvent = {
  kind: 'rollback',
  eventId: 'e1',
  upgradeId: 'cutover-adhoc',
  runId: 'r1',
  strategy: 'canary',
  routingGroup: 'adhoc',
  phase: 'ROLLING_BACK',
  trafficPercent: 10,
  green: { name: 'trino-green', version: '480' },
  blue: ['trino-blue'],
  message: 'rolling back: error rate 60% > 2% & <rising>',
  reason: 'error rate 60% > 2% & <rising>',
  at: '2025-06-01T12:00:00.000Z',
};

function problemsOf(text: string): string[] {
  try {
    parsePolicy(text, 'policy.yaml');
  } catch (error) {
    if (error instanceof PolicyError) return error.problems;
    throw error;
  }
  assert.fail('the policy was accepted');
}

describe('notifications in the worker policy', () => {
  test('webhooks default to JSON and every event; each problem is named by its field', () => {
    const policy = parsePolicy(`gateways: [https://gateway.example.com]
notifications:
  webhooks:
    - url: https://hooks.example.com/cutover
    - urlEnv: CUTOVER_SLACK_URL
      format: slack
      events: [gate, rollback]
      tokenEnv: CUTOVER_SLACK_TOKEN
`);
    assert.deepEqual(policy.notifications.webhooks[0], {
      url: 'https://hooks.example.com/cutover',
      format: 'json',
      events: ['gate', 'rollback', 'inconclusive', 'succeeded', 'failed'],
    });
    assert.deepEqual(parsePolicy('gateways: [https://gateway.example.com]').notifications.webhooks, []);

    const assertProblems = (text: string, expected: RegExp[]) => {
      const problems = problemsOf(`gateways: [https://gateway.example.com]\nnotifications:\n  webhooks:\n${text}`);
      for (const pattern of expected)
        assert.ok(
          problems.some((problem) => pattern.test(problem)),
          `${pattern} in:\n${problems.join('\n')}`,
        );
      assert.equal(problems.length, expected.length, problems.join('\n'));
      assert.doesNotMatch(problems.join('\n'), /secret-pw/);
    };
    assertProblems(
      `    - format: teams
    - url: http://hooks.example.com/x
      events: [started]
    - url: 'https://user:secret-pw@hooks.example.com/x'
      tokenEnv: lower-case
      token: inline
`,
      [
        /^notifications\.webhooks\[0\]\.format: /,
        /^notifications\.webhooks\[1\]\.events\[0\]: /,
        /^notifications\.webhooks\[2\]\.url: must be an http\(s\) URL without user, password or fragment/,
        /^notifications\.webhooks\[2\]\.tokenEnv: must be an environment variable name/,
        /^notifications\.webhooks\[2\]\.token: unknown field/,
      ],
    );
    // What needs the fields first: one of url and urlEnv, and https unless plainHttpHosts names the host.
    assertProblems(
      `    - {}
    - url: https://hooks.example.com/x
      urlEnv: HOOK_URL
    - url: http://hooks.example.com/x
    - url: http://127.0.0.1:9000/x
`,
      [
        /^notifications\.webhooks\[0\]: set either url or urlEnv/,
        /^notifications\.webhooks\[1\]: set either url or urlEnv/,
        /^notifications\.webhooks\[2\]\.url: plain http to hooks\.example\.com: use https, or list the host in plainHttpHosts$/,
        /^notifications\.webhooks\[3\]\.url: plain http to 127\.0\.0\.1/,
      ],
    );
  });
});

describe('webhooks over HTTP', () => {
  const receiver = new ScriptedServer();
  before(() => receiver.start());
  after(() => receiver.stop());

  const policyWith = (hook: Record<string, unknown>) =>
    validatePolicy(
      { gateways: ['https://gateway.example.com'], plainHttpHosts: ['127.0.0.1'], notifications: { webhooks: [hook] } },
      'test policy',
    );

  test('a URL or token that is not in the environment, or plain http the policy does not allow, is refused for good', async () => {
    const [noUrl] = webhooksOf(policyWith({ urlEnv: 'HOOK_URL' }), {});
    assert.equal(noUrl.label, 'webhooks[0] ($HOOK_URL)');
    const unset = await rejectsWith(noUrl.deliver(EVENT), 'WebhookMisconfigured', false);
    assert.equal(unset.message, "webhooks[0] ($HOOK_URL): HOOK_URL (its URL) is not set in the worker's environment");

    const [plain] = webhooksOf(policyWith({ urlEnv: 'HOOK_URL' }), { HOOK_URL: 'http://hooks.example.com/T0/SECRET' });
    const refused = await rejectsWith(plain.deliver(EVENT), 'WebhookMisconfigured', false);
    assert.match(refused.message, /plain http URL to hooks\.example\.com: use https/);
    assert.doesNotMatch(refused.message, /SECRET/);

    const [noToken] = webhooksOf(policyWith({ url: `${receiver.url}/hook`, tokenEnv: 'HOOK_TOKEN' }), {});
    await rejectsWith(noToken.deliver(EVENT), 'WebhookMisconfigured', false);
    assert.equal(receiver.seen.length, 0, 'nothing was sent');
  });

  test("a receiver's 5xx is retryable, its 4xx is not, and neither message shows the URL's path", async () => {
    const [hook] = webhooksOf(policyWith({ urlEnv: 'HOOK_URL' }), {
      HOOK_URL: `${receiver.url}/services/T0/SECRET-PATH`,
    });
    receiver.reset((_req, res) => res.writeHead(503).end('secret-path echoed: /services/T0/SECRET-PATH'));
    const unavailable = await rejectsWith(hook.deliver(EVENT), 'WebhookUnavailable', true);
    assert.equal(unavailable.message, `webhooks[0] ($HOOK_URL) answered HTTP 503`);
    receiver.reset((_req, res) => res.writeHead(410).end());
    await rejectsWith(hook.deliver(EVENT), 'WebhookRefused', false);
    receiver.reset((_req, res) => res.writeHead(204).end());
    await hook.deliver(EVENT);
    assert.equal(receiver.seen[0].url, '/services/T0/SECRET-PATH');
    const { kind, ...rest } = EVENT;
    assert.deepEqual(JSON.parse(receiver.seen[0].body), { event: kind, ...rest }, 'the JSON body is the event');
  });

  test('Slack messages escape what Slack reads as markup', () => {
    assert.equal(
      slackBody(EVENT).text,
      'cutover cutover-adhoc (adhoc → trino-green 480) is rolling back: rolling back: error rate 60% &gt; 2% &amp; &lt;rising&gt;',
    );
  });
});

describe('analysis metrics', () => {
  /** A meter that keeps what is set and added, by metric name. */
  function recordingMeter() {
    const values: { name: string; value: number; tags: Record<string, unknown> }[] = [];
    const instrument = (name: string) => ({
      add: (value: number, tags = {}) => values.push({ name, value, tags }),
      set: (value: number, tags = {}) => values.push({ name, value, tags }),
      record: (value: number, tags = {}) => values.push({ name, value, tags }),
    });
    const meter = { createCounter: instrument, createGauge: instrument, createHistogram: instrument };
    return { meter: meter as unknown as MetricMeter, values };
  }

  const sample = (extra: Partial<CanaryMeasurement>): CanaryMeasurement => ({
    at: '2025-06-01T12:00:00.000Z',
    finished: 8,
    failed: 2,
    errorRate: 0.2,
    queued: 0,
    ...extra,
  });

  test('a figure the sample did not measure leaves its gauge alone: no healthy zero, no invented p95', () => {
    const { meter, values } = recordingMeter();
    const metrics = analysisMetrics(meter);
    const input = { green: 'trino-green', entry: 'trino-green-canary' };
    metrics.sampleTaken('bad', figuresOf(sample({}), input));
    metrics.sampleTaken('bad', figuresOf(sample({ queued: undefined, errorRate: 0, finished: 0, failed: 0 }), input));
    metrics.sampleTaken('healthy', figuresOf(sample({ errorRate: 0, finished: 0, failed: 0 }), input));
    metrics.sampleTaken('healthy', [{ cluster: 'trino-blue', role: 'blue', errorRate: 0, latencyP95Seconds: 1.5 }]);
    assert.deepEqual(
      values.filter((v) => v.name !== 'cutover_analysis_samples_total'),
      [
        { name: 'cutover_cluster_error_rate', value: 0.2, tags: { cluster: 'trino-green', role: 'green' } },
        { name: 'cutover_cluster_error_rate', value: 0, tags: { cluster: 'trino-blue', role: 'blue' } },
        { name: 'cutover_cluster_latency_p95_seconds', value: 1.5, tags: { cluster: 'trino-blue', role: 'blue' } },
      ],
    );
    assert.deepEqual(
      values.filter((v) => v.name === 'cutover_analysis_samples_total').map((v) => v.tags.verdict),
      ['bad', 'bad', 'healthy', 'healthy'],
    );
    assert.equal(figuresOf(sample({}), { entry: 'trino-green-canary' })[0].cluster, 'trino-green-canary');
  });
});
