import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { untilHealthy } from '../src/devserver/wait';
import { startSandboxFleet, type SandboxFleet } from '../src/sandbox/fleet';
import { runCli, UNREACHABLE_TEMPORAL, type CliRun } from './support/cli';
import { TEST_POLICY_INPUT, writePolicyFile } from './support/policy';

const EXAMPLE = join(__dirname, '..', 'plans', 'sandbox-fleet.yaml');
const GROUPS = ['adhoc', 'etl', 'bi', 'team-a', 'team-b', 'team-c'];

/**
 * `cutover fleet validate FLEET`: the waves and every group's upgrade plan of a fleet, with
 * `--gateway` the gateway's routing groups, read from a sandbox gateway with a cluster in each of
 * 6 groups (the example fleet's sandbox). Temporal is unreachable throughout: nothing starts.
 */
describe('cutover fleet validate', () => {
  let dir: string;
  let fleet: SandboxFleet;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cutover-fleet-validate-'));
    fleet = await startSandboxFleet({
      healthIntervalMs: 100,
      clusters: GROUPS.map((group) => ({ name: `${group}-blue`, version: '470', routingGroup: group })),
    });
    await untilHealthy(fleet, 'team-c-blue');
  });

  after(async () => {
    await fleet.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const cutover = (...args: string[]): Promise<CliRun> =>
    runCli(UNREACHABLE_TEMPORAL, ['fleet', 'validate', ...args], { CUTOVER_POLICY_FILE: undefined });

  /** The example fleet, its gateway.url pointed at this test's sandbox, with `edit` applied to its text. */
  function exampleFile(name: string, edit: (text: string) => string = (text) => text): string {
    const path = join(dir, name);
    writeFileSync(
      path,
      edit(readFileSync(EXAMPLE, 'utf8').replace('url: http://127.0.0.1:8080', `url: ${fleet.gatewayUrl}`)),
    );
    return path;
  }

  test('the example fleet with --gateway: 6 groups in 3 waves, the pattern resolved, exit 0, nothing started', async () => {
    const run = await cutover(exampleFile('example.yaml'), '--gateway');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    assert.equal(
      run.stdout.replace(fleet.gatewayUrl, 'GATEWAY').replace(/\S+example\.yaml/, 'example.yaml'),
      [
        'example.yaml: fleet sandbox-480 (workflow cutover-fleet-sandbox-480): 6 routing groups to Trino 480 in 3 waves, on failure halt',
        '  schema:  valid',
        '  policy:  none given (--policy FILE or CUTOVER_POLICY_FILE): checked against the default bounds only',
        '  gateway: GATEWAY: 6 routing groups (adhoc, bi, etl, team-a, team-b, team-c)',
        '  wave 1 canary-groups (1 at a time): 1 group',
        '    adhoc: blue-green -> adhoc-480 (Trino 480), from groups[0]',
        '  wave 2 quarter (2 at a time, soak 1m after): 2 groups',
        '    etl: blue-green -> etl-green (Trino 480), from groups[1]',
        '    bi: canary -> bi-480 (Trino 480), from groups[2]',
        '  wave 3 rest (approval first, 3 at a time): 3 groups',
        '    team-a: blue-green -> team-a-480 (Trino 480), from groups[3]',
        '    team-b: blue-green -> team-b-480 (Trino 480), from groups[3]',
        '    team-c: blue-green -> team-c-480 (Trino 480), from groups[3]',
        'nothing was started',
        '',
      ].join('\n'),
    );
    assert.deepEqual(
      fleet.gateway.backends().map((backend) => [backend.name, backend.active]),
      GROUPS.map((group) => [`${group}-blue`, true]),
      'the gateway is unchanged',
    );
  });

  test('--json: the waves with each group and its full upgrade plan', async () => {
    const run = await cutover(exampleFile('example-json.yaml'), '--gateway', '--json');
    assert.equal(run.code, 0, run.stderr);
    const answer = JSON.parse(run.stdout) as {
      valid: boolean;
      workflowId: string;
      onFailure: string;
      gateway: { url: string; groups: string[] };
      waves: {
        name: string;
        maxParallel: number;
        approval: boolean;
        soak?: string;
        groups: { routingGroup: string; workflowId: string; plan: { bake: string; routingGroup: string } }[];
      }[];
      problems: string[];
    };
    assert.equal(answer.valid, true);
    assert.equal(answer.workflowId, 'cutover-fleet-sandbox-480');
    assert.equal(answer.onFailure, 'halt');
    assert.deepEqual(answer.gateway, { url: fleet.gatewayUrl, groups: [...GROUPS].sort() });
    assert.deepEqual(
      answer.waves.map((wave) => [wave.name, wave.maxParallel, wave.approval, wave.soak, wave.groups.length]),
      [
        ['canary-groups', 1, false, undefined, 1],
        ['quarter', 2, false, '1m', 2],
        ['rest', 3, true, undefined, 3],
      ],
    );
    const etl = answer.waves[1].groups[0];
    assert.deepEqual(
      [etl.routingGroup, etl.workflowId, etl.plan.routingGroup, etl.plan.bake],
      ['etl', 'cutover-etl', 'etl', '2m'],
    );
    assert.deepEqual(answer.problems, []);
  });

  test('every problem by fleet field, exit 1: a group and a pattern the gateway lacks, a bad override, duplicate greens', async () => {
    const path = exampleFile('bad.yaml', (text) =>
      text
        .replace('  - routingGroup: adhoc\n', '  - routingGroup: adhoc\n  - routingGroup: sales\n')
        .replace('name: etl-green', 'name: adhoc-480')
        .replace('bake: 2m', 'bake: soon')
        .replace('pattern: "team-.*"', 'pattern: "tenant-.*"'),
    );
    const run = await cutover(path, '--gateway');
    assert.equal(run.code, 1, run.stderr);
    const groups = 'its groups: adhoc, bi, etl, team-a, team-b, team-c';
    assert.equal(
      run.stderr,
      [
        `cutover: ${path} would be refused:`,
        `  - groups[1].routingGroup: sales is not a routing group of the gateway at ${fleet.gatewayUrl} (${groups})`,
        `  - groups[4].pattern: tenant-.* matches no routing group of the gateway at ${fleet.gatewayUrl} (${groups}); it must match a whole name`,
        '  - groups[2].overrides.bake: must be a duration such as "30s", "10m" or "2h" (units ms, s, m, h, d)',
        '  - groups[2].overrides.bake: must be a whole number of milliseconds (e.g. "1.5s", not "0.5ms")',
        '',
      ].join('\n'),
    );

    const json = await cutover(
      exampleFile('duplicate.yaml', (text) => text.replace('name: etl-green', 'name: adhoc-480')),
      '--gateway',
      '--json',
    );
    assert.equal(json.code, 1, json.stderr);
    assert.deepEqual((JSON.parse(json.stdout) as { problems: string[] }).problems, [
      'groups[1].green.name: adhoc-480 is also the green of routing group adhoc (groups[0]); each group needs a green of its own',
    ]);
  });

  test('without --gateway the pattern stays unresolved; an unreachable gateway is a problem; a missing file exits 2', async () => {
    const offline = await cutover(EXAMPLE);
    assert.equal(offline.code, 0, offline.stderr);
    assert.match(offline.stdout, /gateway: not read \(add --gateway/);
    assert.match(offline.stdout, /patterns not resolved \(add --gateway\): team-\.\*; the waves below hold the listed/);

    const unreachable = await cutover(EXAMPLE, '--gateway=http://127.0.0.1:9');
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /- gateway\.url: Trino Gateway at http:\/\/127\.0\.0\.1:9 is unreachable/);

    const missing = await cutover(join(dir, 'no-such-fleet.yaml'));
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no-such-fleet\.yaml cannot be read: no such file/);
  });

  test("a worker policy checks each group's plan: a refusal of the base is named once, by fleet field, exit 1", async () => {
    const refusing = writePolicyFile(dir, {
      ...TEST_POLICY_INPUT,
      gateways: ['https://trino-gateway.example.com'],
      provisioners: { sandbox: false },
    });
    const run = await cutover(exampleFile('refused-fleet.yaml'), '--policy', refusing, '--json');
    assert.equal(run.code, 1, run.stderr);
    const answer = JSON.parse(run.stdout) as { problems: string[]; policy: { file: string; problems: string[] } };
    assert.deepEqual(answer.problems, [
      `gateway.url: ${fleet.gatewayUrl} is not a gateway this worker may use (policy gateways: https://trino-gateway.example.com)`,
      "base.green.provisioner.type: sandbox is not allowed by this worker's policy (provisioners.sandbox: false)",
    ]);
    assert.deepEqual(answer.policy, { file: refusing, problems: answer.problems });

    const allowed = await cutover(
      exampleFile('allowed.yaml'),
      '--policy',
      writePolicyFile(dir, TEST_POLICY_INPUT, 'ok.yaml'),
    );
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.match(allowed.stdout, /policy: +\S+ok\.yaml allows every group's plan/);
  });
});
