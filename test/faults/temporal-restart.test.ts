import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { defaultWorkflowId, startUpgrade } from '../../src/client/upgrades';
import { waitForStatus } from '../../src/devserver/wait';
import type { WorkerProcess } from '../../src/devserver/worker-process';
import { startQueryLoad } from '../../src/sandbox/load';
import { statusQuery, type UpgradeResult, type UpgradeStatus } from '../../src/workflows/messages';
import {
  approveWhenAsked,
  assertGreenAlone,
  inPhase,
  lastNote,
  startBlueFleet,
  startLongQueries,
} from '../support/faults';
import { assertJournal, journalMark, upgradedOnce } from '../support/journal';
import { fastPlan } from '../support/plans';
import { useProcessTestbed } from '../support/process-testbed';
import { assertReplays } from '../support/temporal';

/** Long enough for the worker's polls, the activities' heartbeats and the test's queries to fail. */
const DOWN_MS = 5_000;

interface StopPoint {
  name: string;
  at: (status: UpgradeStatus) => boolean;
  /** The server stops at the approval gate: approve only once it is back. */
  gate?: boolean;
  /** Queries long enough to still run on blue when the drain starts. */
  longQueries?: boolean;
}

const POINTS: StopPoint[] = [
  { name: 'during the approval wait', at: (s) => s.awaitingApproval, gate: true },
  { name: 'during the bake', at: inPhase('BAKING') },
  { name: 'during the drain', at: inPhase('DRAINING', lastNote(/waiting for the queries/)), longQueries: true },
];

describe('Temporal server stopped and restarted on its persisted database: the upgrade goes on where it was', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-temporal-restart-'));
  const dbFilename = join(dir, 'temporal.db');
  const testbed = useProcessTestbed({ dbFilename });
  after(() => rmSync(dir, { recursive: true, force: true }));

  POINTS.forEach((point, index) => {
    it(
      `server stopped ${point.name} for ${DOWN_MS / 1000} s: the upgrade ends SUCCEEDED once it is back, nothing done twice`,
      { timeout: 300_000 },
      async () => {
        const group = `tr${index}`;
        const fleet = await startBlueFleet(group);
        testbed.onStop(() => fleet.stop());
        const since = await journalMark();
        const load = startQueryLoad({
          gatewayUrl: fleet.gatewayUrl,
          users: 20,
          concurrency: 3,
          durationMs: [300, 3000],
          routingGroup: group,
        });
        const plan = fastPlan(fleet.gatewayUrl, group, { bake: '6s', drain: { timeout: '2m' } });
        const longOnBlue = point.longQueries ? startLongQueries(fleet.gatewayUrl, group) : Promise.resolve([]);
        // The handle of the client of the current server: the one from before the restart is closed with it.
        const handle = () => testbed.env.client.workflow.getHandle(defaultWorkflowId(plan));
        await startUpgrade(testbed.env.client, plan);
        // No call of the test may go to the server while it is down: a call on the closed client can
        // surface as an uncaught "Channel has been shut down". So the approver runs before the stop
        // (the gate is passed by then) or, for the stop at the gate, only after the restart.
        let stopApproving = new AbortController();
        let approver = point.gate
          ? Promise.resolve()
          : approveWhenAsked(handle, Promise.resolve(), stopApproving.signal);
        let loadStopped = false;
        try {
          await waitForStatus(handle(), point.at, point.name, 90_000);
          stopApproving.abort();
          await approver;
          await testbed.restartServer(DOWN_MS);
          stopApproving = new AbortController();
          approver = approveWhenAsked(handle, Promise.resolve(), stopApproving.signal);
          // The worker process outlives the server: Core keeps retrying its polls and reconnects by itself.
          assert.equal(
            testbed.worker.child.exitCode,
            null,
            `the worker kept running while the server was down:\n${testbed.worker.output().slice(-2000)}`,
          );
          const result = await resultWithin(handle(), 90_000, testbed.worker);
          loadStopped = true;
          const report = await load.stop();
          assert.ok(
            (await longOnBlue).every((state) => state === 'FINISHED'),
            'long queries on blue finished there',
          );

          assert.equal(
            result.outcome,
            'SUCCEEDED',
            `${result.reason ?? ''}\n${result.status.timeline.map((e) => e.message).join('\n')}`,
          );
          assert.equal(
            report.failed,
            0,
            `no client query failed: ${JSON.stringify(report.queries.filter((q) => q.state === 'FAILED').slice(0, 2))}`,
          );
          assertGreenAlone(fleet, group);
          assertJournal(fleet.journal(since), { alwaysServed: group, counts: upgradedOnce(group) });
          await assertReplays(handle());
        } finally {
          stopApproving.abort();
          await approver;
          if (!loadStopped) await load.stop().catch(() => undefined);
        }
      },
    );
  });
});

/** The upgrade's result; past `ms`, a failure that shows where it stands (status, pending activities, the worker's last words). */
async function resultWithin(handle: WorkflowHandle, ms: number, worker: WorkerProcess): Promise<UpgradeResult> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    const lateFailure = async () => {
      const status = await within(5_000, handle.query(statusQuery)).catch((error: Error) => error.message);
      const pending = await within(5_000, handle.describe()).then(
        ({ raw }) => raw.pendingActivities,
        (error: Error) => error.message,
      );
      reject(
        new Error(
          `no result within ${ms} ms\nstatus: ${JSON.stringify(status)}\npending: ${JSON.stringify(pending)}\nworker: ${worker.output().slice(-3000)}`,
        ),
      );
    };
    timer = setTimeout(() => void lateFailure(), ms);
  });
  try {
    return (await Promise.race([handle.result(), late])) as UpgradeResult;
  } finally {
    clearTimeout(timer);
  }
}

/** `promise`, or a rejection after `ms`: a query to a workflow no worker serves would wait long. */
function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_resolve, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)),
  ]);
}
