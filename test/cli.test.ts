import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { inBatches, runCli, UNREACHABLE_TEMPORAL, type CliRun } from './support/cli';

/** Runs the real CLI as an operator would, against an unreachable Temporal. */
function cutover(...args: string[]): Promise<CliRun> {
  return runCli(UNREACHABLE_TEMPORAL, args);
}

const VALID_PLAN = `strategy: blue-green
gateway:
  url: http://127.0.0.1:8080
routingGroup: adhoc
blue:
  backends: [trino-blue]
green:
  name: trino-green
  version: "480"
  provisioner:
    type: sandbox
health:
  interval: 1s
approval:
  onTimeout: rollback
drain:
  onTimeout: wait
retire:
  teardown: true
`;

/** Edits of the valid plan, each wrong in one way, and the field path the error must name. */
const INVALID_PLANS: { name: string; text: string; names: string | RegExp }[] = [
  { name: 'unknown top-level field', text: `${VALID_PLAN}rollout: fast\n`, names: 'rollout' },
  {
    name: 'password under gateway',
    text: VALID_PLAN.replace('  url: http://127.0.0.1:8080\n', '  url: http://127.0.0.1:8080\n  password: hunter2\n'),
    names: 'gateway.password',
  },
  {
    name: 'gateway url not http',
    text: VALID_PLAN.replace('http://127.0.0.1:8080', 'ftp://gateway'),
    names: 'gateway.url',
  },
  { name: 'routingGroup missing', text: VALID_PLAN.replace('routingGroup: adhoc\n', ''), names: 'routingGroup' },
  {
    name: 'routing group name with spaces',
    text: VALID_PLAN.replace('routingGroup: adhoc', 'routingGroup: "ad hoc!"'),
    names: 'routingGroup',
  },
  { name: 'green missing', text: VALID_PLAN.replace(/green:\n( {2}.*\n)+/, ''), names: 'green' },
  { name: 'green.version missing', text: VALID_PLAN.replace('  version: "480"\n', ''), names: 'green.version' },
  {
    name: 'unknown provisioner type',
    text: VALID_PLAN.replace('type: sandbox', 'type: kubernetes'),
    names: 'green.provisioner.type',
  },
  {
    name: 'static provisioner without green.url',
    text: VALID_PLAN.replace('type: sandbox', 'type: static'),
    names: 'green.url',
  },
  { name: 'bad duration', text: VALID_PLAN.replace('interval: 1s', 'interval: 5x'), names: 'health.interval' },
  {
    name: 'negative minActiveWorkers',
    text: VALID_PLAN.replace('  interval: 1s\n', '  interval: 1s\n  minActiveWorkers: -1\n'),
    names: 'health.minActiveWorkers',
  },
  {
    name: 'approval.onTimeout not in the enum',
    text: VALID_PLAN.replace('onTimeout: rollback', 'onTimeout: retry'),
    names: 'approval.onTimeout',
  },
  {
    name: 'drain.onTimeout not in the enum',
    text: VALID_PLAN.replace('onTimeout: wait', 'onTimeout: kill'),
    names: 'drain.onTimeout',
  },
  {
    name: 'blue.backends empty',
    text: VALID_PLAN.replace('backends: [trino-blue]', 'backends: []'),
    names: 'blue.backends',
  },
  {
    name: 'green.name equal to a blue backend',
    text: VALID_PLAN.replace('name: trino-green', 'name: trino-blue'),
    names: 'green.name',
  },
  {
    name: 'unknown strategy',
    text: VALID_PLAN.replace('strategy: blue-green', 'strategy: rolling'),
    names: 'strategy',
  },
  { name: 'YAML syntax error', text: 'gateway: [\n  url: http://127.0.0.1:8080\n', names: /cannot be parsed as YAML/ },
  { name: 'a list instead of a mapping', text: '- gateway\n- green\n', names: /must be a mapping/ },
  {
    name: 'retire.teardown as a string',
    text: VALID_PLAN.replace('teardown: true', 'teardown: "yes"'),
    names: 'retire.teardown',
  },
  { name: 'bake as a bare number', text: `${VALID_PLAN}bake: 600\n`, names: 'bake' },
  {
    name: 'smoke query empty',
    text: VALID_PLAN.replace('  interval: 1s\n', '  interval: 1s\n  smokeQueries: [""]\n'),
    names: 'health.smokeQueries[0]',
  },
  { name: 'empty file', text: '', names: /must be a mapping/ },
  {
    name: 'JSON plan with an unknown green field',
    text: JSON.stringify({
      gateway: { url: 'http://127.0.0.1:8080' },
      routingGroup: 'adhoc',
      green: { name: 'g', version: '480', image: 'trino:480', provisioner: { type: 'sandbox' } },
    }),
    names: 'green.image',
  },
];

describe('cutover CLI', () => {
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'cutover-cli-'));
    writeFileSync(join(dir, 'valid.yaml'), VALID_PLAN);
    INVALID_PLANS.forEach((plan, index) => writeFileSync(join(dir, `invalid-${index}.yaml`), plan.text));
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  test('usage: help and version exit 0; unknown commands, missing arguments and bad options exit 2', async () => {
    const [
      help,
      version,
      unknown,
      noId,
      rollbackWithoutReason,
      emptyReason,
      badGroup,
      badClusters,
      badOption,
      jsonUsage,
    ] = await Promise.all([
      cutover('--help'),
      cutover('--version'),
      cutover('upgrade-everything'),
      cutover('status'),
      cutover('rollback', 'cutover-adhoc'),
      cutover('rollback', 'cutover-adhoc', '--reason', ' '),
      cutover('list', '--group', "adhoc' OR 1=1"),
      cutover('sandbox', '--clusters', 'trino-blue'),
      cutover('approve', 'cutover-adhoc', '--force'),
      cutover('rollback', 'cutover-adhoc', '--json'),
    ]);
    assert.equal(help.code, 0, help.stderr);
    for (const verb of [
      'start',
      'validate',
      'status',
      'watch',
      'approve',
      'rollback',
      'pause',
      'resume',
      'list',
      'fleet',
      'worker',
      'sandbox',
      'dev',
      'demo',
    ]) {
      assert.match(help.stdout, new RegExp(`\\n  ${verb} `), `help lists ${verb}`);
    }
    assert.match(help.stdout, /Examples:/);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^\d+\.\d+\.\d+/);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command 'upgrade-everything'/);
    assert.equal(noId.code, 2);
    assert.match(noId.stderr, /missing required argument 'id'/);
    assert.equal(rollbackWithoutReason.code, 2, 'rollback without --reason is bad usage');
    assert.match(rollbackWithoutReason.stderr, /--reason/);
    assert.equal(emptyReason.code, 2);
    assert.match(emptyReason.stderr, /--reason must say why/);
    assert.equal(badGroup.code, 2);
    assert.match(badGroup.stderr, /--group/);
    assert.equal(badClusters.code, 2);
    assert.match(badClusters.stderr, /expected name=version/);
    assert.equal(badOption.code, 2);
    assert.match(badOption.stderr, /unknown option '--force'/);
    assert.equal(jsonUsage.code, 2);
    assert.match(JSON.parse(jsonUsage.stdout).error, /--reason/);
    for (const run of [
      unknown,
      noId,
      rollbackWithoutReason,
      emptyReason,
      badGroup,
      badClusters,
      badOption,
      jsonUsage,
    ]) {
      assert.doesNotMatch(run.stderr + run.stdout, /temporal/i, 'bad usage is refused before connecting');
    }
  });

  test('start refuses a missing plan file with exit 2 and starts nothing', async () => {
    const run = await cutover('start', join(dir, 'no-such-plan.yaml'));
    assert.equal(run.code, 2);
    assert.match(run.stderr, /no-such-plan\.yaml.*cannot be read/s);
    assert.match(run.stderr, /nothing was started/);
    assert.doesNotMatch(run.stderr, /temporal/i);
    assert.equal(run.stdout, '');
  });

  test(`start refuses ${INVALID_PLANS.length} invalid plans with exit 2, naming the field, before connecting to Temporal`, async () => {
    const runs = await inBatches(
      INVALID_PLANS.map((plan, index) => ({ plan, path: join(dir, `invalid-${index}.yaml`) })),
      4,
      async ({ plan, path }) => ({ plan, run: await cutover('start', path) }),
    );
    for (const { plan, run } of runs) {
      assert.equal(run.code, 2, `${plan.name}: exit code (stderr: ${run.stderr})`);
      if (typeof plan.names === 'string')
        assert.ok(
          run.stderr.includes(`${plan.names}:`) || run.stderr.includes(`${plan.names},`),
          `${plan.name}: stderr names ${plan.names}:\n${run.stderr}`,
        );
      else assert.match(run.stderr, plan.names, plan.name);
      assert.match(run.stderr, /is not a valid upgrade plan/, plan.name);
      assert.doesNotMatch(run.stderr, /temporal/i, `${plan.name}: the CLI must not try to connect`);
      assert.equal(run.stdout, '', `${plan.name}: nothing started`);
    }
  });

  test('start --json reports every problem of an invalid plan as JSON', async () => {
    const path = join(dir, 'two-problems.yaml');
    writeFileSync(
      path,
      VALID_PLAN.replace('interval: 1s', 'interval: 5x').replace('onTimeout: wait', 'onTimeout: kill'),
    );
    const run = await cutover('start', path, '--json');
    assert.equal(run.code, 2);
    const answer = JSON.parse(run.stdout) as { error: string; problems: string[] };
    assert.match(answer.error, /not a valid upgrade plan/);
    assert.ok(
      answer.problems.some((problem) => problem.startsWith('health.interval:')),
      answer.problems.join('\n'),
    );
    assert.ok(
      answer.problems.some((problem) => problem.startsWith('drain.onTimeout:')),
      answer.problems.join('\n'),
    );
  });

  test('verbs that need Temporal exit 1 with a clear message when it cannot be reached', async () => {
    const [approve, approveJson, start, status] = await Promise.all([
      cutover('approve', 'cutover-adhoc', '--by', 'alice'),
      cutover('approve', 'cutover-adhoc', '--json'),
      cutover('start', join(dir, 'valid.yaml')),
      cutover('status', 'cutover-adhoc'),
    ]);
    for (const run of [approve, start, status]) {
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /cannot reach Temporal at 127\.0\.0\.1:1/);
      assert.match(run.stderr, /cutover dev|TEMPORAL_ADDRESS/);
    }
    assert.equal(approveJson.code, 1);
    assert.match(JSON.parse(approveJson.stdout).error, /cannot reach Temporal/);
  });
});
