import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { startUpgrade } from '../src/client/upgrades';
import { sleep, until, waitForStatus } from '../src/devserver/wait';
import { canaryReadyRules } from '../src/sandbox/canary-rules';
import type { ErrorFault } from '../src/sandbox/coordinator';
import type { SandboxFleet } from '../src/sandbox/fleet';
import { startQueryLoad, type QueryLoadOptions } from '../src/sandbox/load';
import type { RoutingView } from '../src/analysis/routing-view';
import { promoteUpdate, statusQuery } from '../src/workflows/messages';
import { runCli } from './support/cli';
import { gatewayBackends } from './support/faults';
import { fastPlan } from './support/plans';
import { assertReplays } from './support/temporal';
import { useTestbed } from './support/testbed';

const RULES_REFRESH_MS = 200;
/** Every query of the load carries this, so error faults hit the load and never the smoke queries. */
const LOAD_MARK = 'AS load';

describe('bake analysis against blue on a real Temporal dev server and the sandbox fleet', () => {
  const testbed = useTestbed();

  async function canaryFleet(group: string): Promise<SandboxFleet> {
    return testbed.fleet({
      healthIntervalMs: 100,
      rulesRefreshMs: RULES_REFRESH_MS,
      rules: canaryReadyRules(`${group}-canary`),
      clusters: [{ name: `${group}-blue`, version: '470', routingGroup: group }],
    });
  }

  function canaryPlan(fleet: SandboxFleet, group: string, canary: Record<string, unknown>) {
    return fastPlan(fleet.gatewayUrl, group, {
      strategy: 'canary',
      approval: { required: false },
      retire: { keepBlueFor: '0s' },
      canary: { traffic: 'routing-rule', rulesRefresh: `${RULES_REFRESH_MS}ms`, ...canary },
    });
  }

  function load(fleet: SandboxFleet, group: string, options: Partial<QueryLoadOptions> = {}) {
    return startQueryLoad({
      gatewayUrl: fleet.gatewayUrl,
      users: 200,
      concurrency: 16,
      durationMs: [100, 300],
      routingGroup: group,
      sqlFor: () => `SELECT 1 ${LOAD_MARK}`,
      ...options,
    });
  }

  /** Applies `faults` to green as soon as the provisioner created it, before it takes any traffic. */
  async function whenGreenExists(fleet: SandboxFleet, group: string, errors: ErrorFault[]): Promise<void> {
    await until('green created', () => fleet.cluster(`${group}-green`) !== undefined, 30_000, 20);
    await fleet.applyFaults(`${group}-green`, { errors });
  }

  it("status and watch show blue and green under load at 50%: the queries each got, green's real share against 50%, the table", async () => {
    const group = 'routed';
    const fleet = await canaryFleet(group);
    const queries = load(fleet, group);
    const handle = await startUpgrade(
      testbed.env.client,
      canaryPlan(fleet, group, {
        steps: [
          { weight: 50, bake: '10m' },
          { weight: 100, bake: '1s' },
        ],
        analysis: { interval: '2s', minQueries: 1, maxQueuedGrowth: 100_000 },
      }),
    );
    const id = handle.workflowId;
    const watching = runCli(testbed.env.address, ['watch', id]);
    await waitForStatus(handle, (s) => s.phase === 'BAKING' && s.trafficPercent === 50, 'baking at 50%', 60_000);
    // A sample whose whole window had the load at 50%: the first may have opened before the shift.
    let analysis: RoutingView | undefined;
    let samples = 0;
    await until(
      () => `a second analysis sample at 50% in status --json: ${JSON.stringify(analysis)}`,
      async () => {
        const run = await runCli(testbed.env.address, ['status', id, '--json']);
        assert.equal(run.code, 0, run.stderr);
        const view = JSON.parse(run.stdout) as { analysis?: RoutingView; liveSample?: { samples: number } };
        analysis = view.analysis;
        if (view.liveSample) samples = Math.max(samples, view.liveSample.samples);
        return analysis?.intendedPercent === 50 && samples >= 2;
      },
      60_000,
      200,
    );
    assert.ok(analysis);
    assert.equal(analysis.source, 'live', 'the sample comes from the running analysis activity');
    assert.equal(analysis.verdict, 'pass', JSON.stringify(analysis));
    const { blue, green } = analysis;
    assert.ok(green && blue, JSON.stringify(analysis));
    assert.equal(green.name, `${group}-green`);
    assert.ok((green.routed ?? 0) > 0 && (blue.routed ?? 0) > 0, `both got new queries: ${JSON.stringify(analysis)}`);
    assert.ok(green.finished > 0 && green.p95Ms !== undefined, `green finished queries: ${JSON.stringify(green)}`);
    assert.equal(green.failed, 0);
    const share = analysis.actualPercent ?? NaN;
    process.stderr.write(`routing at 50%: green got ${share}% (${green.routed} of ${green.routed! + blue.routed!})\n`);
    assert.ok(Math.abs(share - 50) <= 20, `green's share ${share}% of new queries, intended 50%`);
    assert.equal(share, Math.round((1000 * green.routed!) / (green.routed! + blue.routed!)) / 10);

    const text = await runCli(testbed.env.address, ['status', id]);
    assert.equal(text.code, 0, text.stderr);
    const lines = text.stdout.split('\n');
    const at = lines.findIndex((line) => line.startsWith('  routing:   sample '));
    assert.ok(at > 0, `a routing block:\n${text.stdout}`);
    assert.match(lines[at + 1], /^ {13}green got \d+(\.\d)?% of new queries \(intended 50%\)$/);
    const table = lines.slice(at + 2, at + 10).map((line) => line.trim());
    assert.match(table[0], new RegExp(`^blue {2}green \\(${group}-green\\)$`), text.stdout);
    for (const [row, label] of ['routed', 'running', 'queued', 'finished', 'failed', 'p95'].entries())
      assert.match(table[row + 2], new RegExp(`^${label}\\s+\\S`), text.stdout);

    await handle.executeUpdate(promoteUpdate, { args: [{ by: 'test', full: true }] });
    const result = await handle.result();
    await queries.stop();
    assert.equal(result.outcome, 'SUCCEEDED', result.reason);
    const watched = await watching;
    assert.equal(watched.code, 0, watched.stderr);
    assert.match(watched.stdout, /^routing: sample \d\d:\d\d:\d\d \(analysis heartbeat\): pass$/m, watched.stdout);
    assert.match(watched.stdout, /^ {2}green got \d+(\.\d)?% of new queries \(intended 50%\)$/m);
    assert.match(watched.stdout, new RegExp(`^ {2}\\s+blue {2}green \\(${group}-green\\)$`, 'm'));
  });

  it('green answering every query 2 s slower than blue at 50% rolls back on latency; blue users see no failure', async () => {
    const group = 'slow';
    const fleet = await canaryFleet(group);
    const queries = load(fleet, group);
    const handle = await startUpgrade(
      testbed.env.client,
      canaryPlan(fleet, group, {
        steps: [
          { weight: 50, bake: '30s' },
          { weight: 100, bake: '1s' },
        ],
        analysis: { interval: '2s', minQueries: 1, minLatencyQueries: 5, maxConsecutiveFailures: 2 },
      }),
    );
    await waitForStatus(handle, (s) => s.phase === 'BAKING' && s.trafficPercent === 50, 'baking at 50%', 60_000);
    await fleet.applyFaults(`${group}-green`, { queryDelayMs: 2000 });
    const result = await handle.result();
    const report = await queries.stop();
    assert.equal(result.outcome, 'ROLLED_BACK', result.reason);
    assert.match(result.reason ?? '', /p50 latency \d+(\.\d)?( s| ms) on green against \d+ ms on blue/);
    const last = result.status.analysis?.last;
    assert.ok(last?.green && last.blue, `the sample carries both windows: ${JSON.stringify(last)}`);
    assert.ok((last.green.p50Ms ?? 0) >= 2000, `green's p50 ${last.green.p50Ms}`);
    assert.ok((last.blue.p50Ms ?? Infinity) < 500, `blue's p50 ${last.blue.p50Ms}`);
    assert.equal(last.intendedPercent, 50);
    assert.ok(last.actualPercent !== undefined && last.actualPercent > 0, `green's actual share ${last.actualPercent}`);
    const onBlue = report.queries.filter((q) => q.backend === `${group}-blue`);
    assert.ok(onBlue.length > 0);
    assert.equal(onBlue.filter((q) => q.state === 'FAILED').length, 0, 'no query failed for users on blue');
    assert.deepEqual(await gatewayBackends(fleet), [[`${group}-blue`, true]]);
    await assertReplays(handle as WorkflowHandle);
  });

  it("blue/green: green 2 s slower than blue's last window before the flip rolls back in the bake", async () => {
    const group = 'bgslow';
    const fleet = await testbed.fleetWithBlue(group);
    const queries = load(fleet, group, { concurrency: 8 });
    const handle = await startUpgrade(
      testbed.env.client,
      fastPlan(fleet.gatewayUrl, group, {
        approval: { required: false },
        bake: '30s',
        analysis: { interval: '1s', minQueries: 1, minLatencyQueries: 5 },
      }),
    );
    await waitForStatus(handle, (s) => s.phase === 'BAKING', 'baking', 60_000);
    await fleet.applyFaults(`${group}-green`, { queryDelayMs: 2000 });
    const result = await handle.result();
    await queries.stop();
    assert.equal(result.outcome, 'ROLLED_BACK', result.reason);
    assert.match(
      result.reason ?? '',
      /bgslow-green failed while baking: .*p50 latency \d+(\.\d)?( s| ms) on green against \d+ ms on blue \(its 10 min before this bake\)/,
    );
    assert.deepEqual(await gatewayBackends(fleet), [[`${group}-blue`, true]]);
    await assertReplays(handle as WorkflowHandle);
  });

  it('a canary bake in which green ends no query does not pass: the clock holds, status and timeline say inconclusive, queries let it pass', async () => {
    const group = 'idle';
    const fleet = await canaryFleet(group);
    const handle = await startUpgrade(
      testbed.env.client,
      canaryPlan(fleet, group, {
        steps: [
          { weight: 50, bake: '2s' },
          { weight: 100, bake: '1s' },
        ],
        analysis: { interval: '250ms', minQueries: 1 },
      }),
    );
    await waitForStatus(handle, (s) => s.phase === 'BAKING' && s.trafficPercent === 50, 'baking at 50%', 60_000);
    await sleep(5_000);
    const held = await handle.query(statusQuery);
    assert.equal(held.phase, 'BAKING', 'a 2s bake with no query on green is still baking after 5 s');
    assert.equal(held.trafficPercent, 50);
    assert.equal(held.analysis?.last?.verdict, 'inconclusive');
    assert.match(held.analysis?.last?.inconclusive ?? '', /green ended 0 queries in this sample \(needs 1/);
    assert.match(held.health.message ?? '', /^inconclusive: /);
    assert.ok(
      held.timeline.some((e) =>
        /analysis at 50%: inconclusive, green ended 0 queries .* the bake clock holds/.test(e.message),
      ),
      `the timeline says so: ${JSON.stringify(held.timeline.slice(-3))}`,
    );
    const queries = load(fleet, group, { concurrency: 4 });
    const result = await handle.result();
    await queries.stop();
    assert.equal(result.outcome, 'SUCCEEDED', result.reason);
    assert.ok(
      result.status.timeline.some((e) => /analysis at 50%: green can be judged again/.test(e.message)),
      'the timeline says when green could be judged again',
    );
    await assertReplays(handle as WorkflowHandle);
  });

  it('onInconclusive: rollback rolls back a bake that had nothing to judge for inconclusiveTimeout', async () => {
    const group = 'undecided';
    const fleet = await canaryFleet(group);
    const handle = await startUpgrade(
      testbed.env.client,
      canaryPlan(fleet, group, {
        steps: [
          { weight: 10, bake: '1m' },
          { weight: 100, bake: '1s' },
        ],
        analysis: { interval: '250ms', minQueries: 1, onInconclusive: 'rollback', inconclusiveTimeout: '2s' },
      }),
    );
    const result = await handle.result();
    assert.equal(result.outcome, 'ROLLED_BACK');
    assert.match(
      result.reason ?? '',
      /no verdict on undecided-green at 10% for 2 s of samples \(green ended 0 queries .*\): rolling back \(analysis.onInconclusive: rollback\)/,
    );
    assert.deepEqual(await gatewayBackends(fleet), [[`${group}-blue`, true]]);
  });

  it("user errors blue shows at the same rate do not fail the canary, also at 100% against blue's baseline", async () => {
    const group = 'typos';
    const fleet = await canaryFleet(group);
    const typos: ErrorFault[] = [
      { rate: 0.05, errorType: 'USER_ERROR', errorName: 'SYNTAX_ERROR', sqlContains: LOAD_MARK },
    ];
    await fleet.applyFaults(`${group}-blue`, { errors: typos });
    const queries = load(fleet, group);
    const handle = await startUpgrade(
      testbed.env.client,
      canaryPlan(fleet, group, {
        steps: [
          { weight: 25, bake: '5s' },
          { weight: 100, bake: '3s' },
        ],
        analysis: { interval: '500ms', minQueries: 1, maxConsecutiveFailures: 2 },
      }),
    );
    await whenGreenExists(fleet, group, typos);
    const result = await handle.result();
    const report = await queries.stop();
    assert.equal(result.outcome, 'SUCCEEDED', result.reason);
    const onGreen = report.queries.filter((q) => q.backend === `${group}-green`);
    assert.ok(
      onGreen.filter((q) => q.state === 'FAILED').length > 0,
      `green had user errors too (${onGreen.length} queries on green)`,
    );
    const last = result.status.analysis?.last;
    assert.match(last?.blue?.baselineOf ?? '', /before this bake/, "at 100% green was judged against blue's baseline");
  });

  it('a function failing with USER_ERROR only on green rolls back, naming FUNCTION_NOT_FOUND', async () => {
    const group = 'udf';
    const fleet = await canaryFleet(group);
    const typos: ErrorFault = {
      rate: 0.02,
      errorType: 'USER_ERROR',
      errorName: 'SYNTAX_ERROR',
      sqlContains: LOAD_MARK,
    };
    await fleet.applyFaults(`${group}-blue`, { errors: [typos] });
    const queries = load(fleet, group, {
      sqlFor: (_user, i) => (i % 5 === 0 ? `SELECT my_udf(1) ${LOAD_MARK}` : `SELECT 1 ${LOAD_MARK}`),
    });
    const handle = await startUpgrade(
      testbed.env.client,
      canaryPlan(fleet, group, {
        steps: [
          { weight: 50, bake: '1m' },
          { weight: 100, bake: '1s' },
        ],
        analysis: { interval: '1s', minQueries: 1, maxConsecutiveFailures: 2 },
      }),
    );
    await whenGreenExists(fleet, group, [
      { rate: 1, errorType: 'USER_ERROR', errorName: 'FUNCTION_NOT_FOUND', sqlContains: 'my_udf(' },
      typos,
    ]);
    const result = await handle.result();
    const report = await queries.stop();
    assert.equal(result.outcome, 'ROLLED_BACK', result.reason);
    assert.match(result.reason ?? '', /USER_ERROR beyond blue's rate.*failing on green only: FUNCTION_NOT_FOUND/);
    assert.ok(
      result.status.analysis?.last?.newErrorNames?.includes('FUNCTION_NOT_FOUND'),
      `the status names the new error: ${JSON.stringify(result.status.analysis?.last?.newErrorNames)}`,
    );
    const blueFailures = report.queries.filter((q) => q.backend === `${group}-blue` && q.state === 'FAILED');
    assert.ok(
      blueFailures.every((q) => /SYNTAX_ERROR/.test(q.error ?? '')),
      'blue failed only its own typos',
    );
    assert.deepEqual(await gatewayBackends(fleet), [[`${group}-blue`, true]]);
  });
});
