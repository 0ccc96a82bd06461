/**
 * Canary selectors without a dev server: the rule text cutover writes, the sandbox gateway's
 * evaluation of every clause shape (parity with the real gateway's MVEL as read from its source),
 * the request analyzer's properties for simple statements, plan validation, and the selection of
 * blue's queries the analysis compares green with.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { blueSelection } from '../src/analysis/selected-traffic';
import { canaryCondition, weightOfRule } from '../src/integrations/traffic/routing-rule';
import {
  describeSelection,
  inTimeWindow,
  secondsOfDayIn,
  type CanarySelector,
} from '../src/integrations/traffic/selector';
import type { QuerySummary } from '../src/integrations/trino/types';
import { parsePlan, PlanError } from '../src/plan/load';
import { analyzeStatement, NO_STATEMENT, queryTypeOf } from '../src/sandbox/query-properties';
import {
  compileRoutingRule,
  compileRoutingRules,
  javaFloorMod,
  javaStringHashCode,
  RuleEvaluationError,
  selectRoutingGroup,
  UnsupportedRoutingRuleError,
  type RuleRequest,
} from '../src/sandbox/routing-rules';

const bucketOf = (user: string) => javaFloorMod(javaStringHashCode(user), 100);
/** Users in the 10% bucket and out of it. */
const IN = ['abc', 'user-35'].find((user) => bucketOf(user) < 10) ?? findUser((b) => b < 10);
const OUT = findUser((b) => b >= 10);

function findUser(wanted: (bucket: number) => boolean): string {
  for (let i = 0; ; i++) if (wanted(bucketOf(`u${i}`))) return `u${i}`;
}

/** A time window of two hours around (or away from) `at` in UTC, as HH:MM. */
function windowAround(at: number, open: boolean): CanarySelector['timeWindow'] {
  const minutes = Math.floor(secondsOfDayIn('UTC', at) / 60) + (open ? -60 : 180);
  const hhmm = (m: number) => {
    const wrapped = ((m % 1440) + 1440) % 1440;
    return `${String(Math.floor(wrapped / 60)).padStart(2, '0')}:${String(wrapped % 60).padStart(2, '0')}`;
  };
  return { from: hhmm(minutes), to: hhmm(minutes + 120), timeZone: 'UTC' };
}

function request(
  headers: Record<string, string>,
  sql?: string,
  options: { analyzer?: boolean; now?: number } = {},
): RuleRequest {
  const lookup = (name: string) =>
    Object.entries(headers).find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];
  return {
    header: lookup,
    queryProperties:
      options.analyzer === false
        ? undefined
        : sql === undefined
          ? NO_STATEMENT
          : analyzeStatement(sql, { catalog: lookup('X-Trino-Catalog'), schema: lookup('X-Trino-Schema') }),
    now: options.now ?? Date.now(),
  };
}

function groupFor(selector: CanarySelector | undefined, req: RuleRequest, percent = 10): string | undefined {
  const rule = {
    name: 'cutover-canary-adhoc',
    priority: 10,
    condition: canaryCondition(percent, selector),
    actions: ['result.put("routingGroup", "adhoc-canary")'],
  };
  return selectRoutingGroup(compileRoutingRules([rule]), req);
}

describe('canary selectors: the rule cutover writes', () => {
  it('keeps the rule text of plans without a selector byte for byte, and weightOfRule reads both', () => {
    assert.equal(
      canaryCondition(25),
      'request.getHeader("X-Trino-User") != null && Math.floorMod(request.getHeader("X-Trino-User").hashCode(), 100) < 25',
    );
    const selector: CanarySelector = {
      source: { include: ['superset'] },
      queryTypes: ['SELECT'],
      timeWindow: { from: '22:00', to: '06:00', timeZone: 'Europe/Berlin' },
    };
    const condition = canaryCondition(10, selector);
    assert.equal(
      condition,
      'request.getHeader("X-Trino-User") != null && Math.floorMod(request.getHeader("X-Trino-User").hashCode(), 100) < 10' +
        ' && (("superset".equals(request.getHeader("X-Trino-Source"))))' +
        ' && (("SELECT".equals(trinoQueryProperties.getResourceGroupQueryType())))' +
        ' && (Math.floorMod(java.time.LocalTime.now(java.time.ZoneId.of("Europe/Berlin")).toSecondOfDay() - 79200, 86400) < 28800)',
    );
    const rule = { name: 'r', condition, actions: [] };
    assert.equal(weightOfRule(rule), 10);
    assert.equal(weightOfRule({ ...rule, condition: canaryCondition(0) }), 0);
    assert.equal(weightOfRule({ ...rule, condition: 'true' }), undefined);
    assert.equal(
      describeSelection(10, selector),
      '10% of SELECT queries from superset, 22:00-06:00 Europe/Berlin',
      'the selector in words, as the status says it',
    );
  });
});

describe('canary selectors: the sandbox gateway evaluates each clause as the real MVEL does', () => {
  it('users: only the listed users, the hash share inside them', () => {
    const selector = { users: [IN, OUT] };
    assert.equal(groupFor(selector, request({ 'X-Trino-User': IN })), 'adhoc-canary');
    assert.equal(groupFor(selector, request({ 'X-Trino-User': OUT })), undefined, 'listed but outside the 10% bucket');
    const unlisted = findUser((b) => b < 10 && b !== bucketOf(IN));
    assert.equal(groupFor(selector, request({ 'X-Trino-User': unlisted })), undefined, 'in the bucket, not listed');
    assert.equal(groupFor(selector, request({ 'X-Trino-User': OUT }), 100), 'adhoc-canary');
  });

  it('userPattern: a whole-string match, like Java String.matches', () => {
    const user = findUser((b) => b < 10);
    assert.equal(groupFor({ userPattern: 'u[0-9]+' }, request({ 'X-Trino-User': user })), 'adhoc-canary');
    assert.equal(groupFor({ userPattern: 'u' }, request({ 'X-Trino-User': user })), undefined, 'a prefix is no match');
  });

  it('source include and exclude: X-Trino-Source; a query without a source is excluded by include only', () => {
    const include = { source: { include: ['superset'] } };
    const exclude = { source: { exclude: ['airflow'] } };
    assert.equal(groupFor(include, request({ 'X-Trino-User': IN, 'X-Trino-Source': 'superset' })), 'adhoc-canary');
    assert.equal(groupFor(include, request({ 'X-Trino-User': IN, 'X-Trino-Source': 'airflow' })), undefined);
    assert.equal(groupFor(include, request({ 'X-Trino-User': IN })), undefined);
    assert.equal(groupFor(exclude, request({ 'X-Trino-User': IN, 'X-Trino-Source': 'airflow' })), undefined);
    assert.equal(groupFor(exclude, request({ 'X-Trino-User': IN, 'X-Trino-Source': 'superset' })), 'adhoc-canary');
    assert.equal(groupFor(exclude, request({ 'X-Trino-User': IN })), 'adhoc-canary');
  });

  it('clientTags: every listed tag among the comma-separated X-Trino-Client-Tags', () => {
    const selector = { clientTags: ['nightly', 'bi'] };
    const tagged = (tags: string) => request({ 'X-Trino-User': IN, 'X-Trino-Client-Tags': tags });
    assert.equal(groupFor(selector, tagged('bi, nightly,x')), 'adhoc-canary');
    assert.equal(groupFor(selector, tagged('nightly')), undefined, 'one tag missing');
    assert.equal(groupFor(selector, tagged('nightly-2,bi')), undefined, 'a longer tag is another tag');
    assert.equal(groupFor(selector, request({ 'X-Trino-User': IN })), undefined, 'no header');
  });

  it('queryTypes, catalogs and schemas: the request analyzer properties of the statement', () => {
    const user = { 'X-Trino-User': IN };
    assert.equal(groupFor({ queryTypes: ['SELECT'] }, request(user, 'SELECT 1')), 'adhoc-canary');
    assert.equal(groupFor({ queryTypes: ['SELECT'] }, request(user, 'INSERT INTO a.b.c VALUES 1')), undefined);
    assert.equal(groupFor({ queryTypes: ['SELECT'] }, request(user)), undefined, 'a GET carries no statement');
    const read = 'SELECT * FROM tpch.tiny.nation n JOIN customer c ON n.nationkey = c.nationkey';
    const session = { ...user, 'X-Trino-Catalog': 'hive', 'X-Trino-Schema': 'sales' };
    assert.equal(groupFor({ catalogs: ['hive'] }, request(session, read)), 'adhoc-canary', 'customer is hive.sales');
    assert.equal(groupFor({ catalogs: ['tpch'] }, request(user, read)), undefined, 'unqualified without defaults');
    assert.equal(groupFor({ schemas: ['tpch.tiny'] }, request(session, read)), 'adhoc-canary');
    assert.equal(groupFor({ schemas: ['tpch.sf1'] }, request(session, read)), undefined);
  });

  it('fails like the real gateway when a shape clause runs without the request analyzer, and not below the share', () => {
    assert.throws(
      () => groupFor({ queryTypes: ['SELECT'] }, request({ 'X-Trino-User': IN }, 'SELECT 1', { analyzer: false })),
      RuleEvaluationError,
    );
    assert.equal(
      groupFor({ queryTypes: ['SELECT'] }, request({ 'X-Trino-User': OUT }, 'SELECT 1', { analyzer: false })),
      undefined,
      '&& stops at the share: the clause is not evaluated outside the bucket',
    );
  });

  it('timeWindow: only inside the daily window of its time zone, wrapping midnight', () => {
    const now = Date.now();
    const user = { 'X-Trino-User': IN };
    assert.equal(groupFor({ timeWindow: windowAround(now, true) }, request(user)), 'adhoc-canary');
    assert.equal(groupFor({ timeWindow: windowAround(now, false) }, request(user)), undefined);
    const night = { from: '22:00', to: '06:00', timeZone: 'Europe/Berlin' };
    assert.equal(inTimeWindow(night, Date.parse('2026-01-15T22:30:00Z')), true, '23:30 in Berlin (CET)');
    assert.equal(inTimeWindow(night, Date.parse('2026-01-15T04:59:00Z')), true, '05:59 in Berlin');
    assert.equal(inTimeWindow(night, Date.parse('2026-01-15T05:00:00Z')), false, '06:00 in Berlin: closed');
    assert.equal(inTimeWindow(night, Date.parse('2026-07-15T20:30:00Z')), true, '22:30 in Berlin (CEST)');
    assert.equal(inTimeWindow(night, Date.parse('2026-07-15T12:00:00Z')), false);
    const rule = compileRoutingRule({ name: 'r', condition: canaryCondition(10, { timeWindow: night }), actions: [] });
    const at = (iso: string) =>
      selectRoutingGroup([{ ...rule, actions: [{ kind: 'group', group: 'c' }] }], {
        ...request(user),
        now: Date.parse(iso),
      });
    assert.equal(at('2026-01-15T23:00:00Z'), 'c');
    assert.equal(at('2026-01-15T12:00:00Z'), undefined);
  });

  it('refuses a clause it does not know, and one of a known shape written differently', () => {
    const base = canaryCondition(10);
    for (const clause of [
      '("superset".equals(request.getHeader("X-Trino-Catalog")))',
      '(trinoQueryProperties.getTables().contains("a.b.c"))',
      '(Math.floorMod(java.time.LocalTime.now(java.time.ZoneId.of("Mars/Olympus")).toSecondOfDay() - 0, 86400) < 60)',
      '(!("superset".equals(request.getHeader("X-Trino-User"))))',
      '(true)',
    ]) {
      assert.throws(
        () => compileRoutingRule({ name: 'r', condition: `${base} && ${clause}`, actions: [] }),
        UnsupportedRoutingRuleError,
        clause,
      );
    }
    assert.throws(
      () => compileRoutingRule({ name: 'r', condition: `${base} || true`, actions: [] }),
      UnsupportedRoutingRuleError,
    );
  });
});

describe('canary selectors: the request analyzer for simple statements', () => {
  it('types statements as StatementUtils.getResourceGroupQueryType does', () => {
    const cases: [string, string][] = [
      ['/* sandbox:duration=5ms */ SELECT 1', 'SELECT'],
      ['WITH a AS (SELECT 1) SELECT * FROM a', 'SELECT'],
      ['EXPLAIN SELECT 1', 'EXPLAIN'],
      ['EXPLAIN ANALYZE SELECT 1', 'SELECT'],
      ['SHOW TABLES FROM tpch.tiny', 'DESCRIBE'],
      ['DESCRIBE tpch.tiny.nation', 'DESCRIBE'],
      ['INSERT INTO a.b.c SELECT 1', 'INSERT'],
      ['CREATE TABLE a.b.c AS SELECT 1', 'INSERT'],
      ['CREATE TABLE a.b.c (x int)', 'DATA_DEFINITION'],
      ['DELETE FROM a.b.c', 'DELETE'],
      ['ALTER TABLE a.b.c EXECUTE optimize', 'ALTER_TABLE_EXECUTE'],
      ['not sql at all', ''],
    ];
    assert.deepEqual(
      cases.map(([sql]) => [sql, queryTypeOf(sql)]),
      cases,
    );
  });

  it('names the catalogs and schemas of the tables, qualified by the session, without WITH names', () => {
    const props = analyzeStatement(
      'WITH x AS (SELECT * FROM "TPCH".tiny.nation) SELECT * FROM x JOIN orders o ON true JOIN UNNEST(ARRAY[1]) t(a) ON true',
      { catalog: 'hive', schema: 'sales' },
    );
    assert.deepEqual([...props.catalogs].sort(), ['hive', 'tpch']);
    assert.deepEqual([...props.catalogSchemas].sort(), ['hive.sales', 'tpch.tiny']);
  });
});

describe('canary selectors: plan validation', () => {
  const plan = (canary: string) => `gateway: {url: "http://127.0.0.1:8080"}
routingGroup: adhoc
strategy: canary
green: {name: trino-green, version: "480", provisioner: {type: sandbox}}
canary: ${canary}
`;
  function problemsOf(text: string): string[] {
    try {
      parsePlan(text);
    } catch (error) {
      assert.ok(error instanceof PlanError, String(error));
      return error.problems;
    }
    assert.fail('the plan was accepted');
  }

  it('accepts a selector of every kind and keeps it in the plan', () => {
    const parsed = parsePlan(
      plan(
        `{selector: {userPattern: "etl_.*", source: {exclude: [airflow]}, clientTags: [nightly], queryTypes: [SELECT, EXPLAIN], catalogs: [hive], schemas: [hive.sales], timeWindow: {from: "22:00", to: "06:00", timeZone: Europe/Berlin}}}`,
      ),
    );
    assert.deepEqual(parsed.canary?.selector?.queryTypes, ['SELECT', 'EXPLAIN']);
    assert.equal(parsePlan(plan('{}')).canary?.selector, undefined, 'no selector unless given');
  });

  it('refuses what the gateway cannot express, naming each field', () => {
    const problems = problemsOf(
      plan(
        `{selector: {users: [], userPattern: "a(", source: {include: [superset, "a\\"b"]}, clientTags: ["a,b"], queryTypes: [SELEKT], catalogs: ["hive.x"], schemas: [sales], timeWindow: {from: "25:00", to: "06:00", timeZone: Mars/Olympus}}}`,
      ),
    );
    const expected = [
      'canary.selector.users: must list at least one value',
      'canary.selector.userPattern: must be a valid regular expression',
      'canary.selector.source.include[1]: must not contain a double quote',
      'canary.selector.clientTags[0]: must not contain a comma',
      'canary.selector.queryTypes[0]: must be one of SELECT',
      'canary.selector.catalogs[0]: must be a catalog name',
      'canary.selector.schemas[0]: must be catalog.schema',
      'canary.selector.timeWindow.from: must be a time of day',
      'canary.selector.timeWindow.timeZone: must be an IANA time zone',
    ];
    for (const start of expected)
      assert.ok(
        problems.some((problem) => problem.startsWith(start)),
        `${start}\n  in: ${problems.join('\n  ')}`,
      );
    const refusals: [string, string][] = [
      ['{selector: {}}', 'canary.selector: must select something'],
      ['{traffic: backend-pool, selector: {users: [a]}}', 'canary.selector: needs traffic: routing-rule'],
      [
        '{selector: {source: {include: [superset], exclude: [superset]}}}',
        'canary.selector.source.exclude: must not exclude a source it includes (superset)',
      ],
    ];
    for (const [canary, start] of refusals)
      assert.ok(
        problemsOf(plan(canary)).some((p) => p.startsWith(start)),
        `${canary}: ${problemsOf(plan(canary)).join('; ')}`,
      );
    assert.ok(
      problemsOf(plan('{selector: {users: [a], userPattern: "b"}}')).some((p) =>
        p.startsWith('canary.selector.userPattern: give either users or userPattern'),
      ),
    );
    assert.ok(
      problemsOf(plan('{selector: {timeWindow: {from: "06:00", to: "06:00", timeZone: UTC}}}')).some((p) =>
        p.startsWith('canary.selector.timeWindow.to: must differ'),
      ),
    );
  });
});

describe('canary selectors: blue compared on the same selected traffic', () => {
  const query = (fields: Partial<QuerySummary>): QuerySummary => ({
    queryId: 'q',
    state: 'FINISHED',
    user: 'alice',
    createTime: new Date().toISOString(),
    ...fields,
  });

  it('keeps blue queries of the same users, source, tags and query type, and says so', () => {
    const selection = blueSelection({
      users: ['alice'],
      source: { include: ['superset'] },
      clientTags: ['bi'],
      queryTypes: ['SELECT'],
    });
    const selected = query({ source: 'superset', clientTags: ['bi', 'x'], queryType: 'SELECT' });
    assert.equal(selection.matches(selected), true);
    assert.equal(selection.matches({ ...selected, user: 'bob' }), false);
    assert.equal(selection.matches({ ...selected, source: 'airflow' }), false);
    assert.equal(selection.matches({ ...selected, source: undefined }), false);
    assert.equal(selection.matches({ ...selected, clientTags: ['x'] }), false);
    assert.equal(selection.matches({ ...selected, queryType: 'INSERT' }), false);
    assert.equal(selection.matches({ ...selected, queryType: undefined }), false);
    assert.equal(
      selection.words,
      'blue compared on the same selected traffic: its SELECT queries of user alice from superset tagged bi',
    );
  });

  it('says when /v1/query cannot tell: catalogs and schemas read', () => {
    const selection = blueSelection({ queryTypes: ['SELECT'], catalogs: ['hive'] });
    assert.equal(selection.matches(query({ queryType: 'SELECT' })), true);
    assert.equal(
      selection.words,
      'blue compared on its SELECT queries: /v1/query does not carry the catalogs a query reads',
    );
    assert.equal(
      blueSelection({ catalogs: ['hive'] }).words,
      'blue compared on all its traffic: /v1/query does not carry the catalogs a query reads',
    );
  });
});
