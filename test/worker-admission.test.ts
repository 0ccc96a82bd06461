import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { startUpgrade } from '../src/client/upgrades';
import { untilHealthy } from '../src/devserver/wait';
import type { SandboxFleet } from '../src/sandbox/fleet';
import type { JournalEntry } from '../src/sandbox/journal';
import { TASK_QUEUE } from '../src/workflows/messages';
import { journalMark } from './support/journal';
import { fastPlan } from './support/plans';
import { assertNoSecretsInHistories } from './support/secret-scan';
import { useTestbed } from './support/testbed';

/** Journal kinds that change the gateway or the fleet (health checks only observe). */
const CHANGES = new Set<JournalEntry['kind']>([
  'backend.added',
  'backend.updated',
  'backend.deleted',
  'backend.activated',
  'backend.deactivated',
  'rule.updated',
  'cluster.created',
  'cluster.deleted',
]);

/**
 * The worker is the trust boundary: a run started around cutover's CLI (Temporal UI, Temporal
 * CLI, any SDK client) is validated by the worker itself, and a bad plan changes nothing.
 */
describe('the worker validates every run it executes', () => {
  const testbed = useTestbed();

  const fleetWithBlue = (group: string) => testbed.fleetWithBlue(group);

  /** Starts a workflow as the Temporal CLI would, with a raw input, and returns how it failed. */
  async function refusal(workflowType: string, id: string, input: unknown): Promise<string> {
    const handle = await testbed.env.client.workflow.start(workflowType, {
      taskQueue: TASK_QUEUE,
      workflowId: id,
      args: [input],
    });
    const failure = await handle.result().then(
      () => assert.fail(`${id} ran to completion with a plan the worker must refuse`),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof WorkflowFailedError, `${id} failed as a workflow: ${String(failure)}`);
    const cause = failure.cause;
    assert.equal((cause as { type?: string } | undefined)?.type, 'PlanRefused', `${id} was refused: ${cause?.message}`);
    return cause?.message ?? '';
  }

  function changesSince(fleet: SandboxFleet, since: number): JournalEntry[] {
    return fleet.journal(since).filter((entry) => CHANGES.has(entry.kind));
  }

  it('a raw start with an unsafe plan ends FAILED at once, every problem named, nothing changed', async () => {
    const group = 'rawbad';
    const fleet = await fleetWithBlue(group);
    const since = await journalMark();
    const good = fastPlan(fleet.gatewayUrl, group);
    const gateway = new URL(fleet.gatewayUrl);
    const message = await refusal('blueGreenUpgrade', 'cutover-rawbad', {
      plan: {
        ...good,
        gateway: { ...good.gateway, url: `http://admin:hunter2@${gateway.host}?x=1` },
        health: { ...good.health, interval: '0ms', timeout: '0.5ms' },
        green: { ...good.green, version: 'latest' },
      },
    });
    assert.match(message, /nothing was changed/);
    assert.match(message, /gateway\.url: must not carry a user or password/);
    assert.match(message, /health\.interval: must be longer than 0/);
    assert.match(message, /health\.timeout: must be a whole number of milliseconds/);
    assert.match(message, /green\.version: must be a Trino release number/);
    assert.doesNotMatch(message, /hunter2/, 'the refusal does not repeat the password it refused');
    assert.deepEqual(changesSince(fleet, since), [], 'the gateway and the fleet were not touched');
    const history = JSON.stringify(await testbed.env.client.workflow.getHandle('cutover-rawbad').fetchHistory());
    assert.doesNotMatch(history, /"activityTaskScheduledEventAttributes"/, 'no activity ran');
    // The secret scan every test file ends with reads inputs too: the password this raw start carried is found.
    await assert.rejects(assertNoSecretsInHistories(testbed.env.client, ['hunter2']), /cutover-rawbad .* holds hunter/);
  });

  it('a raw start that carries a resume snapshot is refused: only continue-as-new may resume', async () => {
    const group = 'rawresume';
    const fleet = await fleetWithBlue(group);
    const since = await journalMark();
    const plan = fastPlan(fleet.gatewayUrl, group);
    const message = await refusal('blueGreenUpgrade', 'cutover-rawresume', {
      plan,
      resume: { stepIndex: 8, facts: { blue: [] }, compensations: [], promoteAll: false, status: {} },
    });
    assert.match(message, /resume: is accepted only from cutover's own continue-as-new/);
    assert.deepEqual(changesSince(fleet, since), []);
  });

  it('a canary plan started as blueGreenUpgrade is refused', async () => {
    const group = 'rawstrategy';
    const fleet = await fleetWithBlue(group);
    const plan = fastPlan(fleet.gatewayUrl, group, { strategy: 'canary' });
    const message = await refusal('blueGreenUpgrade', 'cutover-rawstrategy', { plan });
    assert.match(message, /strategy: is canary, but blueGreenUpgrade runs blue-green upgrades/);
  });

  it('a raw start with a plan as a person writes it (defaults left out) runs with the defaults filled', async () => {
    const group = 'rawdefaults';
    const fleet = await fleetWithBlue(group);
    const handle = await testbed.env.client.workflow.start('blueGreenUpgrade', {
      taskQueue: TASK_QUEUE,
      workflowId: 'cutover-rawdefaults',
      args: [
        {
          plan: {
            gateway: { url: fleet.gatewayUrl },
            routingGroup: group,
            green: { name: `${group}-green`, version: '480', provisioner: { type: 'sandbox', startupDelay: '300ms' } },
            health: { interval: '200ms', timeout: '20s' },
            approval: { required: false },
            bake: '1s',
            drain: { interval: '200ms' },
            retire: { keepBlueFor: '0s' },
            // No query load: by default the bake's analysis would wait for queries to judge green by.
            analysis: { minQueries: 0 },
          },
        },
      ],
    });
    const result = (await handle.result()) as { outcome: string };
    assert.equal(result.outcome, 'SUCCEEDED');
  });

  it('a canary whose canary group already serves other backends is refused at the preflight, nothing changed', async () => {
    const group = 'collide';
    const fleet = await testbed.fleet({
      healthIntervalMs: 100,
      clusters: [
        { name: `${group}-blue`, version: '470', routingGroup: group },
        { name: 'team-x', version: '470', routingGroup: `${group}-canary` },
      ],
    });
    await untilHealthy(fleet, `${group}-blue`);
    const since = await journalMark();
    const plan = fastPlan(fleet.gatewayUrl, group, { strategy: 'canary', canary: { traffic: 'routing-rule' } });
    const handle = await startUpgrade(testbed.env.client, plan, { startedBy: 'test' });
    const failure = await handle.result().then(
      () => assert.fail('the canary ran into a group that serves other traffic'),
      (error: unknown) => error as WorkflowFailedError,
    );
    assert.match(
      failure.cause?.message ?? '',
      /preflight failed, nothing was changed: canary group collide-canary already serves traffic \(active: team-x\)/,
    );
    assert.deepEqual(changesSince(fleet, since), []);
  });
});
