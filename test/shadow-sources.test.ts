import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities } from '../src/activities';
import type { ShadowGreenInput } from '../src/activities/types';
import { startUpgrade } from '../src/client/upgrades';
import { untilHealthy } from '../src/devserver/wait';
import { TrinoHttpClient } from '../src/integrations/trino/client';
import type { QuerySummary } from '../src/integrations/trino/types';
import type { ShadowReport } from '../src/shadow-report';
import type { UpgradePlan } from '../src/plan/schema';
import { fixedPolicy, validatePolicy } from '../src/policy/load';
import { SimulatedCoordinator } from '../src/sandbox/coordinator';
import { RELEASE_ANSWER_QUERY } from '../src/sandbox/coordinator-results';
import { fastPlan } from './support/plans';
import { TEST_POLICY_INPUT } from './support/policy';
import { assertReplays } from './support/temporal';
import { queriesOn, runThroughGateway } from './support/shadow';
import { useTestbed } from './support/testbed';
import { integrationsFromEnv } from '../src/worker/integrations';

/** Removed when the tests end: the query directory, and a file outside it. */
const ROOT = mkdtempSync(join(tmpdir(), 'cutover-shadow-sources-'));
/** The worker's query directory: the only place a plan's `shadow.queryFile` is read from. */
const QUERY_DIRECTORY = join(ROOT, 'queries');
mkdirSync(QUERY_DIRECTORY);

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * Where shadow validation's queries come from and where they run (issue 13 item 1): a query file
 * the worker reads from its own directory, history queries replayed as their users through Trino
 * impersonation, and the pairs spread over every active blue backend of the group.
 */
describe('shadow validation: query files, impersonation and several blue backends', () => {
  const testbed = useTestbed(
    {},
    {
      policy: validatePolicy(
        { ...TEST_POLICY_INPUT, shadow: { queryDirectory: QUERY_DIRECTORY } },
        'test policy with a query directory',
      ),
    },
  );

  const start = (plan: UpgradePlan) => startUpgrade(testbed.env.client, plan, { startedBy: 'test' });

  it("a query file in the worker's directory is split, its `-- user:` statements replayed as that user, its texts kept out of history", async () => {
    const group = 'shadowfile';
    writeFileSync(
      join(QUERY_DIRECTORY, 'nightly.sql'),
      [
        '-- user: alice',
        "SELECT 'a;b' AS semicolon_in_a_string;",
        '/* no user line: the worker user; a semicolon in a comment */',
        'SELECT 2;',
        '-- user: bob',
        `${RELEASE_ANSWER_QUERY};`,
        'INSERT INTO t VALUES (1);',
      ].join('\n'),
    );
    const fleet = await testbed.fleetWithBlue(group);
    const handle = await start(
      fastPlan(fleet.gatewayUrl, group, {
        approval: { required: false },
        retire: { teardown: false },
        shadow: { source: ['file'], queryFile: 'nightly.sql', onMismatch: 'warn' },
      }),
    );
    const result = await handle.result();
    assert.equal(result.outcome, 'SUCCEEDED');
    const report = result.status.shadow?.report;
    assert.ok(report, 'the status carries the shadow report');
    assert.deepEqual(
      {
        queries: report.queries,
        matched: report.matched,
        mismatched: report.mismatched,
        fromFile: report.fromFile,
        fromPlan: report.fromPlan,
        fromHistory: report.fromHistory,
        notReadOnly: report.notReadOnly,
      },
      { queries: 3, matched: 2, mismatched: 1, fromFile: 3, fromPlan: 0, fromHistory: 0, notReadOnly: 1 },
    );
    const [mismatch] = report.mismatches;
    assert.equal(mismatch.origin, 'file nightly.sql #3');
    assert.equal(mismatch.user, 'bob');
    assert.equal(mismatch.sha256, sha256(RELEASE_ANSWER_QUERY));
    assert.equal(mismatch.text, undefined, 'no query text in history by default');
    assert.ok(!JSON.stringify(result).includes('semicolon_in_a_string'), 'no text of the file in the result');
    const onBlue = await queriesOn(fleet.cluster(`${group}-blue`)!.url);
    assert.deepEqual(
      onBlue.filter((query) => query.query?.includes('semicolon_in_a_string')).map((query) => query.user),
      ['alice'],
      "the file's first statement ran as alice, split at the right semicolon",
    );
    assert.ok(
      onBlue.some((query) => query.query?.includes('SELECT 2') && query.user === 'cutover'),
      'a statement without a user line runs as the worker user',
    );
    assert.ok(!onBlue.some((query) => query.query?.includes('INSERT')), 'a statement that writes never runs');
    await assertReplays(handle);
  });

  it('history queries are replayed as their users by impersonation; when blue and green refuse it the queries are skipped and the step says why', async () => {
    const group = 'shadowimp';
    const fleet = await testbed.fleetWithBlue(group);
    await runThroughGateway(fleet, group, [
      { sql: 'SELECT 11', user: 'alice' },
      { sql: 'SELECT 12', user: 'bob' },
    ]);
    // Green exists before the run (the sandbox provisioner adopts it), so its access control is set from the start.
    await fleet.createCluster({ name: `${group}-green`, version: '480' });
    for (const name of [`${group}-blue`, `${group}-green`])
      await fleet.applyFaults(name, { refuseImpersonation: true });
    const handle = await start(
      fastPlan(fleet.gatewayUrl, group, {
        approval: { required: false },
        retire: { teardown: false },
        shadow: { source: ['history', 'queries'], queries: ['SELECT 13'], onMismatch: 'block' },
      }),
    );
    const result = await handle.result();
    assert.equal(result.outcome, 'SUCCEEDED', 'a refusal on both sides is no mismatch');
    const report = result.status.shadow?.report;
    assert.ok(report);
    assert.deepEqual(
      { matched: report.matched, mismatched: report.mismatched, skipped: report.skipped },
      { matched: 1, mismatched: 0, skipped: 2 },
    );
    assert.deepEqual(report.skippedReasons, [
      { reason: "Trino refused to let the worker's Trino user impersonate the original user", count: 2 },
    ]);
    assert.deepEqual([...(report.impersonationRefused ?? [])].sort(), ['alice', 'bob']);
    assert.ok(
      result.status.timeline.some((entry) =>
        /refused to let the worker's Trino user impersonate (alice, bob|bob, alice), so their queries were skipped/.test(
          entry.message,
        ),
      ),
      'the timeline says which users could not be impersonated and what to do',
    );
    // The worker authenticated as itself (Basic, user cutover) and asked for alice: Trino's own words.
    const onBlue = await queriesOn(fleet.cluster(`${group}-blue`)!.url);
    const replay = onBlue.find((query) => query.query === 'SELECT 11' && query.errorName === 'PERMISSION_DENIED');
    assert.equal(replay?.user, 'alice');
    await assertReplays(handle);
  });

  it('impersonation refused by green only is a mismatch that says so', async () => {
    const group = 'shadowimpgreen';
    const fleet = await testbed.fleetWithBlue(group);
    await runThroughGateway(fleet, group, [{ sql: 'SELECT 21', user: 'carol' }]);
    await fleet.createCluster({ name: `${group}-green`, version: '480' });
    await fleet.applyFaults(`${group}-green`, { refuseImpersonation: true });
    const handle = await start(
      fastPlan(fleet.gatewayUrl, group, {
        approval: { required: false },
        retire: { teardown: false },
        shadow: { source: ['history'], onMismatch: 'warn' },
      }),
    );
    const result = await handle.result();
    assert.equal(result.outcome, 'SUCCEEDED');
    const mismatch = result.status.shadow?.report.mismatches[0];
    assert.equal(mismatch?.user, 'carol');
    assert.equal(mismatch?.greenError, 'PERMISSION_DENIED');
    assert.match(mismatch?.reason ?? '', /only green refused to let the worker's Trino user impersonate carol/);
    assert.equal(result.status.shadow?.report.impersonationRefused, undefined);
  });

  it('a group with two blue backends: pairs spread round-robin over both, each at most `concurrency` at a time, a mismatch names its blue', async () => {
    const group = 'shadowtwoblue';
    const [blueA, blueB] = [`${group}-blue-a`, `${group}-blue-b`];
    const fleet = await testbed.fleet({
      healthIntervalMs: 100,
      clusters: [
        { name: blueA, version: '470', routingGroup: group },
        { name: blueB, version: '470', routingGroup: group },
      ],
    });
    await untilHealthy(fleet, blueA);
    await untilHealthy(fleet, blueB);
    const queries = [
      ...Array.from({ length: 6 }, (_, i) => `/* sandbox:duration=400ms */ SELECT ${i + 31}`),
      RELEASE_ANSWER_QUERY,
    ];
    const handle = await start(
      fastPlan(fleet.gatewayUrl, group, {
        approval: { required: false },
        retire: { teardown: false },
        shadow: { source: ['queries'], queries, sample: queries.length, concurrency: 1, onMismatch: 'warn' },
      }),
    );
    const result = await handle.result();
    assert.equal(result.outcome, 'SUCCEEDED');
    const report = result.status.shadow?.report;
    assert.deepEqual([report?.matched, report?.mismatched], [6, 1]);

    const replays = async (name: string) =>
      (await queriesOn(fleet.cluster(name)!.url)).filter((query) => queries.slice(0, 6).includes(query.query ?? ''));
    const [onA, onB] = [await replays(blueA), await replays(blueB)];
    const texts = (list: QuerySummary[]) => list.map((query) => query.query).sort();
    assert.deepEqual(texts(onA), [queries[0], queries[2], queries[4]].sort(), 'even pairs on blue-a');
    assert.deepEqual(texts(onB), [queries[1], queries[3], queries[5]].sort(), 'odd pairs on blue-b');
    // concurrency 1: never two replays at once on one blue, while the two blues ran side by side.
    const overlaps = (a: QuerySummary, b: QuerySummary) =>
      Date.parse(a.createTime!) < Date.parse(b.endTime!) && Date.parse(b.createTime!) < Date.parse(a.endTime!);
    for (const list of [onA, onB])
      for (const [i, a] of list.entries())
        for (const b of list.slice(i + 1))
          assert.ok(!overlaps(a, b), `${a.query} and ${b.query} overlapped on one blue`);
    assert.ok(
      onA.some((a) => onB.some((b) => overlaps(a, b))),
      'the two blues replayed at the same time',
    );

    const mismatch = report?.mismatches[0];
    assert.equal(mismatch?.blue, blueA, 'the release_answer query is pair 6: blue-a ran it');
    const idsOnA = (await queriesOn(fleet.cluster(blueA)!.url)).map((query) => query.queryId);
    assert.ok(mismatch?.blueQueryId && idsOnA.includes(mismatch.blueQueryId), 'its blue query id is one blue-a ran');
    assert.ok(
      result.status.timeline.some((entry) => entry.message.includes(`blue ${blueA} ${mismatch?.blueQueryId}`)),
      'the timeline names the blue of the mismatch',
    );
    await assertReplays(handle);
  });
});

describe('shadow validation: the query file on a retried attempt and out of bounds (activity)', () => {
  const blue = new SimulatedCoordinator({ name: 'file-blue', version: '470' });
  const green = new SimulatedCoordinator({ name: 'file-green', version: '480' });
  const deps = integrationsFromEnv(
    {},
    fixedPolicy(
      validatePolicy({ ...TEST_POLICY_INPUT, shadow: { queryDirectory: QUERY_DIRECTORY } }, 'query directory'),
    ),
  );
  const { shadowGreen } = createActivities(deps);
  before(() => Promise.all([blue.start(), green.start()]));
  after(async () => {
    await deps.close();
    await Promise.all([blue.stop(), green.stop()]);
    rmSync(ROOT, { recursive: true, force: true });
  });

  function input(queryFile: string): ShadowGreenInput {
    const plan = fastPlan('http://127.0.0.1:1', 'g', { shadow: { source: ['file'], queryFile } });
    return {
      gateway: { url: 'http://127.0.0.1:1', requestTimeout: '5s' },
      routingGroup: 'g',
      blueUrl: blue.url,
      greenUrl: green.url,
      shadow: plan.shadow!,
    };
  }

  const attempt = (heartbeatDetails?: unknown) =>
    new MockActivityEnvironment({ heartbeatDetails }, { logger: new DefaultLogger('ERROR') });

  it('a retried attempt does not run the statements of a query file changed since the sample was taken', async () => {
    const path = join(QUERY_DIRECTORY, 'changing.sql');
    writeFileSync(path, 'SELECT 41;\nSELECT 42;');
    const first = attempt();
    let progress: unknown;
    first.on('heartbeat', (details: unknown) => (progress = details));
    const report = await first.run<[ShadowGreenInput], ShadowReport, typeof shadowGreen>(
      shadowGreen,
      input('changing.sql'),
    );
    assert.deepEqual([report.fromFile, report.matched], [2, 2]);

    // The same sample, as a worker that died before finishing any pair left it, and a file that changed meanwhile.
    const pending = { ...(progress as { marks: string }), marks: '..' };
    writeFileSync(path, `SELECT 42;\n${RELEASE_ANSWER_QUERY};`);
    const retried = await attempt(pending).run<[ShadowGreenInput], ShadowReport, typeof shadowGreen>(
      shadowGreen,
      input('changing.sql'),
    );
    assert.deepEqual([retried.matched, retried.mismatched, retried.skipped], [0, 0, 2]);
    assert.match(retried.skippedReasons[0]?.reason ?? '', /a changed query file/);
    const client = new TrinoHttpClient({ url: blue.url, connections: 1 });
    const ran = (await client.listQueries()).map((query) => query.query);
    await client.close();
    assert.ok(!ran.includes(RELEASE_ANSWER_QUERY), "the changed file's statements did not run");
  });

  it('a query file that leads out of the directory by a symbolic link fails the step, naming the file', async () => {
    const outside = join(ROOT, 'outside.sql');
    writeFileSync(outside, 'SELECT 1;');
    symlinkSync(outside, join(QUERY_DIRECTORY, 'escape.sql'));
    await assert.rejects(attempt().run(shadowGreen, input('escape.sql')), (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure);
      assert.equal(error.type, 'ShadowQueryFileRefused');
      assert.equal(error.nonRetryable, true);
      assert.match(error.message, /query file escape\.sql leaves the worker's query directory/);
      return true;
    });
  });
});
