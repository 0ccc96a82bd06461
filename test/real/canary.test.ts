/**
 * Canary 10% -> 100% through a real Trino Gateway's FILE routing rules (MVEL), on its own real
 * stack: PostgreSQL, Trino Gateway 20, Trino 470 (blue) and 476 (green), a Temporal dev server and
 * a cutover worker with its real integrations. `npm run test:real`; docs/real-stack.md.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { startUpgrade } from '../../src/client/upgrades';
import { sleep, until, waitForStatus } from '../../src/devserver/wait';
import { canaryAction, canaryCondition } from '../../src/integrations/traffic/routing-rule';
import { windowAround, type TimeWindow } from '../../src/integrations/traffic/selector';
import { queryTypeOf } from '../../src/sandbox/query-properties';
import { javaFloorMod, javaStringHashCode } from '../../src/sandbox/routing-rules';
import { startQueryLoad, type LoadQuery } from '../../src/sandbox/load';
import { promoteUpdate } from '../../src/workflows/messages';
import { progress } from '../../scripts/real-stack/stack';
import {
  activatedAt,
  BLUE,
  CANARY_USERS,
  CANARY_USERS_AT_10_ON_REAL_GATEWAY,
  coordinatorIdOf,
  coordinatorQueries,
  deactivatedAt,
  describeLoad,
  failures,
  firstSeen,
  GREEN,
  GROUP,
  queryHistory,
  realPlan,
  versionThrough,
  watchGateway,
  watchRule,
} from './support';
import { signedBy, useRealTestbed } from './testbed';

/** The rule and group the rules copy of the stack (deploy/gateway/routing-rules.yaml) already has. */
const RULE = 'cutover-canary-adhoc';
const CANARY_GROUP = `${GROUP}-canary`;
/** The gateway's `routingRules.rulesRefreshPeriod` (deploy/real-stack/gateway-config.yaml). */
const GATEWAY_RULES_REFRESH_MS = 2_000;
/** After a backend or rule change is visible in the API, how long the router may still act on the old state. */
const ROUTING_SETTLE_MS = 1_000;
/** Queries per user the 10% window must hold; the test promotes one round later (the window ends before the flip). */
const WINDOW_ROUNDS = 2;
/** Another routing group of the same gateway, served by a second entry of blue's coordinator. */
const OTHER_GROUP = 'etl';
const OTHER_BACKEND = 'etl-blue';
/** The scope cutover writes into adhoc's canary rule: adhoc is also the gateway's default group. */
const SCOPE = { routingGroup: GROUP, defaultRoutingGroup: 'adhoc' };

const bucketOf = (user: string) => javaFloorMod(javaStringHashCode(user), 100);

/**
 * Short TPCH queries (the tiny schema), the same on blue and green, so that every user runs several
 * during the 10% step and the analysis compares the two releases on the same work.
 */
function lightSql(_user: string, i: number): string {
  const queries = [
    'SELECT version()',
    `SELECT count(*) FROM tpch.tiny.lineitem WHERE quantity > ${i % 50}`,
    'SELECT n.name, count(*) FROM tpch.tiny.customer c JOIN tpch.tiny.nation n ON c.nationkey = n.nationkey GROUP BY n.name',
    `SELECT sum(totalprice) FROM tpch.tiny.orders WHERE orderpriority = '${['1-URGENT', '2-HIGH', '3-MEDIUM'][i % 3]}'`,
  ];
  return queries[i % queries.length];
}

describe('real stack: canary 10% -> 100% through the real Trino Gateway FILE rules', { timeout: 15 * 60_000 }, () => {
  // The gateway analyses requests: the second test selects queries by type (trinoQueryProperties).
  const real = useRealTestbed({ analyzeRequest: true });

  async function groupBackends(group: string): Promise<[string, boolean][]> {
    return (await real.gateway.listBackends())
      .filter((b) => b.routingGroup === group)
      .map((b): [string, boolean] => [b.name, b.active])
      .sort((a, b) => a[0].localeCompare(b[0]));
  }

  it('moves 10% of users (by X-Trino-User hash) to green, then 100%: 0 failed, the real MVEL rule agrees with the predicted buckets', async () => {
    try {
      const predicted = CANARY_USERS.filter((user) => bucketOf(user) < 10).sort();
      assert.ok(
        predicted.length >= 3 && predicted.length <= 10,
        `the 10% bucket holds a few of the ${CANARY_USERS.length} users: ${predicted.join(', ')}`,
      );

      // The stack's rules file: the canary rule at 0% targeting adhoc-canary, before the header rule.
      const initial = (await real.gateway.getRoutingRules()).find((rule) => rule.name === RULE);
      assert.equal(initial?.condition, canaryCondition(0), 'the rules file starts with the canary rule at 0%');
      assert.deepEqual(initial?.actions, [canaryAction(CANARY_GROUP, SCOPE)]);

      await real.gateway.upsertBackend({ name: BLUE, proxyTo: real.stack.blue.url, active: true, routingGroup: GROUP });
      // etl's queries (X-Trino-Routing-Group: etl) run on blue's coordinator too, through an entry of etl's own.
      await real.gateway.upsertBackend({
        name: OTHER_BACKEND,
        proxyTo: real.stack.blue.url,
        active: true,
        routingGroup: OTHER_GROUP,
      });
      await until(
        'blue and etl-blue HEALTHY in the gateway',
        async () =>
          (await real.gateway.backendState(BLUE))?.trinoStatus === 'HEALTHY' &&
          (await real.gateway.backendState(OTHER_BACKEND))?.trinoStatus === 'HEALTHY',
        30_000,
        250,
      );
      assert.deepEqual(await groupBackends(GROUP), [[BLUE, true]]);

      const backends = watchGateway(real.stack.gateway.url, GROUP);
      const rule = watchRule(real.stack.gateway.url, RULE);
      // No X-Trino-Routing-Group header: no rule assigns a group, so these land in the default group adhoc.
      const load = startQueryLoad({
        gatewayUrl: real.stack.gateway.url,
        users: CANARY_USERS,
        concurrency: 8,
        durationMs: [0, 0],
        sqlFor: lightSql,
      });
      const started = Date.now();
      const handle = await startUpgrade(
        real.env.client,
        realPlan(real.stack.gateway.url, real.stack.green.url, real.stack.green.version, {
          strategy: 'canary',
          approval: { required: false },
          canary: {
            traffic: 'routing-rule',
            canaryGroup: CANARY_GROUP,
            rulesRefresh: `${GATEWAY_RULES_REFRESH_MS + 1_000}ms`,
            steps: [
              // Ended by promote once every user ran queries at 10%: the window's length follows the load, not the clock.
              { weight: 10, bake: '10m' },
              { weight: 100, bake: '4s' },
            ],
            analysis: { interval: '2s' },
          },
        }),
        { startedBy: 'test:real' },
      );

      const baking = await waitForStatus(
        handle,
        (s) => s.phase === 'BAKING' && s.trafficPercent === 10,
        'baking at 10%',
        5 * 60_000,
      );
      const bakingSeenAt = Date.now();
      // During the 10% step, the same users' queries for etl, which adhoc's canary must never take (the 10% bucket's users first).
      const otherLoad = startQueryLoad({
        gatewayUrl: real.stack.gateway.url,
        users: [...CANARY_USERS].sort((a, b) => Number(bucketOf(b) < 10) - Number(bucketOf(a) < 10)),
        concurrency: 1,
        durationMs: [0, 0],
        routingGroup: OTHER_GROUP,
        sqlFor: lightSql,
      });
      assert.deepEqual(
        await groupBackends(CANARY_GROUP),
        [[`${GREEN}-canary`, true]],
        'the canary entry is active in the canary group',
      );
      assert.ok(
        baking.timeline.some((e) => /10% of users/.test(e.message)),
        'the timeline says 10% of users moved',
      );

      // The load takes users in turn: rounds of starts after BAKING give every user queries at 10%, however
      // slow the machine; one round more than the window needs covers the settle time cut off before the flip.
      const submittedAtBaking = load.report().submitted;
      const rounds = WINDOW_ROUNDS + 1;
      await until(
        `${rounds} rounds of users at 10%`,
        () => load.report().submitted - submittedAtBaking >= rounds * CANARY_USERS.length,
        5 * 60_000,
        250,
      );
      // etl's load ends with the 10% window, and its entry leaves: the drain and retire of blue count on blue alone.
      const otherReport = await otherLoad.stop();
      await real.gateway.deleteBackend(OTHER_BACKEND);
      const promoted = await handle.executeUpdate(promoteUpdate, {
        args: [await signedBy(real.env.client, handle.workflowId, 'promote')],
      });
      assert.ok(
        promoted.accepted && !promoted.message.startsWith('ignored'),
        `promote ended the 10% bake: ${promoted.message}`,
      );

      const result = await handle.result();
      await sleep(2_000);
      const report = await load.stop();
      const samples = await backends.stop();
      const ruleSamples = await rule.stop();
      const totalSeconds = (Date.now() - started) / 1000;
      assert.equal(result.outcome, 'SUCCEEDED', result.reason);

      // Where every query ran: the coordinator that made its query id; the group the gateway's rules chose.
      const history = await queryHistory(real.stack.gateway.url);
      const sideOf = (q: LoadQuery) => real.coordinatorOf.get(coordinatorIdOf(q.queryId ?? ''));
      const unknown = report.queries.filter((q) => !sideOf(q));
      assert.deepEqual(unknown.slice(0, 5), [], 'every query id comes from blue or green');
      const missing = report.queries.filter((q) => !history.has(q.queryId!));
      assert.deepEqual(missing.slice(0, 5), [], `every query is in the gateway's query history (${history.size} rows)`);
      const lists = {
        [BLUE]: await coordinatorQueries(real.stack.blue.url),
        [GREEN]: await coordinatorQueries(real.stack.green.url),
      };
      for (const query of report.queries)
        assert.equal(
          lists[sideOf(query) as typeof BLUE].get(query.queryId!),
          'FINISHED',
          `${query.queryId} FINISHED where it ran`,
        );

      // The 10% window: from the workflow's BAKING at 10% (cutover waited out the rules refresh) to the flip.
      const ruleAt10 = firstSeen(ruleSamples, /< 10$/);
      const greenJoined = activatedAt(samples, GREEN);
      const blueLeft = deactivatedAt(samples, BLUE);
      const ruleBackAt0 = ruleSamples
        .filter((s, i) => i > 0 && / < 0$/.test(s.condition ?? '') && !/ < 0$/.test(ruleSamples[i - 1].condition ?? ''))
        .at(-1)?.at;
      assert.ok(
        ruleAt10 && greenJoined && blueLeft && ruleBackAt0,
        `timeline seen: rule at 10% ${ruleAt10}, green joined ${greenJoined}, blue left ${blueLeft}, rule back ${ruleBackAt0}`,
      );
      const windowStart = bakingSeenAt;
      const windowEnd = greenJoined - ROUTING_SETTLE_MS;
      const inWindow = report.queries.filter((q) => q.startedAt >= windowStart && q.startedAt < windowEnd);
      const before10 = report.queries.filter((q) => q.startedAt < ruleAt10);
      const after100 = report.queries.filter((q) => q.startedAt > blueLeft + ROUTING_SETTLE_MS);

      // How fast the router follows a rule change: canary-bucket users' group before and after the write.
      const bucketUsers = report.queries.filter((q) => bucketOf(q.user) < 10);
      const lastOldGroup = Math.max(
        ...bucketUsers
          .filter((q) => q.startedAt < windowStart && history.get(q.queryId!)?.routingGroup === GROUP)
          .map((q) => q.startedAt),
      );
      const firstNewGroup = Math.min(
        ...bucketUsers.filter((q) => history.get(q.queryId!)?.routingGroup === CANARY_GROUP).map((q) => q.startedAt),
      );
      const lastCanaryGroup = Math.max(
        ...bucketUsers.filter((q) => history.get(q.queryId!)?.routingGroup === CANARY_GROUP).map((q) => q.startedAt),
      );
      const sides = new Map<string, Set<string>>();
      for (const query of inWindow)
        (sides.get(query.user) ?? sides.set(query.user, new Set()).get(query.user)!).add(sideOf(query)!);
      const observed = [...sides]
        .filter(([, set]) => set.has(GREEN))
        .map(([user]) => user)
        .sort();
      const onGreen = inWindow.filter((q) => sideOf(q) === GREEN).length;
      const perUser = CANARY_USERS.map((user) => inWindow.filter((q) => q.user === user).length);
      const count = (queries: LoadQuery[], side: string) => queries.filter((q) => sideOf(q) === side).length;
      progress(
        `canary (${totalSeconds.toFixed(1)} s): ${report.submitted} queries, ${report.failed} failed; blue ${count(report.queries, BLUE)}, green ${count(report.queries, GREEN)}; ` +
          `gateway names ${describeLoad(report.byBackend)}; ` +
          `10% window ${((windowEnd - windowStart) / 1000).toFixed(1)} s: ${inWindow.length} queries, ${onGreen} on green (${((100 * onGreen) / Math.max(1, inWindow.length)).toFixed(1)}%), ` +
          `${Math.min(...perUser)}-${Math.max(...perUser)} per user; users on green ${observed.join(',')} vs predicted ${predicted.join(',')}; ` +
          `rule at 10% seen ${ruleAt10 - started} ms after start, BAKING ${bakingSeenAt - ruleAt10} ms after that; ` +
          `bucket users: last routed to ${GROUP} ${lastOldGroup - ruleAt10} ms, first to ${CANARY_GROUP} ${firstNewGroup - ruleAt10} ms after the rule was seen at 10%, ` +
          `last to ${CANARY_GROUP} ${lastCanaryGroup - ruleBackAt0} ms after it was seen back at 0%; ` +
          `green joined ${GROUP} ${greenJoined - started} ms, blue left ${blueLeft - greenJoined} ms later, rule back at 0% ${ruleBackAt0 - blueLeft} ms after that`,
      );

      assert.equal(report.failed, 0, `no query failed: ${failures(report.queries)}`);
      assert.ok(report.queries.every((q) => q.state === 'FINISHED'));

      // etl's queries, the canary-bucket users' included, all ran in etl on blue: none reached adhoc's canary.
      const otherBucket = otherReport.queries.filter((q) => bucketOf(q.user) < 10);
      progress(
        `etl during the 10% step: ${otherReport.submitted} queries, ${otherBucket.length} of them by users of the 10% bucket, ${otherReport.failed} failed`,
      );
      assert.equal(otherReport.failed, 0, `no etl query failed: ${failures(otherReport.queries)}`);
      assert.ok(otherBucket.length > 0, "users of adhoc's canary bucket ran etl queries during the 10% window");
      for (const query of otherReport.queries) {
        assert.equal(sideOf(query), BLUE, `etl query ${query.queryId} of ${query.user} ran on blue's coordinator`);
        assert.equal(history.get(query.queryId!)?.routingGroup, OTHER_GROUP, `${query.queryId} was routed to etl`);
      }

      // The analysis compared 476 (green) with 470 (blue) on the same TPCH queries: at 100% against blue's baseline.
      const last = result.status.analysis?.last;
      progress(
        `analysis: last sample ${last?.verdict}: green ${last?.green?.finished} finished, p50 ${last?.green?.p50Ms} ms, p95 ${last?.green?.p95Ms} ms; ` +
          `blue${last?.blue?.baselineOf ? ` (${last.blue.baselineOf})` : ''} ${last?.blue?.finished} finished, p50 ${last?.blue?.p50Ms} ms, p95 ${last?.blue?.p95Ms} ms; ` +
          `notes: ${last?.notes?.join('; ')}`,
      );
      assert.equal(last?.verdict, 'pass', `the last sample passed: ${JSON.stringify(last)}`);
      assert.ok(
        (last?.green?.latencyCount ?? 0) > 0 && last?.green?.p50Ms !== undefined,
        `green's window has finished queries with their elapsed time: ${JSON.stringify(last?.green)}`,
      );
      assert.ok(
        (last?.blue?.latencyCount ?? 0) > 0 && last?.blue?.p50Ms !== undefined,
        `blue's window (or baseline) has finished queries with their elapsed time: ${JSON.stringify(last?.blue)}`,
      );
      // Stickiness needs users with several queries in the window: the promote above waited for them.
      assert.ok(
        perUser.every((n) => n >= WINDOW_ROUNDS),
        `every user ran ${WINDOW_ROUNDS}+ queries in the 10% window (${perUser.join(' ')})`,
      );

      // The real gateway's MVEL evaluation matches the sandbox's Java hashCode / floorMod semantics.
      assert.deepEqual(
        observed,
        predicted,
        'the users on green during the 10% step are exactly those with floorMod(hashCode, 100) < 10',
      );
      assert.deepEqual(
        observed,
        CANARY_USERS_AT_10_ON_REAL_GATEWAY,
        'as pinned for the sandbox in test/sandbox-real-parity.test.ts',
      );
      const switched = [...sides].filter(([, set]) => set.size > 1).map(([user]) => user);
      assert.deepEqual(switched, [], 'each user stayed on one side during the 10% step');
      assert.ok(
        onGreen > 0 && onGreen < inWindow.length / 2,
        `some queries on green, most on blue (${onGreen} of ${inWindow.length})`,
      );
      for (const query of inWindow) {
        const wanted = bucketOf(query.user) < 10 ? CANARY_GROUP : GROUP;
        assert.equal(
          history.get(query.queryId!)?.routingGroup,
          wanted,
          `${query.user} (bucket ${bucketOf(query.user)}) routed to ${wanted}`,
        );
      }
      assert.ok(
        lastOldGroup - ruleAt10 <= GATEWAY_RULES_REFRESH_MS + ROUTING_SETTLE_MS,
        'the router follows the rule within its refresh period',
      );
      assert.ok(
        lastCanaryGroup - ruleBackAt0 <= GATEWAY_RULES_REFRESH_MS + ROUTING_SETTLE_MS,
        'and follows it back to 0% within its refresh period',
      );
      assert.deepEqual(
        before10.filter((q) => sideOf(q) !== BLUE).slice(0, 5),
        [],
        'before the rule went to 10% every query ran on blue',
      );
      assert.ok(after100.length > 0, 'queries ran after the flip');
      assert.deepEqual(
        after100.filter((q) => sideOf(q) !== GREEN).slice(0, 5),
        [],
        'after blue left the group every query ran on green',
      );
      assert.ok(
        samples.every((s) => s.healthyActive.length > 0),
        'the group always had an active HEALTHY backend',
      );

      // End state: the rule back at 0% (in the API and in the file), only green active in the group.
      const final = (await real.gateway.getRoutingRules()).find((r) => r.name === RULE);
      assert.equal(final?.condition, canaryCondition(0), `the gateway's ${RULE} rule is back at < 0`);
      assert.deepEqual(
        final?.actions,
        [canaryAction(CANARY_GROUP, SCOPE)],
        'stored with the check of the assigned group',
      );
      const file = parseAllDocuments(readFileSync(real.stack.gateway.rulesPath, 'utf8'))
        .map((doc) => doc.toJSON() as { name: string; condition: string; actions: string[] } | null)
        .filter((r) => r !== null);
      assert.deepEqual(
        file.map((r) => r.name).sort(),
        ['cutover-canary-adhoc', 'routing-group-header'],
        'the rules file still holds both rules',
      );
      assert.equal(
        file.find((r) => r.name === RULE)?.condition,
        canaryCondition(0),
        'the rules file has the rule at < 0',
      );
      assert.deepEqual(
        file.find((r) => r.name === RULE)?.actions,
        [
          'if (result.get("routingGroup") == null || "adhoc".equals(result.get("routingGroup"))) { result.put("routingGroup", "adhoc-canary") }',
        ],
        "the rules file's action takes only adhoc's requests",
      );
      // The flip activates green in the group, then deactivates blue; the rule goes back to 0% after that
      // (the backend watcher stamps a sample after its requests, the rule watcher before, so allow the settle time).
      assert.ok(ruleBackAt0 > greenJoined - ROUTING_SETTLE_MS, 'the rule went back to 0% after green joined the group');
      assert.deepEqual(await groupBackends(GROUP), [[GREEN, true]], 'only green, active, in the group');
      assert.deepEqual(await groupBackends(CANARY_GROUP), [], 'the canary entry is gone');
      assert.equal(
        (await versionThrough(real.stack.gateway.url, 'wen')).version,
        real.stack.green.version,
        'a canary-bucket user reaches green',
      );
      assert.equal(
        (await versionThrough(real.stack.gateway.url, 'bianca')).version,
        real.stack.green.version,
        'any other user reaches green',
      );
    } catch (error) {
      real.markFailed();
      throw error;
    }
  });

  it('a selector on the real gateway: 10% of SELECT queries from superset inside a time window go to the canary, nothing else', async () => {
    // Runs on the end state of the test above: green (476) serves adhoc; this canary moves adhoc back to
    // the 470 coordinator, registered under a new name, and selects by source, query type and time of day.
    const target = 'trino-470';
    const window = openWindowNow();
    const sources = ['superset', 'airflow', undefined] as const;
    const usersCount = CANARY_USERS.length;
    // Round k of the load (every user once): source k % 3, SELECT on even rounds, EXPLAIN on odd ones,
    // so every user sends each combination within 6 rounds.
    const roundOf = (i: number) => Math.floor(i / usersCount);
    const sourceOf = (i: number) => sources[roundOf(i) % sources.length];
    try {
      assert.deepEqual(await groupBackends(GROUP), [[GREEN, true]], 'green serves adhoc after the first test');
      const rule = watchRule(real.stack.gateway.url, RULE);
      const backends = watchGateway(real.stack.gateway.url, GROUP);
      const load = startQueryLoad({
        gatewayUrl: real.stack.gateway.url,
        users: CANARY_USERS,
        concurrency: 8,
        durationMs: [0, 0],
        sqlFor: (user, i) => `${roundOf(i) % 2 === 0 ? '' : 'EXPLAIN '}${lightSql(user, i)}`,
        headersFor: (_user, i): Record<string, string> => {
          const source = sourceOf(i);
          return source ? { 'X-Trino-Source': source } : {};
        },
      });
      const handle = await startUpgrade(
        real.env.client,
        realPlan(real.stack.gateway.url, real.stack.blue.url, real.stack.blue.version, {
          strategy: 'canary',
          approval: { required: false },
          blue: { backends: [GREEN] },
          green: {
            name: target,
            version: real.stack.blue.version,
            url: real.stack.blue.url,
            provisioner: { type: 'static' },
          },
          canary: {
            traffic: 'routing-rule',
            canaryGroup: CANARY_GROUP,
            rulesRefresh: `${GATEWAY_RULES_REFRESH_MS + 1_000}ms`,
            selector: { source: { include: ['superset'] }, queryTypes: ['SELECT'], timeWindow: window },
            steps: [
              { weight: 10, bake: '10m' },
              { weight: 100, bake: '4s' },
            ],
            analysis: { interval: '2s', minQueries: 0 },
          },
        }),
        { startedBy: 'test:real' },
      );
      const baking = await waitForStatus(
        handle,
        (s) => s.phase === 'BAKING' && s.trafficPercent === 10,
        'baking at 10% with a selector',
        5 * 60_000,
      );
      const bakingSeenAt = Date.now();
      assert.ok(
        baking.timeline.some((e) =>
          e.message.startsWith(`10% of SELECT queries from superset, ${window.from}-${window.to} UTC go to`),
        ),
        `the timeline says the selector in words: ${baking.timeline.map((e) => e.message).join(' | ')}`,
      );
      const submittedAtBaking = load.report().submitted;
      await until(
        '7 rounds of users with the selector at 10%',
        () => load.report().submitted - submittedAtBaking >= 7 * usersCount,
        5 * 60_000,
        250,
      );
      await handle.executeUpdate(promoteUpdate, {
        args: [await signedBy(real.env.client, handle.workflowId, 'promote')],
      });
      const result = await handle.result();
      const report = await load.stop();
      const samples = await backends.stop();
      const ruleSamples = await rule.stop();
      assert.equal(result.outcome, 'SUCCEEDED', result.reason);
      assert.equal(report.failed, 0, `no query failed: ${failures(report.queries)}`);
      assert.ok(
        ruleSamples.some((sample) => / && \(Math\.floorMod\(java\.time\.LocalTime\.now/.test(sample.condition ?? '')),
        'the real gateway stored the rule with its selector clauses',
      );

      const history = await queryHistory(real.stack.gateway.url);
      const joined = activatedAt(samples, target);
      assert.ok(joined, `${target} joined ${GROUP}`);
      const inWindow = report.queries.filter(
        (q) => q.startedAt >= bakingSeenAt && q.startedAt < joined - ROUTING_SETTLE_MS,
      );
      const sideOf = (q: LoadQuery) => real.coordinatorOf.get(coordinatorIdOf(q.queryId ?? ''));
      const counts = new Map<string, number>();
      const wrong: string[] = [];
      for (const query of inWindow) {
        const source = sourceOf(query.index);
        const type = queryTypeOf(lightSql(query.user, query.index)) === 'SELECT' && roundOf(query.index) % 2 === 0;
        const selected = source === 'superset' && type && bucketOf(query.user) < 10;
        const group = history.get(query.queryId!)?.routingGroup;
        if (group !== (selected ? CANARY_GROUP : GROUP))
          wrong.push(`${query.user}/${source}/${type ? 'SELECT' : 'EXPLAIN'} -> ${group}`);
        // The canary entry is the 470 coordinator (BLUE's); everything else still runs on green (476).
        if (sideOf(query) !== (selected ? BLUE : GREEN)) wrong.push(`${query.queryId} ran on ${sideOf(query)}`);
        const key = `${source ?? '(none)'}/${type ? 'SELECT' : 'EXPLAIN'}/${bucketOf(query.user) < 10 ? 'bucket' : 'other'}:${group === CANARY_GROUP ? 'canary' : 'adhoc'}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      progress(
        `selector canary: ${inWindow.length} queries in the 10% window; ${[...counts]
          .sort()
          .map(([k, n]) => `${k} ${n}`)
          .join(', ')}`,
      );
      assert.deepEqual(wrong.slice(0, 10), [], 'the real gateway routed exactly the selected queries to the canary');
      assert.ok(
        (counts.get('superset/SELECT/bucket:canary') ?? 0) > 0,
        'selected queries of bucket users reached the canary',
      );
      const final = (await real.gateway.getRoutingRules()).find((r) => r.name === RULE);
      assert.equal(final?.condition, canaryCondition(0), 'the rule is back at 0% without its selector');
      assert.deepEqual(await groupBackends(GROUP), [[target, true]], `${target} serves ${GROUP}`);
    } catch (error) {
      real.markFailed();
      throw error;
    }
  });
});

/** A two-hour window in UTC around now, as HH:MM (wrapping midnight when now is near it). */
function openWindowNow(): TimeWindow {
  return windowAround(Date.now(), -60, 60);
}
