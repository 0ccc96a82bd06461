import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { renderView } from '../src/client/commands/status';
import { readUpgrade } from '../src/client/commands/upgrade-handle';
import { startUpgrade } from '../src/client/upgrades';
import { until, untilHealthy, waitForStatus } from '../src/devserver/wait';
import { TrinoGatewayClient } from '../src/integrations/gateway/client';
import { canaryCondition } from '../src/integrations/traffic/routing-rule';
import { canaryReadyRules } from '../src/sandbox/canary-rules';
import type { SandboxFleet } from '../src/sandbox/fleet';
import type { JournalEntry } from '../src/sandbox/journal';
import type { UpgradeStatus } from '../src/workflows/messages';
import { gatewayBackends } from './support/faults';
import { assertJournal } from './support/journal';
import { fastPlan } from './support/plans';
import { assertReplays } from './support/temporal';
import { useTestbed } from './support/testbed';

const RULES_REFRESH_MS = 200;

describe('gateway replicas: an upgrade through two gateway replicas behind one round-robin URL', () => {
  const testbed = useTestbed();

  /** Two replicas over one backend table, each with its own health cache and rules file. */
  async function replicatedFleet(group: string, canary: boolean): Promise<SandboxFleet> {
    const fleet = await testbed.fleet({
      gatewayReplicas: 2,
      healthIntervalMs: 100,
      rulesRefreshMs: RULES_REFRESH_MS,
      rules: canary ? canaryReadyRules(`${group}-canary`) : undefined,
      clusters: [{ name: `${group}-blue`, version: '470', routingGroup: group }],
    });
    await untilHealthy(fleet, `${group}-blue`);
    return fleet;
  }

  function canaryPlan(fleet: SandboxFleet, group: string, steps: Record<string, unknown>[]) {
    return fastPlan(fleet.gatewayUrl, group, {
      strategy: 'canary',
      gateway: { replicas: fleet.replicaUrls() },
      approval: { required: false },
      canary: {
        traffic: 'routing-rule',
        rulesRefresh: `${RULES_REFRESH_MS}ms`,
        analysis: { interval: '200ms', maxConsecutiveFailures: 1 },
        steps,
      },
      retire: { keepBlueFor: '0s' },
    });
  }

  /** The canary rule's condition in each replica's own rules file, by replica name. */
  async function rulesByReplica(fleet: SandboxFleet, group: string): Promise<Record<string, string | undefined>> {
    const out: Record<string, string | undefined> = {};
    for (const [name, replica] of fleet.gatewayReplicas) {
      const rules = await new TrinoGatewayClient({ url: replica.url }).getRoutingRules();
      out[name] = rules.find((rule) => rule.name === `cutover-canary-${group}`)?.condition;
    }
    return out;
  }

  /** When the timeline first has an entry `accept` takes (epoch ms). */
  function firstAt(status: UpgradeStatus, accept: (entry: UpgradeStatus['timeline'][number]) => boolean): number {
    const entry = status.timeline.find(accept);
    assert.ok(entry, `timeline has the entry: ${JSON.stringify(status.timeline.map((e) => e.message))}`);
    return Date.parse(entry.at);
  }

  /** The journal's rule writes to a replica's file that set the canary share to `percent`. */
  function ruleWrites(journal: JournalEntry[], replica: string, percent: number): JournalEntry[] {
    return journal.filter(
      (entry) =>
        entry.kind === 'rule.updated' &&
        entry.replica === replica &&
        entry.detail?.startsWith(canaryCondition(percent)),
    );
  }

  /** The CLI's `status` text of the upgrade, once `accept` holds for it. */
  async function statusTextWhen(
    client: Client,
    id: string,
    accept: (text: string) => boolean,
    what: string,
  ): Promise<string> {
    let text = '';
    await until(
      () => `${what}; last status:\n${text}`,
      async () => accept((text = renderView(await readUpgrade(client, id, 5_000)).join('\n'))),
      30_000,
      200,
    );
    return text;
  }

  it('a canary step through two gateway replicas is written to and read back from both before it bakes', async () => {
    const group = 'harules';
    const fleet = await replicatedFleet(group, true);
    const handle = await startUpgrade(
      testbed.env.client,
      canaryPlan(fleet, group, [{ weight: 10, bake: '1s' }, { weight: 100 }]),
    );
    const result = await handle.result();
    assert.equal(result.outcome, 'SUCCEEDED', result.reason);
    const status = result.status;
    const bakeAt = firstAt(status, (entry) => entry.phase === 'BAKING');
    for (const replica of ['gw-1', 'gw-2']) {
      const [written] = ruleWrites(fleet.journal(), replica, 10);
      assert.ok(written, `${replica}'s own rules file was given 10%`);
      assert.ok(written.at < bakeAt, `${replica} had 10% before the bake began`);
    }
    assert.match(
      status.timeline.find((entry) => entry.message.includes('10% of users'))?.message ?? '',
      /read back from each of 2 gateway replicas/,
    );
    assert.deepEqual(
      await rulesByReplica(fleet, group),
      { 'gw-1': canaryCondition(0), 'gw-2': canaryCondition(0) },
      'the canary rule is back at 0% in both files once green serves the group',
    );
    assert.deepEqual(await gatewayBackends(fleet), [[`${group}-green`, true]]);
    await assertReplays(handle as WorkflowHandle);
  });

  it('a replica that lags, then one that refuses the rule, holds the step and the status names it', async () => {
    const group = 'halag';
    const fleet = await replicatedFleet(group, true);
    const [, gw2] = fleet.replicaUrls();
    const gw2Label = new URL(gw2).host;
    fleet.setReplicaFaults('gw-2', { staleRules: true });
    const handle = await startUpgrade(
      testbed.env.client,
      canaryPlan(fleet, group, [{ weight: 10, bake: '1s' }, { weight: 50, bake: '1s' }, { weight: 100 }]),
    );
    const lagging = await statusTextWhen(
      testbed.env.client,
      handle.workflowId,
      (text) => text.includes(`replica ${gw2Label} still has 0%`),
      'the status names the lagging replica',
    );
    assert.match(lagging, /the step counts once every replica has 10%/);
    const held = await waitForStatus(handle, () => true, 'status');
    assert.equal(held.phase, 'SHIFTING', 'the step is held, not baking');
    assert.equal(held.trafficPercent, 0);
    assert.deepEqual(await rulesByReplica(fleet, group), {
      'gw-1': canaryCondition(10),
      'gw-2': canaryCondition(0),
    });

    fleet.setReplicaFaults('gw-2', { staleRules: false, refuseRuleUpdates: true });
    const refusing = await statusTextWhen(
      testbed.env.client,
      handle.workflowId,
      (text) => text.includes(`replica ${gw2Label} refused the rule update`),
      'the status names the refusing replica',
    );
    assert.match(refusing, /HTTP 500/);
    assert.match(refusing, /the step counts once every replica has 50%/);
    const atFifty = await waitForStatus(handle, () => true, 'status');
    assert.equal(atFifty.phase, 'SHIFTING');
    assert.equal(atFifty.trafficPercent, 10, 'still at the step before');

    const releasedAt = Date.now();
    fleet.setReplicaFaults('gw-2', { refuseRuleUpdates: false });
    const result = await handle.result();
    assert.equal(result.outcome, 'SUCCEEDED', result.reason);
    const bakes = result.status.timeline.filter((entry) => entry.phase === 'BAKING');
    const fiftyBake = bakes.find((entry) => Date.parse(entry.at) >= releasedAt);
    assert.ok(fiftyBake, 'the 50% step baked after the replica took the rule');
    const [written] = ruleWrites(fleet.journal(), 'gw-2', 50);
    assert.ok(written && written.at < Date.parse(fiftyBake.at), 'gw-2 had 50% before the bake began');
    await assertReplays(handle as WorkflowHandle);
  });

  it('the blue/green flip waits until both replicas report green HEALTHY, and says which one does not', async () => {
    const group = 'haflip';
    const fleet = await replicatedFleet(group, false);
    const [, gw2] = fleet.replicaUrls();
    // gw-2's health cache lags: it will report green PENDING until the switch is off.
    fleet.setReplicaFaults('gw-2', { healthFrozen: true });
    const handle = await startUpgrade(
      testbed.env.client,
      fastPlan(fleet.gatewayUrl, group, {
        gateway: { replicas: fleet.replicaUrls() },
        approval: { required: false },
        retire: { keepBlueFor: '0s' },
      }),
    );
    const text = await statusTextWhen(
      testbed.env.client,
      handle.workflowId,
      (view) => view.includes(`replica ${new URL(gw2).host} reports ${group}-green PENDING`),
      'the status names the replica that does not report green HEALTHY',
    );
    assert.match(text, new RegExp(`${group}-green is active`));
    assert.deepEqual(
      await gatewayBackends(fleet),
      [
        [`${group}-blue`, true],
        [`${group}-green`, true],
      ],
      'blue keeps serving while a replica does not route to green',
    );
    fleet.setReplicaFaults('gw-2', { healthFrozen: false });
    const result = await handle.result();
    assert.equal(result.outcome, 'SUCCEEDED', result.reason);
    const journal = fleet.journal();
    const greenHealthyOnGw2 = journal.find(
      (entry) =>
        entry.kind === 'backend.health' &&
        entry.name === `${group}-green` &&
        entry.replica === 'gw-2' &&
        entry.detail === 'HEALTHY',
    );
    const blueOff = journal.find((entry) => entry.kind === 'backend.deactivated' && entry.name === `${group}-blue`);
    assert.ok(greenHealthyOnGw2 && blueOff, 'gw-2 reported green HEALTHY and blue was deactivated');
    assert.ok(greenHealthyOnGw2.at <= blueOff.at, 'blue was deactivated only once gw-2 reported green HEALTHY');
    assertJournal(journal, { alwaysServed: group });
    assert.match(
      result.status.timeline.find((entry) => entry.message.includes('takes every new query'))?.message ?? '',
      /HEALTHY on each of 2 gateway replicas/,
    );
    await assertReplays(handle as WorkflowHandle);
  });
});
