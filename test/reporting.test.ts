import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { startUpgrade } from '../src/client/upgrades';
import { until, waitForPhase, waitForStatus } from '../src/devserver/wait';
import type { UpgradePlan } from '../src/plan/schema';
import { validatePolicy } from '../src/policy/load';
import type { WorkerPolicyInput } from '../src/policy/schema';
import { startQueryLoad } from '../src/sandbox/load';
import { approveUpdate, rollbackSignal, type UpgradeResult } from '../src/workflows/messages';
import { fastPlan } from './support/plans';
import { TEST_POLICY_INPUT } from './support/policy';
import { scrape, total, type PromSample } from './support/prometheus';
import { ScriptedServer, type Seen } from './support/scripted-server';
import { assertReplays } from './support/temporal';
import { useTestbed } from './support/testbed';

type Webhooks = NonNullable<NonNullable<WorkerPolicyInput['notifications']>['webhooks']>;

/** The JSON webhook's token and the secret part of the Slack webhook's URL: no history may hold either. */
const TOKEN = 'hook-token-6f1c93e0d2';
const SLACK_SECRET = 'B07SLACKSECRET9a4e';

describe('metrics and notifications of upgrades on a real Temporal dev server', () => {
  const receiver = new ScriptedServer();
  const dir = mkdtempSync(join(tmpdir(), 'cutover-reporting-'));
  const slackUrlFile = join(dir, 'slack-url');
  let webhooks: Webhooks = [];
  const testbed = useTestbed(
    {},
    {
      // Asked at each delivery, as a reloaded policy would be: each test sets the webhooks it needs.
      policy: () => validatePolicy({ ...TEST_POLICY_INPUT, notifications: { webhooks } }, 'test policy'),
      env: { CUTOVER_TEST_WEBHOOK_TOKEN: TOKEN, CUTOVER_TEST_SLACK_URL_FILE: slackUrlFile },
      secrets: [TOKEN, SLACK_SECRET],
      metrics: true,
    },
  );

  /** The JSON receiver (with the token) and a Slack one (URL from a file named by the environment) for fewer events. */
  const jsonAndSlack = (): Webhooks => [
    { url: `${receiver.url}/json`, format: 'json', tokenEnv: 'CUTOVER_TEST_WEBHOOK_TOKEN' },
    { urlEnv: 'CUTOVER_TEST_SLACK_URL', format: 'slack', events: ['gate', 'rollback', 'failed'] },
  ];

  before(async () => {
    await receiver.start();
    receiver.handler = (req, res) => {
      if (req.url.startsWith('/fail')) res.writeHead(500).end('receiver down');
      else if (req.url.startsWith('/refuse')) res.writeHead(404).end('no such hook');
      else if (!req.url.startsWith('/hang')) res.writeHead(200).end('ok');
      // /hang: never answers.
    };
    writeFileSync(slackUrlFile, `${receiver.url}/slack/T0/${SLACK_SECRET}\n`);
  });

  after(async () => {
    await receiver.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The JSON events a receiver path got for one upgrade, in the order they came. */
  function jsonEvents(path: string, upgradeId: string): Record<string, any>[] {
    return receiver.seen
      .filter((req) => req.url.startsWith(path))
      .map((req) => JSON.parse(req.body))
      .filter((body) => body.upgradeId === upgradeId);
  }

  function slackMessages(upgradeId: string): Seen[] {
    return receiver.seen.filter((req) => req.url.startsWith('/slack/') && req.body.includes(upgradeId));
  }

  async function run(plan: UpgradePlan, approve = false) {
    const startedAt = Date.now();
    const handle = await startUpgrade(testbed.env.client, plan, { startedBy: 'test' });
    if (approve) {
      await waitForPhase(handle, 'AWAITING_APPROVAL');
      await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] });
    }
    const result: UpgradeResult = await handle.result();
    const closedMs = Date.now() - startedAt;
    const timeline = result.status.timeline;
    const succeededMs =
      Date.parse(timeline.find((e) => e.phase === 'SUCCEEDED')?.at ?? '') - Date.parse(timeline[0].at);
    return { handle, result, closedMs, succeededMs };
  }

  it('a run that reaches the approval gate tells each webhook of each event it wants, in its format, once', async () => {
    webhooks = jsonAndSlack();
    const fleet = await testbed.fleetWithBlue('notified');
    const handle = await startUpgrade(testbed.env.client, fastPlan(fleet.gatewayUrl, 'notified'));
    const id = handle.workflowId;
    await waitForPhase(handle, 'AWAITING_APPROVAL');
    await until('the gate event at both receivers', () => jsonEvents('/json', id).length === 1);
    await until('the gate event on Slack', () => slackMessages(id).length === 1);

    const [gate] = jsonEvents('/json', id);
    assert.equal(gate.event, 'gate');
    assert.equal(gate.phase, 'AWAITING_APPROVAL');
    assert.equal(gate.routingGroup, 'notified');
    assert.equal(gate.strategy, 'blue-green');
    assert.deepEqual(gate.green, { name: 'notified-green', version: '480' });
    assert.deepEqual(gate.blue, ['notified-blue']);
    assert.match(
      gate.message,
      /ready for testing at http:\/\/127\.0\.0\.1:\d+; approve with: cutover approve cutover-notified/,
    );
    assert.ok(!Number.isNaN(Date.parse(gate.at)) && typeof gate.eventId === 'string' && typeof gate.runId === 'string');
    const toJson = receiver.seen.find((req) => req.url === '/json')!;
    assert.equal(toJson.headers.authorization, `Bearer ${TOKEN}`, 'the JSON webhook gets its token');
    const toSlack = slackMessages(id)[0];
    assert.equal(toSlack.url, `/slack/T0/${SLACK_SECRET}`, 'the Slack URL came from the file the environment names');
    assert.equal(toSlack.headers.authorization, undefined, 'a webhook without tokenEnv gets no token');
    assert.deepEqual(Object.keys(JSON.parse(toSlack.body)), ['text']);
    assert.match(
      JSON.parse(toSlack.body).text,
      /^cutover cutover-notified \(notified → notified-green 480\) awaits approval: notified-green is ready for testing/,
    );

    await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] });
    const result = await handle.result();
    assert.equal(result.outcome, 'SUCCEEDED');
    const events = jsonEvents('/json', id);
    assert.deepEqual(
      events.map((event) => [event.event, event.phase]),
      [
        ['gate', 'AWAITING_APPROVAL'],
        ['succeeded', 'SUCCEEDED'],
      ],
      'the JSON webhook got the gate and the success, each once',
    );
    assert.match(events[1].message, /notified-green \(480\) serves notified/);
    assert.notEqual(events[0].eventId, events[1].eventId);
    assert.equal(slackMessages(id).length, 1, 'the Slack webhook wants no success: it got the gate only');
    await assertReplays(handle as WorkflowHandle);
  });

  it('a rollback tells the webhooks why and counts in cutover_rollbacks_total by its reason and step', async () => {
    webhooks = jsonAndSlack();
    const fleet = await testbed.fleetWithBlue('rolledback');
    const before = await scrape(testbed.metricsUrl);
    const handle = await startUpgrade(testbed.env.client, fastPlan(fleet.gatewayUrl, 'rolledback'));
    const id = handle.workflowId;
    await waitForPhase(handle, 'AWAITING_APPROVAL');
    await handle.signal(rollbackSignal, { by: 'bob', reason: 'found a regression in green' });
    const result = await handle.result();
    assert.equal(result.outcome, 'ROLLED_BACK');

    const events = jsonEvents('/json', id);
    assert.deepEqual(
      events.map((event) => event.event),
      ['gate', 'rollback'],
    );
    assert.equal(events[1].reason, 'found a regression in green');
    assert.equal(events[1].phase, 'ROLLING_BACK');
    assert.match(events[1].message, /^rolling back: found a regression in green$/);
    const slack = slackMessages(id).map((req) => JSON.parse(req.body).text as string);
    assert.equal(slack.length, 2);
    assert.match(slack[1], /rolledback-green 480\) is rolling back: rolling back: found a regression in green$/);

    const after = await scrape(testbed.metricsUrl);
    const delta = (name: string, labels: Record<string, string>) =>
      total(after, name, labels) - total(before, name, labels);
    assert.equal(
      delta('cutover_rollbacks_total', { reason: 'operator', step: 'approval', strategy: 'blue-green' }),
      1,
      'one rollback asked by an operator at the approval gate',
    );
    assert.equal(delta('cutover_phase_transitions_total', { phase: 'ROLLED_BACK', strategy: 'blue-green' }), 1);
    assert.equal(delta('cutover_phase_transitions_total', { phase: 'AWAITING_APPROVAL' }), 1);
    assert.equal(delta('cutover_phase_transitions_total', { phase: 'SUCCEEDED' }), 0);
    assert.equal(delta('cutover_step_duration_seconds_count', { step: 'provision', end: 'completed' }), 1);
    assert.equal(delta('cutover_step_duration_seconds_count', { step: 'approval', end: 'stopped' }), 1);
    const provisionToReady =
      delta('cutover_step_duration_seconds_sum', { step: 'provision' }) +
      delta('cutover_step_duration_seconds_sum', { step: 'verify' });
    assert.ok(
      provisionToReady >= 0.5,
      `green took its 500 ms start-up between provision and verify: ${provisionToReady} s`,
    );
    await assertReplays(handle as WorkflowHandle);
  });

  it('a canary rolled back by its analysis: samples by verdict, error rate and p95 of both clusters, rollback reason analysis', async () => {
    webhooks = jsonAndSlack();
    const group = 'analysed';
    const fleet = await testbed.canaryFleetWithBlue(group);
    const load = startQueryLoad({
      gatewayUrl: fleet.gatewayUrl,
      users: 100,
      concurrency: 6,
      durationMs: [0, 50],
      routingGroup: group,
    });
    const before = await scrape(testbed.metricsUrl);
    const plan = fastPlan(fleet.gatewayUrl, group, {
      strategy: 'canary',
      approval: { required: false },
      canary: {
        traffic: 'routing-rule',
        rulesRefresh: '200ms',
        analysis: { interval: '500ms', maxConsecutiveFailures: 1 },
        steps: [{ weight: 50, bake: '1m' }, { weight: 100 }],
      },
    });
    const handle = await startUpgrade(testbed.env.client, plan);
    await waitForStatus(handle, (s) => s.phase === 'BAKING' && s.trafficPercent === 50, 'baking at 50%');
    const healthy = (samples: PromSample[]) => total(samples, 'cutover_analysis_samples_total', { verdict: 'healthy' });
    await until('two healthy samples', async () => healthy(await scrape(testbed.metricsUrl)) - healthy(before) >= 2);
    await fleet.applyFaults(`${group}-green`, { failRate: 0.5 });
    const result = await handle.result();
    await load.stop();
    assert.equal(result.outcome, 'ROLLED_BACK');

    const after = await scrape(testbed.metricsUrl);
    const delta = (name: string, labels: Record<string, string>) =>
      total(after, name, labels) - total(before, name, labels);
    assert.ok(delta('cutover_analysis_samples_total', { verdict: 'healthy' }) >= 2);
    assert.equal(
      delta('cutover_analysis_samples_total', { verdict: 'bad' }),
      1,
      'one bad sample breached (1 in a row)',
    );
    assert.equal(delta('cutover_rollbacks_total', { reason: 'analysis', step: 'bake', strategy: 'canary' }), 1);
    const errorRate = after.find(
      (s) =>
        s.name === 'cutover_cluster_error_rate' && s.labels.cluster === `${group}-green` && s.labels.role === 'green',
    );
    assert.ok(errorRate && errorRate.value > 0.02, `green's error rate of the bad sample: ${errorRate?.value}`);
    const p95 = (role: string) =>
      after.find((s) => s.name === 'cutover_cluster_latency_p95_seconds' && s.labels.role === role);
    assert.equal(p95('green')?.labels.cluster, `${group}-green`);
    assert.ok((p95('green')?.value ?? 0) > 0, `green's p95 from its finished queries: ${p95('green')?.value}`);
    assert.ok((p95('blue')?.value ?? 0) > 0, `blue's p95 from its finished queries: ${p95('blue')?.value}`);
    const blueRate = after.find((s) => s.name === 'cutover_cluster_error_rate' && s.labels.role === 'blue');
    assert.ok(blueRate && blueRate.value < 0.02, `blue kept failing nothing: ${blueRate?.value}`);
    const rollback = jsonEvents('/json', handle.workflowId).find((event) => event.event === 'rollback');
    assert.match(rollback?.reason ?? '', /canary analysis failed 1 times in a row at 50%: error rate/);
    await assertReplays(handle as WorkflowHandle);
  });

  it('a canary bake with nothing to judge sends inconclusive events, then the rollback onInconclusive asks for', async () => {
    webhooks = jsonAndSlack();
    const group = 'undecided';
    const fleet = await testbed.canaryFleetWithBlue(group);
    const plan = fastPlan(fleet.gatewayUrl, group, {
      strategy: 'canary',
      approval: { required: false },
      canary: {
        traffic: 'routing-rule',
        rulesRefresh: '200ms',
        analysis: { interval: '250ms', minQueries: 1, onInconclusive: 'rollback', inconclusiveTimeout: '2s' },
        steps: [{ weight: 50, bake: '1m' }, { weight: 100 }],
      },
    });
    const handle = await startUpgrade(testbed.env.client, plan);
    const result = await handle.result();
    assert.equal(result.outcome, 'ROLLED_BACK');
    await until('the rollback event delivered', async () =>
      jsonEvents('/json', handle.workflowId).some((event) => event.event === 'rollback'),
    );
    const events = jsonEvents('/json', handle.workflowId);
    const undecided = events.filter((event) => event.event === 'inconclusive');
    assert.ok(undecided.length >= 2, `the start of the stretch and its timeout: ${JSON.stringify(events)}`);
    assert.match(undecided[0].message, /analysis at 50%: inconclusive, green ended 0 queries/);
    assert.match(undecided.at(-1)?.message ?? '', /no verdict on undecided-green at 50% .*onInconclusive: rollback/);
    assert.ok(
      events.findIndex((event) => event.event === 'inconclusive') <
        events.findIndex((event) => event.event === 'rollback'),
      'inconclusive before the rollback',
    );
    await assertReplays(handle as WorkflowHandle);
  });

  it('a receiver that answers 500 is retried in the background: the upgrade neither waits nor fails', async () => {
    webhooks = [];
    const baseline = await run(fastPlan((await testbed.fleetWithBlue('quiet')).gatewayUrl, 'quiet'), true);
    webhooks = [
      { url: `${receiver.url}/fail`, format: 'json' },
      { url: `${receiver.url}/ok`, format: 'json' },
    ];
    const failing = await run(fastPlan((await testbed.fleetWithBlue('hookdown')).gatewayUrl, 'hookdown'), true);
    assert.equal(failing.result.outcome, 'SUCCEEDED');
    const gates = jsonEvents('/fail', 'cutover-hookdown').filter((event) => event.event === 'gate');
    assert.ok(gates.length >= 2, `the gate event was retried (${gates.length} deliveries)`);
    assert.equal(new Set(gates.map((event) => event.eventId)).size, 1, 'each retry carries the same event id');
    assert.deepEqual(
      jsonEvents('/ok', 'cutover-hookdown').map((event) => event.event),
      ['gate', 'succeeded'],
      'the receiver that took an event is not sent it again by the retries the failing one causes',
    );
    process.stderr.write(
      `succeeded after ${failing.succeededMs} ms with a failing receiver, ${baseline.succeededMs} ms without; closed after ${failing.closedMs} ms\n`,
    );
    assert.ok(failing.succeededMs <= baseline.succeededMs + 3000, 'the upgrade did not wait for the receiver');
    assert.ok(failing.closedMs <= failing.succeededMs + 10_000 + 3000, 'the run closed within 10 s of its end');
  });

  it('a receiver that never answers costs the run at most 10 s at its end, and nothing before', async () => {
    webhooks = [];
    const baseline = await run(fastPlan((await testbed.fleetWithBlue('quiet2')).gatewayUrl, 'quiet2'), true);
    webhooks = [{ url: `${receiver.url}/hang`, format: 'json' }];
    const hanging = await run(fastPlan((await testbed.fleetWithBlue('hookhangs')).gatewayUrl, 'hookhangs'), true);
    assert.equal(hanging.result.outcome, 'SUCCEEDED');
    assert.ok(
      receiver.seen.some((req) => req.url === '/hang' && JSON.parse(req.body).upgradeId === 'cutover-hookhangs'),
      'the receiver was asked',
    );
    process.stderr.write(
      `succeeded after ${hanging.succeededMs} ms with a hanging receiver, ${baseline.succeededMs} ms without; closed after ${hanging.closedMs} ms\n`,
    );
    assert.ok(hanging.succeededMs <= baseline.succeededMs + 3000, 'the upgrade did not wait for the receiver');
    assert.ok(hanging.closedMs <= hanging.succeededMs + 10_000 + 3000, 'the run closed within 10 s of its end');
  });

  it('a receiver that refuses the event (404) is not asked again, and the timeline says so', async () => {
    webhooks = [{ url: `${receiver.url}/refuse`, format: 'json', events: ['succeeded'] }];
    const fleet = await testbed.fleetWithBlue('refused');
    const { result } = await run(fastPlan(fleet.gatewayUrl, 'refused', { approval: { required: false } }));
    assert.equal(result.outcome, 'SUCCEEDED');
    assert.equal(jsonEvents('/refuse', 'cutover-refused').length, 1, 'asked once');
    const note = result.status.timeline.at(-1)!;
    assert.equal(note.phase, 'SUCCEEDED');
    assert.match(
      note.message,
      /^succeeded event not delivered: webhooks\[0\] \(http:\/\/127\.0\.0\.1:\d+\) answered HTTP 404$/,
    );
  });
});
