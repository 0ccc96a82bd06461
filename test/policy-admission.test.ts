import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { startUpgrade } from '../src/client/upgrades';

import type { Overrides } from '../src/plan/merge';
import { validatePolicy } from '../src/policy/load';
import type { WorkerPolicy } from '../src/policy/schema';
import type { SandboxFleet } from '../src/sandbox/fleet';
import type { JournalEntry } from '../src/sandbox/journal';
import { inBatches } from './support/cli';
import { journalMark } from './support/journal';
import { fastPlan } from './support/plans';
import { TEST_POLICY_INPUT } from './support/policy';
import { useTestbed } from './support/testbed';

const ALICE_KEY = readFileSync(join(__dirname, 'fixtures', 'keys', 'test-only-alice_ed25519.pub'), 'utf8').trim();

/** A strict worker policy: what the plans below run into. */
const STRICT: WorkerPolicy = validatePolicy(
  {
    ...TEST_POLICY_INPUT,
    approvers: [{ name: 'alice', publicKey: ALICE_KEY }],
    bounds: {
      minInterval: '500ms',
      maxWait: '1h',
      maxWeightStep: 50,
      maxSmokeQueries: 2,
      maxErrorRate: 0.1,
      maxConsecutiveFailures: 3,
    },
  },
  'strict test policy',
);

const NO_SANDBOX: WorkerPolicy = validatePolicy(
  { ...TEST_POLICY_INPUT, provisioners: { ...TEST_POLICY_INPUT.provisioners, sandbox: false } },
  'policy without the sandbox provisioner',
);

/** Journal kinds that change the gateway or the fleet. */
const CHANGES = /^(backend\.(added|updated|deleted|activated|deactivated)|rule\.|cluster\.)/;

interface PolicyCase {
  name: string;
  overrides: (gatewayUrl: string) => Overrides;
  names: string;
  says: RegExp;
}

const CANARY = { strategy: 'canary', canary: { traffic: 'routing-rule', analysis: { interval: '1s' } } };

/** Plans the schema accepts and the strict policy does not, each naming its field. */
const CASES: PolicyCase[] = [
  {
    name: 'a gateway origin the policy does not list',
    overrides: (url) => ({ gateway: { url: url.replace('127.0.0.1', 'localhost') } }),
    names: 'gateway.url',
    says: /is not a gateway this worker may use/,
  },
  {
    name: 'a health interval under bounds.minInterval',
    overrides: () => ({ health: { interval: '200ms' } }),
    names: 'health.interval',
    says: /at least 500ms \(the worker policy's bounds\.minInterval\)/,
  },
  {
    name: 'a drain interval under bounds.minInterval',
    overrides: () => ({ health: { interval: '1s' }, drain: { interval: '100ms' } }),
    names: 'drain.interval',
    says: /at least 500ms/,
  },
  {
    name: 'an approval timeout over bounds.maxWait',
    overrides: () => ({ health: { interval: '1s' }, drain: { interval: '1s' }, approval: { timeout: '2d' } }),
    names: 'approval.timeout',
    says: /at most 1h \(the worker policy's bounds\.maxWait\)/,
  },
  {
    name: 'a bake over bounds.maxWait',
    overrides: () => ({ health: { interval: '1s' }, drain: { interval: '1s' }, bake: '3h' }),
    names: 'bake',
    says: /at most 1h/,
  },
  {
    name: 'a provisioning deadline over bounds.maxWait',
    overrides: () => ({ health: { interval: '1s' }, drain: { interval: '1s' }, green: { provisionDeadline: '2h' } }),
    names: 'green.provisionDeadline',
    says: /at most 1h/,
  },
  {
    name: 'more smoke queries than bounds.maxSmokeQueries',
    overrides: () => ({
      health: { interval: '1s', smokeQueries: ['SELECT 1', 'SELECT 2', 'SELECT 3'] },
      drain: { interval: '1s' },
    }),
    names: 'health.smokeQueries',
    says: /has 3 queries; the worker policy allows at most 2/,
  },
  {
    name: 'a canary jump larger than bounds.maxWeightStep',
    overrides: () => ({
      ...CANARY,
      health: { interval: '1s' },
      drain: { interval: '1s' },
      canary: { ...CANARY.canary, steps: [{ weight: 10 }, { weight: 100 }] },
    }),
    names: 'canary.steps[1].weight',
    says: /moves 90 points at once \(10% to 100%\); the worker policy allows at most 50/,
  },
  {
    name: 'an error rate over bounds.maxErrorRate',
    overrides: () => ({
      ...CANARY,
      health: { interval: '1s' },
      drain: { interval: '1s' },
      canary: { ...CANARY.canary, preset: 'linear-10', analysis: { interval: '1s', maxErrorRate: 0.5 } },
    }),
    names: 'canary.analysis.maxErrorRate',
    says: /at most 0\.1/,
  },
  {
    name: 'more failed samples in a row than bounds.maxConsecutiveFailures',
    overrides: () => ({
      ...CANARY,
      health: { interval: '1s' },
      drain: { interval: '1s' },
      canary: { ...CANARY.canary, preset: 'linear-10', analysis: { interval: '1s', maxConsecutiveFailures: 10 } },
    }),
    names: 'canary.analysis.maxConsecutiveFailures',
    says: /at most 3/,
  },
  {
    name: 'more failed health checks in a row than bounds.maxConsecutiveFailures',
    overrides: () => ({ health: { interval: '1s', maxConsecutiveFailures: 10 }, drain: { interval: '1s' } }),
    names: 'health.maxConsecutiveFailures',
    says: /at most 3/,
  },
  {
    name: 'a shadow query file when the policy has no query directory',
    overrides: () => ({
      health: { interval: '1s' },
      drain: { interval: '1s' },
      shadow: { source: ['file'], queryFile: 'nightly.sql' },
    }),
    names: 'shadow.queryFile',
    says: /the worker policy allows no query files \(set shadow\.queryDirectory in the policy/,
  },
  {
    name: 'plan approvers the policy does not name (a plan can only narrow them)',
    overrides: () => ({ health: { interval: '1s' }, drain: { interval: '1s' }, approval: { approvers: ['mallory'] } }),
    names: 'approval.approvers',
    says: /mallory is not an approver in the worker policy/,
  },
];

/**
 * The worker's policy is the last word on a plan the schema accepts: the preflight's `checkRun`
 * refuses what the policy does not allow, before anything changes, whoever started the run.
 */
describe('the worker policy refuses what it does not allow, before anything changes', () => {
  let policy: WorkerPolicy = STRICT;
  const testbed = useTestbed({}, { policy: () => policy });

  const fleetWithBlue = (group: string) => testbed.fleetWithBlue(group);

  async function refusalOf(fleet: SandboxFleet, group: string, overrides: Overrides): Promise<string> {
    const handle = await startUpgrade(testbed.env.client, fastPlan(fleet.gatewayUrl, group, overrides), {
      startedBy: 'test',
    });
    const failure = await handle.result().then(
      () => assert.fail(`${group} ran to completion`),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof WorkflowFailedError, `${group} failed as a workflow`);
    return failure.cause?.message ?? '';
  }

  const changes = (entries: JournalEntry[]) => entries.filter((entry) => CHANGES.test(entry.kind));

  it(`refuses ${CASES.length} plans the schema accepts, each naming its field, and changes nothing`, async () => {
    const runs = await inBatches(
      CASES.map((policyCase, index) => ({ policyCase, group: `strict${index}` })),
      4,
      async ({ policyCase, group }) => {
        const fleet = await fleetWithBlue(group);
        const since = await journalMark();
        const message = await refusalOf(fleet, group, policyCase.overrides(fleet.gatewayUrl));
        return { policyCase, message, changed: changes(fleet.journal(since)) };
      },
    );
    for (const { policyCase, message, changed } of runs) {
      assert.match(
        message,
        /preflight failed, nothing was changed: the worker policy refuses this plan/,
        policyCase.name,
      );
      const line = message.split('\n').find((l) => l.includes(`- ${policyCase.names}:`));
      assert.ok(line, `${policyCase.name}: names ${policyCase.names}:\n${message}`);
      assert.match(line, policyCase.says, policyCase.name);
      assert.deepEqual(changed, [], `${policyCase.name}: the gateway and the fleet were not touched`);
    }
  });

  it('refuses the sandbox provisioner when the policy turns it off, and runs the same plan once it allows it', async () => {
    const group = 'nosandbox';
    const fleet = await fleetWithBlue(group);
    policy = NO_SANDBOX;
    const message = await refusalOf(fleet, group, { approval: { required: false } });
    assert.match(message, /green\.provisioner\.type: sandbox is not allowed by this worker's policy/);
    policy = validatePolicy(TEST_POLICY_INPUT, 'test policy');
    const handle = await startUpgrade(
      testbed.env.client,
      fastPlan(fleet.gatewayUrl, group, { approval: { required: false }, retire: { keepBlueFor: '0s' } }),
      { startedBy: 'test' },
    );
    assert.equal((await handle.result()).outcome, 'SUCCEEDED', 'a reloaded policy applies to the next run');
  });
});
