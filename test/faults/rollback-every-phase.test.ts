import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { startUpgrade } from '../../src/client/upgrades';
import { TrinoHttpClient } from '../../src/integrations/trino/client';
import { sleep, until, untilHealthy } from '../../src/devserver/wait';
import { canaryReadyRules } from '../../src/sandbox/canary-rules';
import type { UpgradePlan } from '../../src/plan/schema';
import type { SandboxFleet } from '../../src/sandbox/fleet';
import { startQueryLoad, type LoadReport } from '../../src/sandbox/load';
import {
  approveUpdate,
  promoteUpdate,
  rollbackSignal,
  rollbackUpdate,
  statusQuery,
  type UpgradeStatus,
} from '../../src/workflows/messages';
import { gatewayBackends, inPhase, lastNote, startLongQueries, versionThroughGateway } from '../support/faults';
import { assertJournal, countOf, journalMark, nothingTwice } from '../support/journal';
import { fastPlan, withSlowCommandProvisioner } from '../support/plans';
import { assertReplays } from '../support/temporal';
import { useTestbed } from '../support/testbed';

type Strategy = 'blue-green' | 'canary';

/** One row of the table: where the operator asks for a rollback, and what the setup needs to get there. */
interface RollbackPoint {
  name: string;
  strategy: Strategy;
  at: (status: UpgradeStatus) => boolean;
  /** Green is created by a provisioner that takes seconds (a window inside provisioning, or inside blue's teardown). */
  slowProvisioner?: boolean;
  /** The gateway's health round: slow, so registration waits for green's first check. */
  healthIntervalMs?: number;
  /** Queries running on blue from before the upgrade, so the drain has to wait. */
  longQueriesSeconds?: number;
  /**
   * Start those queries only once the upgrade reaches this point, at blue's own address, and let it
   * go on once they run there: a long canary reaches its drain at a time that depends on the load.
   */
  longQueriesFrom?: (status: UpgradeStatus) => boolean;
  /** Green turns unhealthy at the approval gate, so the flip waits for it (cleared once the rollback is asked). */
  unhealthyAtFlip?: boolean;
  /** Blue is being retired: the rollback is refused and the upgrade succeeds. */
  refused?: boolean;
  /** Blue/green bake (default 1s, so later points are reached); canary bakes are promoted instead. */
  bake?: string;
}

const POINTS: RollbackPoint[] = [
  {
    name: 'while provisioning green',
    strategy: 'blue-green',
    at: inPhase('PROVISIONING', lastNote(/^provisioning /)),
    slowProvisioner: true,
  },
  { name: 'while verifying green', strategy: 'blue-green', at: inPhase('VERIFYING', lastNote(/waiting until/)) },
  {
    name: 'while registering green in the gateway',
    strategy: 'blue-green',
    at: (s) => s.step.description.startsWith('register'),
    healthIntervalMs: 3000,
  },
  { name: 'while awaiting approval', strategy: 'blue-green', at: (s) => s.awaitingApproval },
  {
    name: 'while shifting (green not yet HEALTHY at the flip)',
    strategy: 'blue-green',
    at: inPhase('SHIFTING'),
    unhealthyAtFlip: true,
  },
  { name: 'while baking', strategy: 'blue-green', at: inPhase('BAKING'), bake: '1m' },
  {
    name: 'while draining blue',
    strategy: 'blue-green',
    at: inPhase('DRAINING', lastNote(/waiting for the queries/)),
    longQueriesSeconds: 15,
  },
  { name: 'while blue is kept warm', strategy: 'blue-green', at: lastNote(/warm for/) },
  {
    name: 'while retiring blue',
    strategy: 'blue-green',
    at: inPhase('RETIRING'),
    slowProvisioner: true,
    refused: true,
  },
  {
    name: 'while shifting to 10%',
    strategy: 'canary',
    at: inPhase('SHIFTING', (s) => s.trafficPercent === 0 && s.step.description.startsWith('shift 10%')),
  },
  { name: 'while baking at 10%', strategy: 'canary', at: inPhase('BAKING', (s) => s.trafficPercent === 10) },
  { name: 'at the manual gate', strategy: 'canary', at: (s) => s.awaitingApproval && s.trafficPercent === 10 },
  {
    name: 'while shifting to 100% (canary clean-up after the flip)',
    strategy: 'canary',
    at: inPhase('SHIFTING', (s) => s.trafficPercent === 100),
  },
  { name: 'while baking at 100%', strategy: 'canary', at: inPhase('BAKING', (s) => s.trafficPercent === 100) },
  {
    name: 'while draining blue',
    strategy: 'canary',
    at: inPhase('DRAINING', lastNote(/waiting for the queries/)),
    // Started at the last bake: a fixed length from the start raced the canary to its drain in CI. 30 s, as
    // the promote, the rule clean-up and the drain's first check took more than 15 s on a loaded CI machine.
    longQueriesSeconds: 30,
    longQueriesFrom: inPhase('BAKING', (s) => s.trafficPercent === 100),
  },
  { name: 'while blue is kept warm', strategy: 'canary', at: lastNote(/warm for/) },
  { name: 'while retiring blue', strategy: 'canary', at: inPhase('RETIRING'), slowProvisioner: true, refused: true },
];

/** Fault matrix row 5: an operator asks for a rollback at every phase of both strategies. */
describe('fault matrix: rollback requested at every phase ends with blue serving and nothing failed', () => {
  const testbed = useTestbed();

  function planFor(point: RollbackPoint, fleet: SandboxFleet, group: string): UpgradePlan {
    const plan = fastPlan(fleet.gatewayUrl, group, {
      strategy: point.strategy,
      green: { provisioner: { startupDelay: '3s' } },
      bake: point.bake ?? '1s',
      retire: { keepBlueFor: point.refused ? '0s' : '1m' },
      ...(point.strategy === 'canary'
        ? {
            approval: { required: false },
            canary: {
              rulesRefresh: '2s',
              steps: [{ weight: 10, bake: '1m' }, { approval: true }, { weight: 100, bake: '1m' }],
              analysis: { interval: '500ms' },
            },
          }
        : {}),
    });
    return point.slowProvisioner ? withSlowCommandProvisioner(plan, 3) : plan;
  }

  POINTS.forEach((point, index) => {
    it(
      `${point.strategy}: ${point.refused ? 'a rollback is refused' : 'rollback'} ${point.name}`,
      { timeout: 180_000 },
      async () => {
        const group = `rb${index}`;
        const blue = `${group}-blue`;
        const green = `${group}-green`;
        const fleet = await testbed.fleet({
          healthIntervalMs: point.healthIntervalMs ?? 100,
          rulesRefreshMs: 300,
          rules: canaryReadyRules(`${group}-canary`),
          clusters: [{ name: blue, version: '470', routingGroup: group }],
        });
        await untilHealthy(fleet, blue);
        const since = await journalMark();
        const load = startQueryLoad({
          gatewayUrl: fleet.gatewayUrl,
          users: 20,
          concurrency: 3,
          durationMs: [50, 800],
          routingGroup: group,
        });
        let longOnBlue: Promise<string[]> =
          point.longQueriesSeconds && !point.longQueriesFrom
            ? startLongQueries(fleet.gatewayUrl, group, point.longQueriesSeconds)
            : Promise.resolve([]);
        const startLongOnBlue = async (): Promise<void> => {
          const url = fleet.cluster(blue)!.url;
          longOnBlue = startLongQueries(url, undefined, point.longQueriesSeconds);
          await until(`long queries running on ${blue}`, async () => (await runningOn(url)) >= 2);
        };
        let report: LoadReport | undefined;
        try {
          const handle = await startUpgrade(testbed.env.client, planFor(point, fleet, group), {
            startedBy: 'fault-matrix',
          });
          const reached = await driveUntil(handle, point, fleet, green, startLongOnBlue);
          const via = index % 2 === 0 ? 'signal' : 'update';
          const request = { by: 'oncall', reason: `rollback ${point.name}` };

          if (point.refused) {
            await assert.rejects(
              handle.executeUpdate(rollbackUpdate, { args: [request] }),
              (error: unknown) =>
                error instanceof WorkflowUpdateFailedError && /blue is being retired/.test(error.cause?.message ?? ''),
              'the rollback update is refused while blue is retired',
            );
            await handle.signal(rollbackSignal, request);
            const result = await handle.result();
            report = await load.stop();
            assert.equal(result.outcome, 'SUCCEEDED', `reached ${reached.phase}; ${result.reason ?? ''}`);
            assert.ok(
              result.status.timeline.some((e) => /rollback from oncall ignored: blue is being retired/.test(e.message)),
              'the rollback signal is recorded and ignored',
            );
            assert.deepEqual(await gatewayBackends(fleet), [[green, true]], 'green alone serves the group');
            assert.equal(await versionThroughGateway(fleet.gatewayUrl, group), '480', 'a new query lands on green');
            assert.equal(report.failed, 0, 'no query failed');
            assertJournal(fleet.journal(since), { alwaysServed: group, counts: nothingTwice(group) });
            return;
          }

          if (via === 'signal') await handle.signal(rollbackSignal, request);
          else
            assert.match(
              (await handle.executeUpdate(rollbackUpdate, { args: [request] })).message,
              new RegExp(`rolling back ${group} to ${blue}`),
            );
          if (point.unhealthyAtFlip) await fleet.applyFaults(green, { unhealthy: false });
          const result = await handle.result();
          report = await load.stop();

          assert.equal(
            result.outcome,
            'ROLLED_BACK',
            `reached ${reached.phase} (${reached.step.description}): ${result.status.timeline.map((e) => e.message).join('\n')}`,
          );
          assert.equal(result.status.phase, 'ROLLED_BACK');
          assert.equal(result.reason, request.reason);
          assert.deepEqual(
            await gatewayBackends(fleet),
            [[blue, true]],
            'blue alone, active; green and its canary entry are gone',
          );
          await untilHealthy(fleet, blue);
          assert.equal(await versionThroughGateway(fleet.gatewayUrl, group), '470', 'a new query lands on blue');
          assert.equal(fleet.cluster(green), undefined, 'green, created by this run, is torn down');
          assert.ok(fleet.cluster(blue), 'blue still runs');

          assert.equal(
            report.failed,
            0,
            `no client query failed: ${JSON.stringify(report.queries.filter((q) => q.state === 'FAILED').slice(0, 2))}`,
          );
          assert.ok(
            (await longOnBlue).every((state) => state === 'FINISHED'),
            'long queries on blue finished there',
          );
          const journal = fleet.journal(since);
          assertJournal(journal, {
            alwaysServed: group,
            counts: [
              [
                'cluster.deleted',
                green,
                countOf(journal, 'cluster.created', green),
                'green torn down exactly when this run created it',
              ],
              ['cluster.deleted', blue, 0, 'blue never torn down'],
              ...nothingTwice(group),
            ],
          });
          const greenDeleted = journal.find((e) => e.kind === 'cluster.deleted' && e.name === green)?.at ?? Infinity;
          assert.ok(
            report.queries
              .filter((q) => q.backend.startsWith(green))
              .every((q) => q.state === 'FINISHED' && q.endedAt <= greenDeleted),
            'green was drained: its queries finished before it was torn down',
          );
          await assertReplays(handle);
        } finally {
          if (!report) await load.stop().catch(() => undefined);
          await longOnBlue.catch(() => undefined);
        }
      },
    );
  });
});

/**
 * Moves the upgrade to the point like an operator would (approving gates, promoting bakes it has to
 * pass) and returns the status seen there.
 */
async function driveUntil(
  handle: WorkflowHandle,
  point: RollbackPoint,
  fleet: SandboxFleet,
  green: string,
  startLongOnBlue: () => Promise<void>,
): Promise<UpgradeStatus> {
  const deadline = Date.now() + 90_000;
  let last: UpgradeStatus | undefined;
  let longStarted = false;
  while (Date.now() < deadline) {
    last = await handle.query(statusQuery).catch(() => undefined);
    if (last && point.at(last)) return last;
    if (last && !longStarted && point.longQueriesFrom?.(last)) {
      await startLongOnBlue();
      longStarted = true;
    }
    if (last?.awaitingApproval) {
      if (point.unhealthyAtFlip) {
        await fleet.applyFaults(green, { unhealthy: true });
        await until(
          `${green} UNHEALTHY in the gateway`,
          () => fleet.gateway.backendState(green)?.trinoStatus === 'UNHEALTHY',
        );
      }
      await handle.executeUpdate(approveUpdate, { args: [{ by: 'oncall' }] }).catch(() => undefined);
    } else if (last?.phase === 'BAKING') {
      await handle.executeUpdate(promoteUpdate, { args: [{ by: 'oncall' }] }).catch(() => undefined);
    }
    await sleep(100);
  }
  throw new Error(
    `the upgrade never reached "${point.name}"; last status: ${JSON.stringify(last && { phase: last.phase, step: last.step, timeline: last.timeline.slice(-3) })}`,
  );
}

/** Queries a coordinator counts as running or queued, from its `/ui/api/stats`. */
async function runningOn(coordinatorUrl: string): Promise<number> {
  const client = new TrinoHttpClient({ url: coordinatorUrl, user: 'fault-tests' });
  try {
    const stats = await client.clusterStats();
    return stats.runningQueries + stats.queuedQueries;
  } finally {
    await client.close();
  }
}
