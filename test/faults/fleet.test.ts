import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { startFleet } from '../../src/client/fleets';
import { sleep } from '../../src/devserver/wait';
import { fleetPlanSchema } from '../../src/fleet/schema';
import type { SandboxFleet } from '../../src/sandbox/fleet';
import { startQueryLoad, type LoadReport } from '../../src/sandbox/load';
import {
  fleetStatusQuery,
  fleetWorkflowId,
  upgradeWorkflowId,
  type FleetResult,
  type FleetStatus,
  type FleetWorkflow,
} from '../../src/workflows/fleet/messages';
import { backendsOf, childStarts, fleetBase, fleetDocument, startGroupsFleet, untilFleet } from '../support/fleets';
import { assertJournal, journalMark, upgradedOnce } from '../support/journal';
import { useProcessTestbed, type ProcessTestbed } from '../support/process-testbed';
import { assertReplays } from '../support/temporal';

/** How long the Temporal server stays down: the worker's polls and the activities' heartbeats fail meanwhile. */
const DOWN_MS = 3_000;

/** The fault lands here: the second wave runs two upgrades, both baking, and has groups still to start. */
function midSecondWave(status: FleetStatus): boolean {
  const wave = status.members.filter((member) => member.wave === 1);
  return (
    status.wave === 1 &&
    wave.filter((member) => member.state === 'RUNNING' && member.phase === 'BAKING').length >= 2 &&
    wave.some((member) => member.state === 'PENDING')
  );
}

describe('fleet durability: a worker killed and the Temporal server restarted mid-wave', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-fleet-faults-'));
  const testbed = useProcessTestbed({ dbFilename: join(dir, 'temporal.db') });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /**
   * Six groups served by their blue and the fleet upgrading them started: two waves (two groups,
   * then four two at a time), bakes of 6 s, so that a fault can land while the second wave runs two
   * upgrades and has two more to start; and clients of the two groups upgrading then.
   */
  async function startSixGroups(prefix: string) {
    const groups = ['adhoc', 'etl', 'bi', 'team-a', 'team-b', 'team-c'].map((group) => `${prefix}-${group}`);
    const fleet = await startGroupsFleet(groups);
    testbed.onStop(() => fleet.stop());
    const since = await journalMark();
    const document = fleetDocument(
      fleet.gatewayUrl,
      prefix,
      groups.map((routingGroup) => ({ routingGroup })),
      [
        { name: 'first', groups: groups.slice(0, 2), maxParallel: 2 },
        { name: 'second', rest: true, maxParallel: 2 },
      ],
      // A short result grace: the load's queries fetch their results before they end.
      { base: fleetBase({ bake: '6s', drain: { timeout: '1m', interval: '200ms', resultGrace: '1s' } }) },
    );
    const loaded = groups.slice(2, 4);
    const loads = loaded.map((routingGroup) =>
      startQueryLoad({ gatewayUrl: fleet.gatewayUrl, users: 10, concurrency: 2, durationMs: [50, 800], routingGroup }),
    );
    let reports: Promise<LoadReport[]> | undefined;
    /**
     * Stops the clients (once) and says what they saw: at the fleet's end, before the checks, whose
     * bundling of the workflow code stalls this process (and the sandbox's health checks in it).
     */
    const stopLoads = () => (reports ??= Promise.all(loads.map((load) => load.stop())));
    await startFleet(testbed.env.client, document, fleetPlanSchema.parse(document), { startedBy: 'fault tests' });
    // A function: the client of the server before a restart is closed with it.
    const handle = () => testbed.env.client.workflow.getHandle<FleetWorkflow>(fleetWorkflowId(prefix));
    return { groups, fleet, since, handle, loaded, stopLoads };
  }

  it(
    'kill -9 of the worker while a wave runs two upgrades: a new worker resumes the fleet, SUCCEEDED, no group started twice',
    { timeout: 180_000 },
    async () => {
      const { groups, fleet, since, handle, loaded, stopLoads } = await startSixGroups('kill');
      try {
        const atKill = await untilFleet(handle(), 'two upgrades of the second wave baking', midSecondWave);
        const killed = testbed.worker;
        await testbed.replaceWorker('SIGKILL', 1_000);
        assert.equal(killed.child.signalCode, 'SIGKILL', 'the worker was killed');
        process.stderr.write(`killed at: ${membersOf(atKill)}\n`);

        const result = await resultWithin(handle(), 120_000, testbed);
        const reports = await stopLoads();
        await assertFleetUpgradedOnce(testbed.env.client, handle(), result, fleet, groups, since);
        assertNoQueryFailed(reports, loaded);
        const identities = await workflowTaskIdentities(handle());
        assert.ok(
          identities.size >= 2,
          `the fleet's workflow ran on the killed worker and on its successor: ${[...identities].join(', ')}`,
        );
      } finally {
        await stopLoads().catch(() => undefined);
      }
    },
  );

  it(
    'Temporal restarted on its database while a wave runs two upgrades: the fleet goes on, SUCCEEDED, no group started twice',
    { timeout: 180_000 },
    async () => {
      const { groups, fleet, since, handle, loaded, stopLoads } = await startSixGroups('restart');
      try {
        const atStop = await untilFleet(handle(), 'two upgrades of the second wave baking', midSecondWave);
        await testbed.restartServer(DOWN_MS);
        process.stderr.write(`server stopped at: ${membersOf(atStop)}\n`);

        const result = await resultWithin(handle(), 120_000, testbed);
        assert.equal(testbed.worker.child.exitCode, null, 'the worker kept running while the server was down');
        const reports = await stopLoads();
        await assertFleetUpgradedOnce(testbed.env.client, handle(), result, fleet, groups, since);
        assertNoQueryFailed(reports, loaded);
      } finally {
        await stopLoads().catch(() => undefined);
      }
    },
  );
});

/**
 * What the issue asks of a fleet after a fault: it SUCCEEDED, every group is served by its green
 * alone and was never without an active HEALTHY backend, and no group was started twice: one
 * StartChildWorkflowExecutionInitiated per group over the fleet's runs, one run of each group's
 * upgrade, each green provisioned, registered and activated once; every history replays.
 */
async function assertFleetUpgradedOnce(
  client: Client,
  handle: WorkflowHandle<FleetWorkflow>,
  result: FleetResult,
  fleet: SandboxFleet,
  groups: string[],
  since: number,
): Promise<void> {
  assert.equal(
    result.outcome,
    'SUCCEEDED',
    result.status.timeline
      .slice(-8)
      .map((entry) => entry.message)
      .join('\n'),
  );
  assert.deepEqual(
    result.status.members.map((member) => [member.routingGroup, member.state]),
    groups.map((group) => [group, 'SUCCEEDED']),
  );
  const { counts } = await childStarts(handle, client);
  assert.deepEqual(
    [...counts.entries()].sort(),
    groups.map((group) => [upgradeWorkflowId(group), 1]).sort(),
    'the fleet started each group once',
  );
  for (const group of groups) {
    const workflowId = upgradeWorkflowId(group);
    const runs: string[] = [];
    for await (const execution of client.workflow.list({ query: `WorkflowId = "${workflowId}"` }))
      if (execution.status.name !== 'CONTINUED_AS_NEW') runs.push(`${execution.runId} ${execution.status.name}`);
    assert.equal(runs.length, 1, `one run of ${workflowId}: ${runs.join(', ')}`);
    assert.deepEqual(backendsOf(fleet, group), [[`${group}-480`, true]], `${group} is served by its green alone`);
    assertJournal(fleet.journal(since), { alwaysServed: group, counts: upgradedOnce(group, `${group}-480`) });
    await assertReplays(client.workflow.getHandle(workflowId));
  }
  await assertReplays(handle);
}

/** The clients of `groups` saw no failed query, and their queries reached green once it served. */
function assertNoQueryFailed(reports: LoadReport[], groups: string[]): void {
  reports.forEach((report, index) => {
    const failed = report.queries.filter((query) => query.state === 'FAILED');
    assert.equal(report.failed, 0, `no query of ${groups[index]} failed: ${JSON.stringify(failed.slice(0, 2))}`);
    assert.ok(
      (report.byBackend[`${groups[index]}-480`]?.finished ?? 0) > 0,
      `green of ${groups[index]} served queries`,
    );
  });
}

/** Each member's group, state and phase, for the test's log. */
function membersOf(status: FleetStatus): string {
  return JSON.stringify(status.members.map((member) => [member.routingGroup, member.state, member.phase]));
}

/** The identities of the workers that completed the fleet's workflow tasks. */
async function workflowTaskIdentities(handle: WorkflowHandle): Promise<Set<string>> {
  const { events } = await handle.fetchHistory();
  return new Set(
    (events ?? []).map((event) => event.workflowTaskCompletedEventAttributes?.identity ?? '').filter(Boolean),
  );
}

/** The fleet's result; past `ms`, a failure that says where it stands and what the worker said last. */
async function resultWithin(
  handle: WorkflowHandle<FleetWorkflow>,
  ms: number,
  testbed: ProcessTestbed,
): Promise<FleetResult> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      void Promise.race([handle.query(fleetStatusQuery), sleep(5_000).then(() => undefined)])
        .catch(() => undefined)
        .then((status) =>
          reject(
            new Error(
              `no result within ${ms} ms\nmembers: ${JSON.stringify(status?.members.map((m) => [m.routingGroup, m.state, m.phase]))}\nworker: ${testbed.worker.output().slice(-3000)}`,
            ),
          ),
        );
    }, ms);
  });
  try {
    return await Promise.race([handle.result(), late]);
  } finally {
    clearTimeout(timer);
  }
}
