import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePlan, PlanError } from '../src/plan/load';
import { policyProblems } from '../src/policy/check-plan';
import { validatePolicy } from '../src/policy/load';

const MINIMAL = `gateway: {url: "http://127.0.0.1:8080/"}
routingGroup: adhoc
green: {name: trino-green, version: "480", provisioner: {type: sandbox}}
`;

function problemsOf(text: string): string[] {
  try {
    parsePlan(text);
  } catch (error) {
    assert.ok(error instanceof PlanError);
    return error.problems;
  }
  assert.fail('the plan was accepted');
}

describe('upgrade plan', () => {
  it('fills every default of a minimal plan', () => {
    const plan = parsePlan(MINIMAL);
    assert.equal(plan.strategy, 'blue-green');
    assert.equal(plan.gateway.url, 'http://127.0.0.1:8080', 'trailing slash dropped');
    assert.deepEqual(plan.health, {
      interval: '5s',
      timeout: '20m',
      smokeQueries: ['SELECT 1'],
      minActiveWorkers: 1,
      maxConsecutiveFailures: 2,
    });
    assert.deepEqual(plan.approval, { required: true, timeout: '24h', onTimeout: 'rollback' });
    assert.equal(plan.bake, '10m');
    assert.deepEqual(plan.drain, { timeout: '2h', onTimeout: 'wait', interval: '5s', resultGrace: '2m' });
    assert.equal(plan.green.provisionDeadline, '1h');
    assert.deepEqual(plan.retire, { keepBlueFor: '1h', teardown: true });
    assert.deepEqual(plan.green.provisioner, { type: 'sandbox', startupDelay: '2s' });
  });

  it('gives the gateway 10 minutes of retries by default, and refuses a retry budget that is not a positive duration', () => {
    assert.deepEqual(parsePlan(MINIMAL).gateway, {
      url: 'http://127.0.0.1:8080',
      requestTimeout: '10s',
      retryBudget: '10m',
    });
    assert.equal(
      parsePlan(MINIMAL.replace('"http://127.0.0.1:8080/"', '"http://127.0.0.1:8080/", retryBudget: 45s')).gateway
        .retryBudget,
      '45s',
    );
    const problems = problemsOf(
      MINIMAL.replace('"http://127.0.0.1:8080/"', '"http://127.0.0.1:8080/", retryBudget: forever'),
    );
    assert.ok(
      problems.some((p) => p.startsWith('gateway.retryBudget: must be a duration')),
      problems.join('\n'),
    );
    const zero = problemsOf(MINIMAL.replace('"http://127.0.0.1:8080/"', '"http://127.0.0.1:8080/", retryBudget: 0s'));
    assert.ok(
      zero.some((p) => p.startsWith('gateway.retryBudget: must be longer than 0')),
      zero.join('\n'),
    );
  });

  it('accepts JSON as well as YAML', () => {
    const plan = parsePlan(
      JSON.stringify({
        gateway: { url: 'https://gw.example:8443' },
        routingGroup: 'etl',
        green: { name: 'g', version: '481', url: 'https://g:8443', provisioner: { type: 'static' } },
      }),
    );
    assert.equal(plan.green.url, 'https://g:8443');
    assert.equal(plan.routingGroup, 'etl');
  });

  it('names every bad field at once, with its path', () => {
    const problems = problemsOf(`${MINIMAL}health: {interval: 5x, minActiveWorkers: -1}\nbake: soon\nextra: 1\n`);
    assert.ok(
      problems.some((p) => p.startsWith('health.interval: must be a duration')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.startsWith('health.minActiveWorkers:')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.startsWith('bake: must be a duration')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.startsWith('extra: unknown field')),
      problems.join('\n'),
    );
  });

  it('refuses credentials in a plan and says where they belong', () => {
    const problems = problemsOf(
      MINIMAL.replace('url: "http://127.0.0.1:8080/"', 'url: "http://127.0.0.1:8080/", password: x'),
    );
    assert.match(problems.join('\n'), /gateway\.password: unknown field.*worker's environment/);
  });

  it('requires green.url for the static provisioner and a health interval within the timeout', () => {
    const problems = problemsOf(
      MINIMAL.replace('type: sandbox', 'type: static') + 'health: {interval: 30m, timeout: 10m}\n',
    );
    assert.ok(
      problems.some((p) => p.startsWith('green.url: is required with the static provisioner')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.startsWith('health.interval: must not be longer than health.timeout')),
      problems.join('\n'),
    );
  });

  it('validates the command provisioner: a profile of the worker policy and its parameters, never shell', () => {
    const problems = problemsOf(
      MINIMAL.replace(
        '{type: sandbox}',
        '{type: command, create: "helm install", timeout: 0s, parameters: {Namespace: x, replicas: 3}}',
      ),
    );
    assert.ok(problems.includes('green.provisioner.profile: is required'), problems.join('\n'));
    assert.ok(
      problems.some((p) => p.startsWith('green.provisioner.create: a plan carries no shell commands')),
      problems.join('\n'),
    );
    assert.ok(
      problems.includes("green.provisioner.timeout: is set by the worker policy's provisioner profile, not by a plan"),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.startsWith('green.provisioner.parameters.Namespace: must be a camelCase parameter name')),
      problems.join('\n'),
    );
    assert.ok(
      problems.includes('green.provisioner.parameters.replicas: must be a string (quote numbers and booleans)'),
      problems.join('\n'),
    );
    const plan = parsePlan(
      MINIMAL.replace('{type: sandbox}', '{type: command, profile: helm, parameters: {namespace: trino}}'),
    );
    assert.deepEqual(plan.green.provisioner, { type: 'command', profile: 'helm', parameters: { namespace: 'trino' } });
  });

  it('takes only read-only smoke queries, at most 20, and names each refused one by its index', () => {
    const plan = parsePlan(
      `${MINIMAL}health: {smokeQueries: ["select 1;", "WITH x AS (SELECT 1) SELECT * FROM x", "SHOW CATALOGS", "EXPLAIN DELETE FROM t"]}\n`,
    );
    assert.equal(plan.health.smokeQueries.length, 4, 'kept as written');
    const problems = problemsOf(
      `${MINIMAL}health:\n  smokeQueries:\n    - SELECT 1\n    - DELETE FROM t\n    - "/* SELECT */ DROP TABLE t"\n    - "SELECT 1; DROP TABLE t"\n    - CREATE TABLE t AS SELECT 1\n    - EXPLAIN ANALYZE DELETE FROM t\n    - 42\n`,
    );
    assert.deepEqual(problems, [
      'health.smokeQueries[1]: must be read-only (SELECT, WITH, VALUES, SHOW, DESCRIBE, EXPLAIN); "DELETE FROM t" is not',
      'health.smokeQueries[2]: must be read-only (SELECT, WITH, VALUES, SHOW, DESCRIBE, EXPLAIN); "DROP TABLE t" is not',
      'health.smokeQueries[3]: must be a single statement; "SELECT 1; DROP TABLE t" has another one after a ";"',
      'health.smokeQueries[4]: must be read-only (SELECT, WITH, VALUES, SHOW, DESCRIBE, EXPLAIN); "CREATE TABLE t AS SELECT 1" is not',
      'health.smokeQueries[5]: must be read-only (SELECT, WITH, VALUES, SHOW, DESCRIBE, EXPLAIN); "EXPLAIN ANALYZE DELETE FROM t" runs DELETE, which is not read-only (EXPLAIN ANALYZE executes the statement)',
      'health.smokeQueries[6]: must be a SQL statement',
    ]);
    const many = Array.from({ length: 21 }, (_, i) => `SELECT ${i}`);
    assert.deepEqual(problemsOf(`${MINIMAL}health: {smokeQueries: ${JSON.stringify(many)}}\n`), [
      'health.smokeQueries: must not list more than 20 smoke queries',
    ]);
    assert.equal(
      parsePlan(`${MINIMAL}health: {smokeQueries: ${JSON.stringify(many.slice(1))}}\n`).health.smokeQueries.length,
      20,
    );
  });

  it('fills a canary plan from the standard preset and validates its steps', () => {
    const plan = parsePlan(`${MINIMAL}strategy: canary\n`);
    assert.deepEqual(
      plan.canary?.steps.map((step) => step.weight),
      [5, 25, 50, 100],
    );
    assert.equal(plan.canary?.traffic, 'routing-rule');
    assert.equal(parsePlan(`${MINIMAL}strategy: canary\ncanary: {preset: linear-10}\n`).canary?.steps.length, 10);
    const problems = problemsOf(
      `${MINIMAL}strategy: canary\ncanary: {steps: [{weight: 0}, {weight: 30, approval: true}, {weight: 20}, {approval: true, bake: 1m}]}\n`,
    );
    assert.ok(problems.includes('canary.steps[0].weight: must be between 1 and 100'), problems.join('\n'));
    assert.ok(
      problems.some((p) => p.startsWith('canary.steps[1]: must have either a weight')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.startsWith('canary.steps[2].weight: must be larger than the weight before it')),
      problems.join('\n'),
    );
    assert.ok(
      problems.includes('canary.steps[3].bake: belongs to a weight step, not to an approval gate'),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.startsWith('canary.steps: must end with a step of weight 100')),
      problems.join('\n'),
    );
  });

  it('says which backend-pool weights are reachable, and refuses canary settings on a blue/green plan', () => {
    const pool = problemsOf(
      `${MINIMAL}strategy: canary\nblue: {backends: [b1, b2, b3]}\ncanary: {traffic: backend-pool, steps: [{weight: 10}, {weight: 100}]}\n`,
    );
    assert.ok(
      pool.some((p) =>
        /^canary\.steps\[0\]\.weight: is not reachable with backend-pool traffic and 3 blue backend\(s\).*\(25%\)/.test(
          p,
        ),
      ),
      pool.join('\n'),
    );
    assert.doesNotThrow(() =>
      parsePlan(
        `${MINIMAL}strategy: canary\nblue: {backends: [b1, b2, b3]}\ncanary: {traffic: backend-pool, steps: [{weight: 25}, {weight: 100}]}\n`,
      ),
    );
    assert.ok(
      problemsOf(`${MINIMAL}canary: {preset: standard}\n`).includes('canary: only applies to strategy: canary'),
    );
  });

  it("takes the gateway replicas' own addresses and refuses an empty list, a replica twice, a non-URL and credentials in one", () => {
    const withReplicas = (list: string) =>
      MINIMAL.replace('"http://127.0.0.1:8080/"', `"http://127.0.0.1:8080/", replicas: ${list}`);
    assert.equal(parsePlan(MINIMAL).gateway.replicas, undefined, 'no replicas unless listed');
    assert.deepEqual(parsePlan(withReplicas('["http://gw-1:8080/", "http://gw-2:8080"]')).gateway.replicas, [
      'http://gw-1:8080',
      'http://gw-2:8080',
    ]);
    assert.ok(problemsOf(withReplicas('[]')).some((p) => p.startsWith('gateway.replicas: must list at least one')));
    assert.ok(
      problemsOf(withReplicas('["http://gw-1:8080", "http://gw-1:8080/"]')).some((p) =>
        p.startsWith('gateway.replicas: must not list a replica twice'),
      ),
    );
    assert.ok(
      problemsOf(withReplicas('["gw-1:8080"]')).some((p) =>
        p.startsWith('gateway.replicas[0]: must be an http(s) URL'),
      ),
    );
    assert.ok(
      problemsOf(withReplicas('["http://gw-1:8080", "http://admin:pw@gw-2:8080"]')).some((p) =>
        p.startsWith('gateway.replicas[1]: must not carry a user or password'),
      ),
    );
  });

  it("holds each gateway replica to the worker policy's gateways, as gateway.url", () => {
    const plan = parsePlan(
      MINIMAL.replace(
        '"http://127.0.0.1:8080/"',
        '"http://127.0.0.1:8080/", replicas: ["http://127.0.0.1:8081", "http://gw-2.example:8080", "http://localhost:8082"]',
      ),
    );
    const policy = validatePolicy(
      { gateways: ['http://127.0.0.1:*', 'http://localhost:*'], plainHttpHosts: ['127.0.0.1'] },
      'test policy',
    );
    assert.deepEqual(
      policyProblems(plan, policy).filter((p) => p.startsWith('gateway.')),
      [
        'gateway.replicas[1]: http://gw-2.example:8080 is not a gateway this worker may use (policy gateways: http://127.0.0.1:*, http://localhost:*)',
        'gateway.replicas[2]: localhost:8082 is plain http: the worker sends its gateway credentials only over https, or to a host the policy lists in plainHttpHosts',
      ],
    );
  });

  it('a canary.selector.userPattern (a regex the gateway runs on every request) needs the policy to allow it', () => {
    const plan = parsePlan(
      `strategy: canary\n${MINIMAL}canary: {traffic: routing-rule, steps: [{weight: 10}, {weight: 100}], selector: {userPattern: "(a+)+b"}}\n`,
    );
    const refused = /^canary\.selector\.userPattern: the worker policy does not allow user patterns/;
    assert.ok(
      policyProblems(plan, undefined).some((p) => refused.test(p)),
      'refused without a policy',
    );
    const strict = validatePolicy({ gateways: ['http://127.0.0.1:*'] }, 'test policy');
    assert.ok(
      policyProblems(plan, strict).some((p) => refused.test(p)),
      'refused by default',
    );
    const allowing = validatePolicy(
      { gateways: ['http://127.0.0.1:*'], bounds: { allowUserPatterns: true } },
      'test policy',
    );
    assert.ok(
      !policyProblems(plan, allowing).some((p) => p.startsWith('canary.selector')),
      'allowed when the policy says',
    );
  });
});
