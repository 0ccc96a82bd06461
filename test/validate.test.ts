import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { untilHealthy } from '../src/devserver/wait';
import { startSandboxFleet, type SandboxFleet } from '../src/sandbox/fleet';
import { sandboxPlan } from '../src/sandbox/plan';
import { runCli, UNREACHABLE_TEMPORAL, type CliRun } from './support/cli';
import { TEST_POLICY_INPUT, writePolicyFile } from './support/policy';

/**
 * `cutover validate PLAN`: the schema, the worker policy and (with --gateway) the preflight's
 * read-only look at the gateway, run by an operator before starting anything. Temporal is
 * unreachable throughout: validate never needs it.
 */
describe('cutover validate', () => {
  let dir: string;
  let fleet: SandboxFleet;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cutover-validate-'));
    fleet = await startSandboxFleet({
      healthIntervalMs: 100,
      clusters: [
        { name: 'vt-blue', version: '470', routingGroup: 'vt' },
        { name: 'busy-green', version: '480', routingGroup: 'elsewhere' },
      ],
    });
    await untilHealthy(fleet, 'vt-blue');
  });

  after(async () => {
    await fleet.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function planFile(name: string, settings: Parameters<typeof sandboxPlan>[2] = {}, gateway = fleet.gatewayUrl) {
    const path = join(dir, `${name}.json`);
    writeFileSync(path, JSON.stringify(sandboxPlan(gateway, 'vt', settings, name)));
    return path;
  }

  const cutover = (...args: string[]): Promise<CliRun> =>
    runCli(UNREACHABLE_TEMPORAL, ['validate', ...args], { CUTOVER_POLICY_FILE: undefined });

  test('a plan the gateway can run: blue backends and their versions, exit 0, nothing started', async () => {
    const run = await cutover(planFile('good'), '--gateway');
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stdout,
      /good\.json: blue-green upgrade of routing group vt: its active backends -> vt-green \(Trino 480\)\n {2}schema: {2}valid\n/,
    );
    assert.match(run.stdout, /policy: +none given/);
    assert.match(
      run.stdout,
      /gateway: http:\/\/127\.0\.0\.1:\d+: routing group vt, 1 blue backend; vt-green is not registered yet/,
    );
    assert.match(run.stdout, /blue vt-blue at http:\/\/127\.0\.0\.1:\d+: Trino 470/);
    assert.match(run.stdout, /nothing was started/);
    assert.equal(run.stderr, '');
    assert.doesNotMatch(run.stdout, /temporal/i, 'validate never talks to Temporal');
    assert.deepEqual(
      fleet.gateway.backends().map((backend) => [backend.name, backend.active]),
      [
        ['vt-blue', true],
        ['busy-green', true],
      ],
      'the gateway is unchanged',
    );
  });

  test('every problem the preflight and the registration would meet is named by field, exit 1', async () => {
    const plan = planFile('bad-gateway', { blue: { backends: ['vt-missing'] }, green: { name: 'busy-green' } });
    const run = await cutover(plan, '--gateway', '--json');
    assert.equal(run.code, 1, run.stderr);
    const answer = JSON.parse(run.stdout) as { valid: boolean; problems: string[] };
    assert.equal(answer.valid, false);
    assert.deepEqual(answer.problems, [
      `blue.backends: blue backend vt-missing is not registered in the gateway at ${fleet.gatewayUrl}`,
      'green.name: backend busy-green belongs to routing group elsewhere, not vt: refusing to overwrite it; pick another green name',
    ]);

    const unreachable = await cutover(planFile('unreachable', {}, 'http://127.0.0.1:9'), '--gateway');
    assert.equal(unreachable.code, 1);
    assert.match(
      unreachable.stderr,
      /would be refused:\n {2}- gateway\.url: Trino Gateway at http:\/\/127\.0\.0\.1:9 is unreachable/,
    );

    const elsewhere = await cutover(planFile('elsewhere', {}, 'http://127.0.0.1:9'), `--gateway=${fleet.gatewayUrl}`);
    assert.equal(elsewhere.code, 0, `--gateway URL reads that gateway instead: ${elsewhere.stderr}`);
  });

  test('a worker policy that refuses the plan: each refusal by field, exit 1; an invalid plan: exit 2', async () => {
    const policy = writePolicyFile(dir, {
      ...TEST_POLICY_INPUT,
      gateways: ['https://trino-gateway.example.com'],
      provisioners: { sandbox: false },
    });
    const run = await cutover(planFile('refused'), '--policy', policy);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stdout, /policy: +\S+policy\.yaml refuses it/);
    assert.match(run.stderr, /- gateway\.url: http:\/\/127\.0\.0\.1:\d+ is not a gateway this worker may use/);
    assert.match(run.stderr, /- green\.provisioner\.type: sandbox is not allowed by this worker's policy/);

    const allowed = await cutover(planFile('allowed'), '--policy', writePolicyFile(dir, TEST_POLICY_INPUT, 'ok.yaml'));
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.match(allowed.stdout, /policy: +\S+ok\.yaml allows it/);

    const invalid = join(dir, 'invalid.yaml');
    writeFileSync(invalid, 'gateway: {url: http://127.0.0.1:8080}\nroutingGroup: vt\n');
    const refusedPlan = await cutover(invalid);
    assert.equal(refusedPlan.code, 2);
    assert.match(refusedPlan.stderr, /invalid\.yaml is not a valid upgrade plan:\n {2}- green: is required/);
  });
});
