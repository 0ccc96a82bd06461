import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { startFleet } from '../src/client/fleets';
import { startUpgrade } from '../src/client/upgrades';
import { fleetPlanSchema } from '../src/fleet/schema';
import type { SandboxFleet } from '../src/sandbox/fleet';
import {
  fleetStatusQuery,
  type FleetResult,
  type FleetStatus,
  type FleetWorkflow,
} from '../src/workflows/fleet/messages';
import type { UpgradeResult } from '../src/workflows/messages';
import { runCli } from './support/cli';
import {
  backendsOf,
  childStarts,
  fleetBase as base,
  fleetDocument,
  groupsFleetOptions,
  untilFleet,
  untilGroupsHealthy,
} from './support/fleets';
import { fastPlan } from './support/plans';
import { useTestbed } from './support/testbed';

async function start(
  testbed: ReturnType<typeof useTestbed>,
  document: Record<string, unknown>,
  options: { historyLimit?: number } = {},
) {
  return startFleet(testbed.env.client, document, fleetPlanSchema.parse(document), {
    startedBy: 'fleet test',
    ...options,
  });
}

async function statusOf(handle: WorkflowHandle<FleetWorkflow>): Promise<FleetStatus> {
  return handle.query(fleetStatusQuery);
}

/** Sandbox clusters `<group>-blue` (Trino 470) serving each group, HEALTHY. */
async function fleetOfGroups(testbed: ReturnType<typeof useTestbed>, groups: string[]): Promise<SandboxFleet> {
  const fleet = await testbed.fleet(groupsFleetOptions(groups));
  await untilGroupsHealthy(fleet, groups);
  return fleet;
}

describe('fleet upgrades in waves', () => {
  const testbed = useTestbed();

  it(
    'six groups in three waves all succeed, one wave after the other, each group upgraded once',
    { timeout: 240_000 },
    async () => {
      const groups = ['f-adhoc', 'f-etl', 'f-bi', 'f-team-a', 'f-team-b', 'f-team-c'];
      const fleet = await fleetOfGroups(testbed, groups);
      const handle = await start(
        testbed,
        fleetDocument(
          fleet.gatewayUrl,
          'six',
          [{ routingGroup: 'f-adhoc' }, { routingGroup: 'f-etl' }, { routingGroup: 'f-bi' }, { pattern: 'f-team-.*' }],
          [
            { name: 'canary-groups', groups: ['f-adhoc'] },
            { name: 'quarter', share: '25%', maxParallel: 2, soak: '1s' },
            { name: 'rest', rest: true, maxParallel: 3 },
          ],
        ),
      );
      const result: FleetResult = await handle.result();
      assert.equal(result.outcome, 'SUCCEEDED', JSON.stringify(result.status.timeline.slice(-5)));
      const { status } = result;
      assert.deepEqual(
        status.waves.map((wave) => [wave.name, wave.state, wave.groups.length]),
        [
          ['canary-groups', 'DONE', 1],
          ['quarter', 'DONE', 2],
          ['rest', 'DONE', 3],
        ],
      );
      for (const group of groups) {
        assert.deepEqual(backendsOf(fleet, group), [[`${group}-480`, true]], `${group} is served by its green alone`);
        assert.equal(fleet.cluster(`${group}-480`)?.version, '480');
      }
      assert.ok(status.members.every((member) => member.state === 'SUCCEEDED' && member.trafficPercent === 100));
      // Waves in order: no group of a wave started before every group of the wave before it was warm or done.
      for (let wave = 1; wave < status.waves.length; wave++) {
        const firstStart = Math.min(
          ...status.members.filter((m) => m.wave === wave).map((m) => Date.parse(m.startedAt!)),
        );
        const previous = status.waves[wave - 1];
        assert.ok(
          previous.endedAt && Date.parse(previous.endedAt) <= firstStart,
          `${status.waves[wave].name} started after ${previous.name} ended`,
        );
      }
      const { counts } = await childStarts(handle, testbed.env.client);
      assert.deepEqual(
        [...counts.entries()].sort(),
        groups.map((group) => [`cutover-${group}`, 1]).sort(),
        'each group upgraded by exactly one child workflow',
      );
      // The UI lists the fleet's upgrades by its search attribute.
      const listed: string[] = [];
      for await (const execution of testbed.env.client.workflow.list({
        query: `CutoverFleet = "six" AND WorkflowType != "fleetUpgrade"`,
      }))
        listed.push(execution.workflowId);
      assert.deepEqual(listed.sort(), groups.map((group) => `cutover-${group}`).sort());
    },
  );

  it(
    'a wrong green version in wave 2 halts the fleet: wave 3 is untouched until the operator rolls back',
    { timeout: 240_000 },
    async () => {
      const groups = ['h-one', 'h-two', 'h-bad', 'h-three'];
      const fleet = await fleetOfGroups(testbed, groups);
      // Someone deployed 479 where the fleet expects 480.
      const { cluster } = await fleet.createCluster({ name: 'h-bad-480', version: '479' });
      const handle = await start(
        testbed,
        fleetDocument(
          fleet.gatewayUrl,
          'halting',
          [
            { routingGroup: 'h-one' },
            { routingGroup: 'h-two' },
            { routingGroup: 'h-bad', overrides: { green: { url: cluster.url, provisioner: { type: 'static' } } } },
            { routingGroup: 'h-three' },
          ],
          [{ groups: ['h-one'] }, { groups: ['h-two', 'h-bad'], maxParallel: 2 }, { groups: ['h-three'] }],
        ),
      );
      const halted = await untilFleet(
        handle,
        'the halt',
        (status) => status.phase === 'HALTED' && status.members[1].state !== 'RUNNING',
      );
      assert.equal(halted.halted?.routingGroup, 'h-bad');
      assert.match(halted.halted.reason, /runs Trino 479, the plan expects 480/);
      const byGroup = Object.fromEntries(halted.members.map((member) => [member.routingGroup, member]));
      assert.equal(byGroup['h-bad'].state, 'ROLLED_BACK');
      assert.equal(byGroup['h-three'].state, 'PENDING', 'wave 3 has not started');
      // Still halted a while later: nothing of wave 3 starts by itself.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      const still = await statusOf(handle);
      assert.equal(still.phase, 'HALTED');
      assert.equal(still.members.find((m) => m.routingGroup === 'h-three')?.state, 'PENDING');
      await assert.rejects(
        testbed.env.client.workflow.getHandle('cutover-h-three').describe(),
        'no upgrade of wave 3 exists',
      );
      assert.deepEqual(backendsOf(fleet, 'h-three'), [['h-three-blue', true]]);
      assert.deepEqual(backendsOf(fleet, 'h-bad'), [['h-bad-blue', true]], 'the failed group is back on blue');

      await handle.executeUpdate('rollback', { args: [{ by: 'oncall', reason: 'bad image in the registry' }] });
      const result = await handle.result();
      assert.equal(result.outcome, 'ROLLED_BACK');
      const ended = Object.fromEntries(result.status.members.map((member) => [member.routingGroup, member.state]));
      assert.equal(ended['h-three'], 'SKIPPED');
      assert.equal(ended['h-bad'], 'ROLLED_BACK');
      await assert.rejects(testbed.env.client.workflow.getHandle('cutover-h-three').describe(), 'wave 3 never started');
      assert.deepEqual(backendsOf(fleet, 'h-three'), [['h-three-blue', true]]);
    },
  );

  it(
    'the same fleet started again after a halt leaves the groups already on the version alone and upgrades the rest',
    { timeout: 240_000 },
    async () => {
      const groups = ['r-one', 'r-bad', 'r-two'];
      const fleet = await fleetOfGroups(testbed, groups);
      const wrong = await fleet.createCluster({ name: 'r-bad-479', version: '479' });
      const document = (badUrl: string) =>
        fleetDocument(
          fleet.gatewayUrl,
          'again',
          [
            { routingGroup: 'r-one' },
            { routingGroup: 'r-bad', overrides: { green: { url: badUrl, provisioner: { type: 'static' } } } },
            { routingGroup: 'r-two' },
          ],
          [
            { name: 'first', groups: ['r-one'] },
            { name: 'second', groups: ['r-bad'] },
            { name: 'last', groups: ['r-two'], approval: true },
          ],
        );
      const first = await start(testbed, document(wrong.cluster.url));
      await untilFleet(first, 'the halt', (status) => status.phase === 'HALTED');
      // The operator ends the fleet: r-one, upgraded, stays so.
      await first.cancel();
      const cancelled = await first.result();
      assert.equal(cancelled.outcome, 'CANCELLED');
      assert.equal(cancelled.status.members.find((m) => m.routingGroup === 'r-one')?.state, 'SUCCEEDED');
      assert.deepEqual(backendsOf(fleet, 'r-one'), [['r-one-480', true]]);

      // Fixed: r-bad's green now runs 480. The same fleet, started again.
      const right = await fleet.createCluster({ name: 'r-bad-480-fixed', version: '480' });
      const second = await start(testbed, document(right.cluster.url));
      const gate = await untilFleet(second, 'the gate of the last wave', (status) => status.awaitingApproval);
      assert.equal(gate.waves[2].name, 'last');
      await second.executeUpdate('approve', { args: [{ by: 'oncall' }] });
      const result = await second.result();
      assert.equal(result.outcome, 'SUCCEEDED', JSON.stringify(result.status.timeline.slice(-5)));
      const byGroup = Object.fromEntries(result.status.members.map((member) => [member.routingGroup, member]));
      assert.equal(byGroup['r-one'].state, 'UP_TO_DATE');
      assert.equal(byGroup['r-one'].trafficPercent, 100);
      assert.equal(
        byGroup['r-one'].reason,
        'already on Trino 480: r-one-480 is its only active backend; nothing started',
      );
      assert.equal(byGroup['r-bad'].state, 'SUCCEEDED');
      assert.equal(byGroup['r-two'].state, 'SUCCEEDED');
      assert.equal(result.status.waves[0].state, 'DONE');
      assert.ok(
        result.status.timeline.some((entry) =>
          /^first done: every group already on Trino 480, nothing to approve or soak$/.test(entry.message),
        ),
      );
      const { counts } = await childStarts(second, testbed.env.client);
      assert.deepEqual(
        [...counts.entries()].sort(),
        [
          ['cutover-r-bad', 1],
          ['cutover-r-two', 1],
        ],
        'the second run started no upgrade of r-one',
      );
      for (const group of groups) assert.deepEqual(backendsOf(fleet, group), [[`${group}-480`, true]]);
    },
  );

  it(
    "rollback-wave: the failed wave's groups that keep blue warm are rolled back; earlier waves stay upgraded",
    { timeout: 240_000 },
    async () => {
      const groups = ['r-first', 'r-good1', 'r-good2', 'r-bad', 'r-last'];
      const fleet = await fleetOfGroups(testbed, groups);
      const { cluster } = await fleet.createCluster({ name: 'r-bad-480', version: '479' });
      const warm = { retire: { keepBlueFor: '10m', teardown: true } };
      const handle = await start(
        testbed,
        fleetDocument(
          fleet.gatewayUrl,
          'rbwave',
          [
            { routingGroup: 'r-first' },
            { routingGroup: 'r-good1', overrides: warm },
            { routingGroup: 'r-good2', overrides: warm },
            {
              routingGroup: 'r-bad',
              overrides: { ...warm, green: { url: cluster.url, provisioner: { type: 'static' } } },
            },
            { routingGroup: 'r-last' },
          ],
          [
            { groups: ['r-first'] },
            { groups: ['r-good1', 'r-good2', 'r-bad'], maxParallel: 1 },
            { groups: ['r-last'] },
          ],
          { onFailure: 'rollback-wave' },
        ),
      );
      const result = await handle.result();
      assert.equal(result.outcome, 'ROLLED_BACK', JSON.stringify(result.status.timeline.slice(-6)));
      const ended = Object.fromEntries(result.status.members.map((member) => [member.routingGroup, member.state]));
      assert.deepEqual(ended, {
        'r-first': 'SUCCEEDED',
        'r-good1': 'ROLLED_BACK',
        'r-good2': 'ROLLED_BACK',
        'r-bad': 'ROLLED_BACK',
        'r-last': 'SKIPPED',
      });
      assert.deepEqual(backendsOf(fleet, 'r-first'), [['r-first-480', true]], 'the earlier wave stays upgraded');
      for (const group of ['r-good1', 'r-good2']) {
        const backends = backendsOf(fleet, group);
        assert.deepEqual(
          backends.filter(([, active]) => active),
          [[`${group}-blue`, true]],
          `${group} is served by its blue again`,
        );
        const child = (await testbed.env.client.workflow.getHandle(`cutover-${group}`).result()) as UpgradeResult;
        assert.equal(child.outcome, 'ROLLED_BACK');
        assert.match(child.reason ?? '', /r-bad ROLLED_BACK: rolling back wave-2/);
        assert.ok(
          child.status.timeline.some((entry) =>
            /stays deactivated and warm|stay deactivated and warm/.test(entry.message),
          ),
          `${group} was keeping blue warm when the wave rolled back`,
        );
      }
      await assert.rejects(
        testbed.env.client.workflow.getHandle('cutover-r-last').describe(),
        'the last wave never started',
      );
    },
  );

  it(
    'a group already upgrading on its own is BLOCKED, and the fleet goes on with onFailure: continue',
    { timeout: 240_000 },
    async () => {
      const groups = ['b-busy', 'b-free'];
      const fleet = await fleetOfGroups(testbed, groups);
      const single = await startUpgrade(
        testbed.env.client,
        fastPlan(fleet.gatewayUrl, 'b-busy', { approval: { required: true, timeout: '10m' } }),
      );
      const handle = await start(
        testbed,
        fleetDocument(
          fleet.gatewayUrl,
          'blocked',
          [{ routingGroup: 'b-busy' }, { routingGroup: 'b-free' }],
          [{ rest: true, maxParallel: 2 }],
          {
            onFailure: 'continue',
          },
        ),
      );
      const result = await handle.result();
      assert.equal(result.outcome, 'COMPLETED_WITH_FAILURES');
      const busy = result.status.members.find((member) => member.routingGroup === 'b-busy')!;
      assert.equal(busy.state, 'BLOCKED');
      assert.match(busy.reason ?? '', /another upgrade of b-busy is running/);
      assert.equal(result.status.members.find((member) => member.routingGroup === 'b-free')?.state, 'SUCCEEDED');
      assert.equal((await single.describe()).status.name, 'RUNNING', 'the single upgrade was left alone');
      await single.executeUpdate('rollback', { args: [{ by: 'test', reason: 'done' }] });
      await single.result();
    },
  );

  it(
    'fleet verbs: an approval gate before a wave, pause and resume, approve forwarded to a group that waits',
    { timeout: 240_000 },
    async () => {
      const groups = ['v-one', 'v-two'];
      const fleet = await fleetOfGroups(testbed, groups);
      const document = fleetDocument(
        fleet.gatewayUrl,
        'verbs',
        [
          { routingGroup: 'v-one' },
          { routingGroup: 'v-two', overrides: { approval: { required: true, timeout: '10m' } } },
        ],
        [{ groups: ['v-one'] }, { groups: ['v-two'], approval: true }],
      );
      const handle = await start(testbed, document);
      const gate = await untilFleet(handle, 'the approval gate', (status) => status.awaitingApproval);
      assert.equal(gate.gate, '1:approval');
      assert.equal(gate.members[1].state, 'PENDING');
      await assert.rejects(
        handle.executeUpdate('resume', { args: [{ by: 'op' }] }),
        (error: Error & { cause?: Error }) => {
          assert.match(error.cause?.message ?? '', /neither paused nor halted/);
          return true;
        },
      );
      const paused = await handle.executeUpdate('pause', { args: [{ by: 'op' }] });
      assert.match(String((paused as { message: string }).message), /fleet paused/);
      await handle.executeUpdate('approve', { args: [{ by: 'op' }] });
      // Approved but paused: v-two does not start.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      assert.equal((await statusOf(handle)).members[1].state, 'PENDING');
      await handle.executeUpdate('resume', { args: [{ by: 'op' }] });
      await untilFleet(handle, "v-two's own approval", (status) => status.members[1].phase === 'AWAITING_APPROVAL');
      const ack = await handle.executeUpdate<{ message: string }, [{ by: string }]>('approve', {
        args: [{ by: 'op' }],
      });
      assert.match(ack.message, /cutover-v-two: approved by op/);
      const result = await handle.result();
      assert.equal(result.outcome, 'SUCCEEDED', JSON.stringify(result.status.timeline.slice(-5)));
      assert.equal(result.status.waves[1].approvedBy, 'op');
      for (const group of groups) assert.deepEqual(backendsOf(fleet, group), [[`${group}-480`, true]]);
    },
  );

  it(
    'refuses a fleet whose group the gateway does not have: every problem named, nothing started',
    { timeout: 120_000 },
    async () => {
      const fleet = await fleetOfGroups(testbed, ['x-real']);
      const handle = await start(
        testbed,
        fleetDocument(
          fleet.gatewayUrl,
          'refused',
          [{ routingGroup: 'x-real' }, { routingGroup: 'x-ghost' }],
          [{ rest: true }],
        ),
      );
      await assert.rejects(handle.result(), (error: Error & { cause?: Error }) => {
        assert.match(
          error.cause?.message ?? error.message,
          /groups\[1\]\.routingGroup: x-ghost is not a routing group of the gateway/,
        );
        return true;
      });
      await assert.rejects(testbed.env.client.workflow.getHandle('cutover-x-real').describe(), 'nothing started');
      assert.deepEqual(backendsOf(fleet, 'x-real'), [['x-real-blue', true]]);
    },
  );

  it(
    'continues as new when its history grows: the next runs go on with the groups not started, none started twice',
    { timeout: 240_000 },
    async () => {
      const groups = ['c-1', 'c-2', 'c-3', 'c-4', 'c-5', 'c-6'];
      const fleet = await fleetOfGroups(testbed, groups);
      const handle = await start(
        testbed,
        fleetDocument(
          fleet.gatewayUrl,
          'chain',
          [{ pattern: 'c-.*' }],
          [
            { groups: ['c-1', 'c-2'], maxParallel: 2 },
            { rest: true, maxParallel: 1 },
          ],
        ),
        { historyLimit: 100 },
      );
      const result = await handle.result();
      assert.equal(result.outcome, 'SUCCEEDED', JSON.stringify(result.status.timeline.slice(-5)));
      const { counts, runs, longestRun } = await childStarts(handle, testbed.env.client);
      assert.ok(runs >= 2, `the fleet continued as new (${runs} runs)`);
      assert.equal(result.status.runs, runs, 'the status counts its runs');
      assert.ok(longestRun < 320, `each run's history stays bounded (longest ${longestRun} events)`);
      assert.deepEqual(
        [...counts.entries()].sort(),
        groups.map((group) => [`cutover-${group}`, 1]).sort(),
        'each group upgraded by exactly one child workflow across the runs',
      );
      for (const group of groups) assert.deepEqual(backendsOf(fleet, group), [[`${group}-480`, true]]);
      assert.ok(result.status.members.every((member) => member.state === 'SUCCEEDED'));
    },
  );

  it(
    'fleet cancel: the running upgrades roll back, no new group starts, the fleet ends CANCELLED',
    { timeout: 240_000 },
    async () => {
      const groups = ['k-one', 'k-two', 'k-three'];
      const fleet = await fleetOfGroups(testbed, groups);
      const handle = await start(
        testbed,
        fleetDocument(
          fleet.gatewayUrl,
          'cancelled',
          [{ routingGroup: 'k-one' }, { routingGroup: 'k-two' }, { routingGroup: 'k-three' }],
          [{ groups: ['k-one', 'k-two'], maxParallel: 2 }, { groups: ['k-three'] }],
          { base: base({ bake: '10m' }) },
        ),
      );
      await untilFleet(
        handle,
        'both groups baking',
        (status) =>
          status.members.length === 3 && status.members.slice(0, 2).every((member) => member.phase === 'BAKING'),
      );
      await handle.cancel();
      const result = await handle.result();
      assert.equal(result.outcome, 'CANCELLED');
      const ended = Object.fromEntries(result.status.members.map((member) => [member.routingGroup, member.state]));
      assert.deepEqual(ended, { 'k-one': 'ROLLED_BACK', 'k-two': 'ROLLED_BACK', 'k-three': 'SKIPPED' });
      for (const group of ['k-one', 'k-two'])
        assert.deepEqual(
          backendsOf(fleet, group).filter(([, active]) => active),
          [[`${group}-blue`, true]],
          `${group} is back on blue`,
        );
      await assert.rejects(
        testbed.env.client.workflow.getHandle('cutover-k-three').describe(),
        'k-three never started',
      );
    },
  );

  it(
    'the CLI drives a live fleet: start from a file, status by wave, approve the gate, watch to SUCCEEDED, list its upgrades',
    { timeout: 240_000 },
    async () => {
      const groups = ['l-one', 'l-two'];
      const fleet = await fleetOfGroups(testbed, groups);
      const dir = await mkdtemp(join(tmpdir(), 'cutover-fleet-'));
      const path = join(dir, 'fleet.json');
      await writeFile(
        path,
        JSON.stringify(
          fleetDocument(
            fleet.gatewayUrl,
            'live',
            [{ pattern: 'l-.*' }],
            [{ groups: ['l-one'] }, { rest: true, approval: true }],
          ),
        ),
      );
      const cli = (...args: string[]) =>
        runCli(testbed.env.address, ['fleet', ...args], { CUTOVER_POLICY_FILE: undefined, TEMPORAL_UI_URL: undefined });
      const started = await cli('start', path, '--json');
      assert.equal(started.code, 0, started.stderr);
      assert.equal((JSON.parse(started.stdout) as { id: string }).id, 'cutover-fleet-live');
      const handle = testbed.env.client.workflow.getHandle<FleetWorkflow>('cutover-fleet-live');
      await untilFleet(handle, 'the gate of the second wave', (status) => status.awaitingApproval);
      const status = await cli('status', 'live');
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /AWAITING_APPROVAL/);
      assert.match(status.stdout, /l-one\s+(WARM|SUCCEEDED)/);
      assert.match(status.stdout, /l-two\s+PENDING/);
      const approved = await cli('approve', 'live', '--by', 'oncall');
      assert.equal(approved.code, 0, approved.stderr);
      assert.match(approved.stdout, /wave-2 approved by oncall/);
      const watched = await cli('watch', 'live');
      assert.equal(watched.code, 0, `${watched.stdout}\n${watched.stderr}`);
      assert.match(watched.stdout, /SUCCEEDED/);
      const listed = await cli('list', 'live', '--json');
      assert.equal(listed.code, 0, listed.stderr);
      const rows = JSON.parse(listed.stdout) as { workflowId?: string; id?: string }[];
      assert.deepEqual(rows.map((row) => row.workflowId ?? row.id).sort(), ['cutover-l-one', 'cutover-l-two']);
      for (const group of groups) assert.deepEqual(backendsOf(fleet, group), [[`${group}-480`, true]]);
    },
  );
});
