import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sleep, waitForPhase, waitForStatus } from '../src/devserver/wait';
import type { RoutingRule } from '../src/integrations/gateway/types';
import { canaryReadyRules } from '../src/sandbox/canary-rules';
import type { JournalEntry } from '../src/sandbox/journal';
import type { SandboxFleet } from '../src/sandbox/fleet';
import { statusQuery, type UpgradeStatus } from '../src/workflows/messages';
import { journalMark } from './support/journal';
import { useTestbed } from './support/testbed';
import { inBatches, runCli, UNREACHABLE_TEMPORAL, type CliRun } from './support/cli';

/**
 * Bad input of every kind the CLI meets: invalid canary plans, unknown nested fields and wrong
 * types (exit 2, before Temporal), and misuse against a real Temporal dev server, the real worker
 * and a sandbox fleet (exit 1 or 2), each leaving the gateway unchanged.
 */

/** Nothing listens there either: the gateway of the "unreachable gateway" plan. */
const UNREACHABLE_GATEWAY = 'http://127.0.0.1:9';

function cutoverAt(address: string, args: string[]): Promise<CliRun> {
  return runCli(address, args);
}

const CANARY_PLAN = `strategy: canary
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
  minActiveWorkers: 1
approval:
  required: false
canary:
  traffic: routing-rule
  steps:
    - weight: 10
      bake: 1m
    - weight: 50
    - weight: 100
  analysis:
    interval: 10s
    maxErrorRate: 0.05
`;

const STEPS = `  steps:
    - weight: 10
      bake: 1m
    - weight: 50
    - weight: 100
`;
const withSteps = (steps: string): string => CANARY_PLAN.replace(STEPS, steps);

/** Plans wrong in one way each (kinds test/cli.test.ts does not cover), and the field the error must name. */
const INVALID_PLANS: { name: string; text: string; names: string; says: RegExp }[] = [
  {
    name: 'canary weight 0',
    text: withSteps('  steps: [{weight: 0}, {weight: 100}]\n'),
    names: 'canary.steps[0].weight',
    says: /between 1 and 100/,
  },
  {
    name: 'canary weight 101',
    text: withSteps('  steps: [{weight: 10}, {weight: 101}]\n'),
    names: 'canary.steps[1].weight',
    says: /between 1 and 100/,
  },
  {
    name: 'canary weights not increasing',
    text: withSteps('  steps: [{weight: 50}, {weight: 25}, {weight: 100}]\n'),
    names: 'canary.steps[1].weight',
    says: /larger than the weight before it \(50\)/,
  },
  {
    name: 'canary last weight not 100',
    text: withSteps('  steps: [{weight: 10}, {weight: 50}]\n'),
    names: 'canary.steps',
    says: /must end with a step of weight 100/,
  },
  {
    name: 'canary approval gate with a bake',
    text: withSteps('  steps: [{weight: 10}, {approval: true, bake: 5m}, {weight: 100}]\n'),
    names: 'canary.steps[1].bake',
    says: /not to an approval gate/,
  },
  {
    name: 'canary preset and steps together',
    text: CANARY_PLAN.replace('  traffic: routing-rule\n', '  traffic: routing-rule\n  preset: standard\n'),
    names: 'canary.preset',
    says: /either preset or steps, not both/,
  },
  {
    name: 'backend-pool weight unreachable with one blue backend',
    text: CANARY_PLAN.replace('traffic: routing-rule', 'traffic: backend-pool'),
    names: 'canary.steps[0].weight',
    says: /not reachable with backend-pool traffic and 1 blue backend\(s\).*\(50%\)/,
  },
  {
    name: 'canary section on a blue-green plan',
    text: CANARY_PLAN.replace('strategy: canary', 'strategy: blue-green'),
    names: 'canary',
    says: /only applies to strategy: canary/,
  },
  {
    name: 'canary step with neither weight nor approval',
    text: withSteps('  steps: [{bake: 1m}, {weight: 100}]\n'),
    names: 'canary.steps[0]',
    says: /either a weight .* or approval: true/,
  },
  {
    name: 'canary approval: false',
    text: withSteps('  steps: [{weight: 10}, {approval: false}, {weight: 100}]\n'),
    names: 'canary.steps[1].approval',
    says: /must be true/,
  },
  {
    name: 'canary weight not whole',
    text: withSteps('  steps: [{weight: 12.5}, {weight: 100}]\n'),
    names: 'canary.steps[0].weight',
    says: /whole number/,
  },
  { name: 'canary steps empty', text: withSteps('  steps: []\n'), names: 'canary.steps', says: /at least one step/ },
  {
    name: 'canary traffic not in the enum',
    text: CANARY_PLAN.replace('traffic: routing-rule', 'traffic: dns'),
    names: 'canary.traffic',
    says: /routing-rule.*backend-pool/,
  },
  {
    name: 'canary maxErrorRate above 1',
    text: CANARY_PLAN.replace('maxErrorRate: 0.05', 'maxErrorRate: 5'),
    names: 'canary.analysis.maxErrorRate',
    says: /between 0 and 1/,
  },
  {
    name: 'unknown field in canary.analysis',
    text: CANARY_PLAN.replace('    interval: 10s\n', '    interval: 10s\n    window: 5m\n'),
    names: 'canary.analysis.window',
    says: /unknown field/,
  },
  {
    name: 'unknown field in a canary step',
    text: withSteps('  steps: [{percent: 10}, {weight: 100}]\n'),
    names: 'canary.steps[0].percent',
    says: /unknown field/,
  },
  {
    name: 'unknown field in health',
    text: CANARY_PLAN.replace('  interval: 1s\n', '  interval: 1s\n  retries: 3\n'),
    names: 'health.retries',
    says: /unknown field/,
  },
  {
    name: 'unknown field in green.provisioner',
    text: CANARY_PLAN.replace('    type: sandbox\n', '    type: sandbox\n    image: trino:480\n'),
    names: 'green.provisioner.image',
    says: /unknown field/,
  },
  {
    name: 'unknown field in approval',
    text: CANARY_PLAN.replace('  required: false\n', '  required: false\n  users: [alice]\n'),
    names: 'approval.users',
    says: /unknown field/,
  },
  {
    name: 'string for a number (minActiveWorkers)',
    text: CANARY_PLAN.replace('minActiveWorkers: 1', 'minActiveWorkers: two'),
    names: 'health.minActiveWorkers',
    says: /expected number, received string/,
  },
  {
    name: 'string for a boolean (approval.required)',
    text: CANARY_PLAN.replace('required: false', 'required: "no"'),
    names: 'approval.required',
    says: /expected boolean, received string/,
  },
  {
    name: 'quoted number for a canary weight',
    text: withSteps('  steps: [{weight: "10"}, {weight: 100}]\n'),
    names: 'canary.steps[0].weight',
    says: /must be a number/,
  },
  {
    name: 'number for a string (green.version)',
    text: CANARY_PLAN.replace('version: "480"', 'version: 480'),
    names: 'green.version',
    says: /Trino version/,
  },
  {
    name: 'number for a string (routingGroup)',
    text: CANARY_PLAN.replace('routingGroup: adhoc', 'routingGroup: 42'),
    names: 'routingGroup',
    says: /must be a name/,
  },
  {
    name: 'number for a duration (gateway.requestTimeout)',
    text: CANARY_PLAN.replace('  url: http://127.0.0.1:8080\n', '  url: http://127.0.0.1:8080\n  requestTimeout: 10\n'),
    names: 'gateway.requestTimeout',
    says: /duration string/,
  },
  {
    name: 'approval.approvers empty',
    text: CANARY_PLAN.replace('  required: false\n', '  required: false\n  approvers: []\n'),
    names: 'approval.approvers',
    says: /at least one approver/,
  },
  {
    name: 'blue backend named twice',
    text: CANARY_PLAN.replace('backends: [trino-blue]', 'backends: [trino-blue, trino-blue]'),
    names: 'blue.backends',
    says: /twice/,
  },
  {
    name: 'health interval longer than its timeout',
    text: CANARY_PLAN.replace('  interval: 1s\n', '  interval: 1h\n  timeout: 1m\n'),
    names: 'health.interval',
    says: /not be longer than health.timeout/,
  },
  {
    name: 'zero request timeout',
    text: CANARY_PLAN.replace('  url: http://127.0.0.1:8080\n', '  url: http://127.0.0.1:8080\n  requestTimeout: 0s\n'),
    names: 'gateway.requestTimeout',
    says: /longer than 0/,
  },
  {
    name: 'command provisioner without a profile',
    text: CANARY_PLAN.replace('    type: sandbox\n', '    type: command\n    parameters: {namespace: trino}\n'),
    names: 'green.provisioner.profile',
    says: /is required/,
  },
  {
    name: 'command provisioner with shell commands in the plan',
    text: CANARY_PLAN.replace('    type: sandbox\n', '    type: command\n    profile: helm\n    create: ./create.sh\n'),
    names: 'green.provisioner.create',
    says: /a plan carries no shell commands/,
  },
];

const RESULT_PHASES = new Set(['SUCCEEDED', 'ROLLED_BACK', 'FAILED']);

/** Effects that change what the gateway routes or which clusters exist (health observations excluded). */
function changes(entries: JournalEntry[]): JournalEntry[] {
  return entries.filter((entry) =>
    /^(backend\.(added|updated|deleted|activated|deactivated)|rule\.|cluster\.)/.test(entry.kind),
  );
}

describe('bad input: invalid plans and CLI misuse', () => {
  let dir: string;
  // Without credentials: one case is a worker that holds none.
  const testbed = useTestbed({}, { credentials: false });
  const cutover = (...args: string[]) => cutoverAt(testbed.env.address, args);

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'cutover-bad-input-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function writePlan(name: string, text: string): string {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  }

  /** A blue/green plan (YAML) for a fleet; `extra` lines are appended. */
  function bluegreenPlan(gatewayUrl: string, group: string, extra = ''): string {
    return `gateway:
  url: ${gatewayUrl}
  requestTimeout: 2s
routingGroup: ${group}
green:
  name: ${group}-green
  version: "480"
  provisioner:
    type: sandbox
    startupDelay: 500ms
health:
  interval: 200ms
  timeout: 30s
${extra}`;
  }

  async function fleetWith(
    group: string,
    options: { users?: boolean; clusterGroup?: string; rules?: RoutingRule[] } = {},
  ): Promise<SandboxFleet> {
    return testbed.fleet({
      healthIntervalMs: 100,
      ...(options.rules ? { rules: options.rules } : {}),
      ...(options.users ? { users: { admin: { password: 'secret', roles: ['ADMIN', 'API', 'USER'] } } } : {}),
      clusters: [{ name: `${group}-blue`, version: '470', routingGroup: options.clusterGroup ?? group }],
    });
  }

  test(`start refuses ${INVALID_PLANS.length} more invalid plans (canary, nested unknown fields, wrong types) with exit 2 before connecting`, async () => {
    const paths = INVALID_PLANS.map((plan, index) => writePlan(`invalid-${index}.yaml`, plan.text));
    const runs = await inBatches(
      INVALID_PLANS.map((plan, index) => ({ plan, path: paths[index] })),
      4,
      async ({ plan, path }) => ({ plan, run: await cutoverAt(UNREACHABLE_TEMPORAL, ['start', path]) }),
    );
    for (const { plan, run } of runs) {
      assert.equal(run.code, 2, `${plan.name}: exit code (stderr: ${run.stderr})`);
      const line = run.stderr
        .split('\n')
        .find(
          (l) => l.includes(`- ${plan.names}:`) || l.includes(`- ${plan.names},`) || l.includes(`, ${plan.names}:`),
        );
      assert.ok(line, `${plan.name}: stderr names ${plan.names}:\n${run.stderr}`);
      assert.match(line, plan.says, `${plan.name}: the message says what is wrong`);
      assert.match(run.stderr, /is not a valid upgrade plan/, plan.name);
      assert.match(run.stderr, /nothing was started/, plan.name);
      assert.doesNotMatch(run.stderr, /temporal/i, `${plan.name}: refused before connecting`);
      assert.equal(run.stdout, '', `${plan.name}: nothing printed as started`);
    }
    // The valid canary plan itself passes validation (and only then fails to reach Temporal).
    const valid = await cutoverAt(UNREACHABLE_TEMPORAL, ['start', writePlan('valid-canary.yaml', CANARY_PLAN)]);
    assert.equal(valid.code, 1, valid.stderr);
    assert.match(valid.stderr, /cannot reach Temporal/);
  });

  test('unreachable gateway: preflight retries with the error in `cutover status` (for at most a minute), and a rollback ends it at once', async () => {
    const group = 'unreachable';
    const plan = writePlan('unreachable.yaml', bluegreenPlan(UNREACHABLE_GATEWAY, group));
    const start = await cutover('start', plan);
    assert.equal(start.code, 0, start.stderr);
    assert.match(start.stdout, /started upgrade cutover-unreachable/);
    const handle = testbed.env.client.workflow.getHandle(`cutover-${group}`);
    // A refused connection is a transient error: the inspect activity retries (at most a minute) and says why.
    let status: CliRun | undefined;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      status = await cutover('status', `cutover-${group}`);
      if (/attempt \d+: Trino Gateway at http:\/\/127\.0\.0\.1:9 is unreachable/.test(status.stdout)) break;
      await sleep(500);
    }
    assert.equal(status?.code, 0, status?.stderr);
    assert.match(status.stdout, /phase:\s+PROVISIONING/);
    assert.match(
      status.stdout,
      /activity:\s+retrying: inspectGateway \(preflight: read routing group unreachable from the gateway\), attempt \d+: Trino Gateway at http:\/\/127\.0\.0\.1:9 is unreachable: GET \/gateway\/backend\/all failed: connect ECONNREFUSED/,
    );
    const rollback = await cutover('rollback', `cutover-${group}`, '--reason', 'gateway address is wrong');
    assert.equal(rollback.code, 0, rollback.stderr);
    const result = (await handle.result()) as {
      outcome: string;
      reason?: string;
      status: { timeline: { phase: string }[] };
    };
    assert.equal(result.outcome, 'ROLLED_BACK');
    assert.equal(result.reason, 'gateway address is wrong');
    assert.ok(
      result.status.timeline.every((entry) => ['PROVISIONING', 'ROLLING_BACK', 'ROLLED_BACK'].includes(entry.phase)),
      'no step ran: the rollback ended the preflight',
    );
  });

  test('a routing group with no active backend ends FAILED in preflight; the gateway is untouched', async () => {
    const group = 'nobackend';
    const fleet = await fleetWith(group, { clusterGroup: 'elsewhere' });
    const since = await journalMark();
    const run = await cutover('start', writePlan('nobackend.yaml', bluegreenPlan(fleet.gatewayUrl, group)), '--wait');
    assert.equal(run.code, 1, run.stderr + run.stdout);
    assert.match(
      run.stdout + run.stderr,
      /ended: FAILED \(preflight failed, nothing was changed: routing group nobackend has no active backend to upgrade \(backends: none\)\)/,
    );
    assert.deepEqual(changes(fleet.journal(since)), [], 'no backend or cluster changed');
    assert.equal(fleet.cluster(`${group}-green`), undefined, 'green was never provisioned');
  });

  /** A canary through the routing rule of `group`, 10% then 100%, without approval. */
  function routingRuleCanaryPlan(gatewayUrl: string, group: string): string {
    return `strategy: canary
${bluegreenPlan(gatewayUrl, group)}approval:
  required: false
canary:
  traffic: routing-rule
  steps: [{weight: 10, bake: 1s}, {weight: 100}]
`;
  }

  test('a canary whose routing rule is missing from the gateway ends FAILED in preflight; green is never provisioned', async () => {
    const group = 'norule';
    // The rules engine is on, with another group's canary rule: not this plan's.
    const fleet = await fleetWith(group, { rules: canaryReadyRules('other-canary') });
    const since = await journalMark();
    const plan = routingRuleCanaryPlan(fleet.gatewayUrl, group);
    const run = await cutover('start', writePlan('norule.yaml', plan), '--wait');
    assert.equal(run.code, 1, run.stderr + run.stdout);
    assert.match(
      run.stdout + run.stderr,
      /ended: FAILED \(preflight failed, nothing was changed: routing rule cutover-canary-norule does not exist in the gateway's rules file/,
    );
    // The rule to add runs after the group rules and takes only this group's requests (not the default group adhoc's).
    assert.match(
      run.stdout + run.stderr,
      /add it once with priority 20 \(after every rule that assigns a routing group\), condition '.* < 0' and action 'if \("norule"\.equals\(result\.get\("routingGroup"\)\)\) \{ result\.put\("routingGroup", "norule-canary"\) \}'/,
    );
    assert.deepEqual(changes(fleet.journal(since)), [], 'no backend, rule or cluster changed');
    assert.equal(fleet.cluster(`${group}-green`), undefined, 'green was never provisioned');
  });

  test('a canary rule that runs before the routing-group rules ends FAILED in preflight, naming the priority to give it', async () => {
    const group = 'early';
    // The canary rule at the header rule's priority: it would not see the group the header assigns.
    const rules = canaryReadyRules(`${group}-canary`).map((rule) =>
      rule.name === `cutover-canary-${group}` ? { ...rule, priority: 0 } : rule,
    );
    const fleet = await fleetWith(group, { rules });
    const since = await journalMark();
    const plan = routingRuleCanaryPlan(fleet.gatewayUrl, group);
    const run = await cutover('start', writePlan('early.yaml', plan), '--wait');
    assert.equal(run.code, 1, run.stderr + run.stdout);
    assert.match(
      run.stdout + run.stderr,
      /ended: FAILED \(preflight failed, nothing was changed: .*routing rule cutover-canary-early has priority 0, not above routing-group-header \(priority 0\), which also assigns a routing group: .* give cutover-canary-early a priority above 0 in the rules file/,
    );
    assert.deepEqual(changes(fleet.journal(since)), [], 'no backend, rule or cluster changed');
    assert.equal(fleet.cluster(`${group}-green`), undefined, 'green was never provisioned');
  });

  test('missing gateway credentials: FAILED in preflight naming CUTOVER_GATEWAY_USER/PASSWORD; the gateway is untouched', async () => {
    const group = 'noauth';
    const fleet = await fleetWith(group, { users: true });
    const since = await journalMark();
    const run = await cutover('start', writePlan('noauth.yaml', bluegreenPlan(fleet.gatewayUrl, group)), '--wait');
    assert.equal(run.code, 1, run.stderr + run.stdout);
    const output = run.stdout + run.stderr;
    assert.match(
      output,
      /ended: FAILED \(preflight failed, nothing was changed: Trino Gateway requires authentication for GET \/gateway\/backend\/all \(HTTP 403\) and the worker sent none/,
    );
    assert.match(
      output,
      /CUTOVER_GATEWAY_USER and CUTOVER_GATEWAY_PASSWORD \(or CUTOVER_GATEWAY_TOKEN\) in the worker environment/,
    );
    assert.deepEqual(changes(fleet.journal(since)), [], 'no backend or cluster changed');
    const backends = (await (
      await fetch(`${fleet.gatewayUrl}/gateway/backend/all`, {
        headers: { authorization: `Basic ${Buffer.from('admin:secret').toString('base64')}` },
      })
    ).json()) as { name: string; active: boolean }[];
    assert.deepEqual(
      backends.map((b) => [b.name, b.active]),
      [[`${group}-blue`, true]],
    );
  });

  test('unknown workflow ids: status, approve, rollback, pause, resume and promote exit 1 naming the id', async () => {
    const runs = await inBatches(
      [['status'], ['approve'], ['rollback', '--reason', 'x'], ['pause'], ['resume'], ['promote']],
      3,
      async ([verb, ...rest]) => ({ verb, run: await cutover(verb, 'cutover-no-such-group', ...rest) }),
    );
    for (const { verb, run } of runs) {
      assert.equal(run.code, 1, `${verb}: ${run.stderr}`);
      assert.match(run.stderr, /no upgrade with id cutover-no-such-group; list them with `cutover list --all`/, verb);
      assert.equal(run.stdout, '', verb);
    }
  });

  test('misuse of a running blue/green upgrade is refused (exit 1 or 2) and changes nothing', async () => {
    const group = 'busy';
    const fleet = await fleetWith(group);
    const id = `cutover-${group}`;
    // Green takes 10 minutes to start: the upgrade stays in VERIFYING, awaiting nothing.
    const planPath = writePlan(
      'busy.yaml',
      bluegreenPlan(fleet.gatewayUrl, group)
        .replace('startupDelay: 500ms', 'startupDelay: 10m')
        .replace('timeout: 30s', 'timeout: 5m'),
    );
    const start = await cutover('start', planPath);
    assert.equal(start.code, 0, start.stderr);
    const handle = testbed.env.client.workflow.getHandle(id);
    await waitForPhase(handle, 'VERIFYING', 30_000);
    const since = await journalMark();

    const [approve, promote, resume, second, rollbackNoReason, unknownFlag] = await inBatches(
      [
        ['approve', id, '--by', 'alice'],
        ['promote', id],
        ['resume', id],
        ['start', planPath],
        ['rollback', id],
        ['approve', id, '--yes'],
      ],
      3,
      (args) => cutover(...args),
    );
    assert.equal(approve.code, 1, approve.stderr);
    assert.match(approve.stderr, /approve refused by cutover-busy: nothing awaits approval \(phase VERIFYING\)/);
    assert.equal(promote.code, 1, promote.stderr);
    assert.match(promote.stderr, /promote refused by cutover-busy: promote applies to canary upgrades only/);
    assert.equal(resume.code, 1, resume.stderr);
    assert.match(resume.stderr, /resume refused by cutover-busy: the upgrade is not paused/);
    assert.equal(second.code, 1, second.stderr);
    assert.match(second.stderr, /routing group busy already has a running upgrade cutover-busy/);
    assert.match(second.stderr, /cutover watch cutover-busy/);
    assert.equal(rollbackNoReason.code, 2, rollbackNoReason.stderr);
    assert.match(rollbackNoReason.stderr, /required option '--reason <text>' not specified/);
    assert.equal(unknownFlag.code, 2, unknownFlag.stderr);
    assert.match(unknownFlag.stderr, /unknown option '--yes'/);

    const status: UpgradeStatus = await handle.query(statusQuery);
    assert.equal(status.phase, 'VERIFYING', 'the upgrade goes on where it was');
    assert.ok(
      !status.timeline.some((entry) => /rollback requested|approved by|promoted by|resumed by/.test(entry.message)),
      'no refused request took effect',
    );
    assert.deepEqual(changes(fleet.journal(since)), [], 'no backend or cluster changed');
    assert.equal((await handle.describe()).status.name, 'RUNNING');

    // The same verbs used correctly still work: end the upgrade with a real rollback.
    const rollback = await cutover('rollback', id, '--reason', 'bad-input test cleanup');
    assert.equal(rollback.code, 0, rollback.stderr);
    const ended = await waitForStatus(handle, (s) => RESULT_PHASES.has(s.phase), 'the rollback', 30_000);
    assert.equal(ended.phase, 'ROLLED_BACK');
    const late = await cutover('approve', id);
    assert.equal(late.code, 1);
    assert.match(
      late.stderr,
      /upgrade cutover-busy already ended \(COMPLETED, phase ROLLED_BACK\); there is nothing to approve/,
    );
  });
});
