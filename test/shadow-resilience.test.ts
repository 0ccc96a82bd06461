import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startUpgrade } from '../src/client/upgrades';
import { until, untilHealthy, waitForPhase } from '../src/devserver/wait';
import { startWorkerProcess, type WorkerProcess } from '../src/devserver/worker-process';
import { TrinoHttpClient } from '../src/integrations/trino/client';
import { startSandboxFleet } from '../src/sandbox/fleet';
import { fastPlan } from './support/plans';
import { useProcessTestbed } from './support/process-testbed';
import { assertReplays } from './support/temporal';

const SHADOW_WORKER = join(__dirname, 'support', 'shadow-worker.ts');

describe('shadow validation through a worker crash', () => {
  const testbed = useProcessTestbed({ workers: 0 });

  function startShadowWorker(): Promise<WorkerProcess> {
    const worker = startWorkerProcess(testbed.env.address, {}, [SHADOW_WORKER]);
    testbed.onStop(() => worker.kill('SIGTERM'));
    return worker.ready.then(() => worker);
  }

  it('worker killed with SIGKILL mid-step: a new worker resumes and runs no finished pair again', async () => {
    const group = 'shadowkill';
    const fleet = await startSandboxFleet({
      healthIntervalMs: 100,
      clusters: [{ name: `${group}-blue`, version: '470', routingGroup: group }],
    });
    testbed.onStop(() => fleet.stop());
    await untilHealthy(fleet, `${group}-blue`);
    const blueUrl = fleet.cluster(`${group}-blue`)!.url;
    const blue = new TrinoHttpClient({ url: blueUrl, connections: 1 });
    testbed.onStop(() => blue.close());

    // 20 queries of 250 ms each side, 2 pairs at a time: about 5 s of shadowing.
    const queries = Array.from({ length: 20 }, (_, i) => `/* sandbox:duration=250ms */ SELECT ${i + 1}`);
    const first = await startShadowWorker();
    const handle = await startUpgrade(
      testbed.env.client,
      fastPlan(fleet.gatewayUrl, group, {
        approval: { required: false },
        retire: { teardown: false },
        shadow: { source: ['queries'], queries, sample: 20, concurrency: 2, onMismatch: 'block' },
      }),
    );
    await waitForPhase(handle, 'SHADOWING', 60_000);
    const replayedOnBlue = async () =>
      (await blue.listQueries()).filter((query) => queries.includes(query.query ?? ''));
    await until('6 queries replayed on blue', async () => (await replayedOnBlue()).length >= 6, 30_000, 20);
    await first.kill('SIGKILL');
    const atKill = new Map((await replayedOnBlue()).map((query) => [query.query, 1]));
    // What the server holds of the killed attempt's progress: the pairs it had finished.
    const pending = (await handle.describe()).raw.pendingActivities?.[0];
    const details = testbed.env.client.options.loadedDataConverter.payloadConverter.fromPayload<{
      marks: string;
    }>(pending!.heartbeatDetails!.payloads![0]);
    const finishedAtKill = [...details.marks].flatMap((mark, index) => (mark === '.' ? [] : [queries[index]]));
    assert.ok(finishedAtKill.length >= 2, `pairs finished before the kill: ${details.marks}`);

    const second = await startShadowWorker();
    const result = await handle.result();
    assert.equal(result.outcome, 'SUCCEEDED', second.output());
    assert.equal(result.status.shadow?.report.matched, 20);

    const runs = new Map<string, number>();
    for (const query of await replayedOnBlue()) runs.set(query.query!, (runs.get(query.query!) ?? 0) + 1);
    for (const sql of queries) assert.ok((runs.get(sql) ?? 0) >= 1, `${sql} ran on blue`);
    for (const sql of finishedAtKill) assert.equal(runs.get(sql), 1, `${sql} finished before the kill and ran once`);
    const repeated = [...runs.values()].reduce((sum, count) => sum + count - 1, 0);
    assert.ok(
      repeated <= atKill.size - finishedAtKill.length,
      `only pairs not recorded finished at the kill ran again: ${repeated} repeats, ${atKill.size - finishedAtKill.length} such pairs`,
    );
    process.stderr.write(
      `shadow through SIGKILL: ${atKill.size} queries had run on blue at the kill, ${finishedAtKill.length} pairs recorded finished, ${repeated} repeated\n`,
    );
    await assertReplays(handle);
  });
});
