import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startUpgrade } from '../src/client/upgrades';
import { until, untilHealthy, waitForPhase } from '../src/devserver/wait';
import { TrinoHttpClient } from '../src/integrations/trino/client';
import { SHADOW_SAMPLE_QUERIES } from '../src/sandbox/coordinator-results';
import { startSandboxFleet } from '../src/sandbox/fleet';
import { fastPlan } from './support/plans';
import { useProcessTestbed } from './support/process-testbed';
import { assertReplays } from './support/temporal';

/** Shapes the sandbox answers with real rows that match between blue and green (the missing table fails on both). */
const SHAPES = [
  SHADOW_SAMPLE_QUERIES.orders,
  SHADOW_SAMPLE_QUERIES.ordered,
  SHADOW_SAMPLE_QUERIES.totals,
  SHADOW_SAMPLE_QUERIES.nested,
  SHADOW_SAMPLE_QUERIES.missing,
];

describe('shadow validation through a worker crash', () => {
  const testbed = useProcessTestbed({ workers: 0 });

  /** How many times each of `queries` ran on the coordinator at `url`, as its `/v1/query` lists them. */
  async function runsOn(client: TrinoHttpClient, queries: string[]): Promise<Map<string, number>> {
    const runs = new Map<string, number>();
    for (const query of await client.listQueries())
      if (query.query !== undefined && queries.includes(query.query))
        runs.set(query.query, (runs.get(query.query) ?? 0) + 1);
    return runs;
  }

  it('worker killed with SIGKILL mid-step: a new worker resumes and runs no finished pair again', async () => {
    const group = 'shadowkill';
    const fleet = await startSandboxFleet({
      healthIntervalMs: 100,
      clusters: [{ name: `${group}-blue`, version: '470', routingGroup: group }],
    });
    testbed.onStop(() => fleet.stop());
    await untilHealthy(fleet, `${group}-blue`);
    const blue = new TrinoHttpClient({ url: fleet.cluster(`${group}-blue`)!.url, connections: 1 });
    testbed.onStop(() => blue.close());

    // 20 queries of the sandbox's real result shapes, 400 ms each side, 2 pairs at a time: about 8 s of shadowing.
    const queries = Array.from(
      { length: 20 },
      (_, i) => `/* sandbox:duration=400ms */ /* pair ${i + 1} */ ${SHAPES[i % SHAPES.length]}`,
    );
    const first = await testbed.startWorker();
    const handle = await startUpgrade(
      testbed.env.client,
      fastPlan(fleet.gatewayUrl, group, {
        approval: { required: false },
        retire: { teardown: false },
        shadow: { source: ['queries'], queries, sample: 20, concurrency: 2, onMismatch: 'block' },
      }),
    );
    await waitForPhase(handle, 'SHADOWING', 60_000);
    const green = new TrinoHttpClient({ url: fleet.cluster(`${group}-green`)!.url, connections: 1 });
    testbed.onStop(() => green.close());
    await until('8 queries replayed on blue', async () => (await runsOn(blue, queries)).size >= 8, 30_000, 20);
    await first.kill('SIGKILL');
    // What had started on each side when the worker died (a pair runs on blue, then on green).
    const startedAtKill = { blue: await runsOn(blue, queries), green: await runsOn(green, queries) };
    // What the server holds of the killed attempt's progress: the pairs it had finished.
    const pending = (await handle.describe()).raw.pendingActivities?.[0];
    const details = testbed.env.client.options.loadedDataConverter.payloadConverter.fromPayload<{
      marks: string;
    }>(pending!.heartbeatDetails!.payloads![0]);
    const finishedAtKill = [...details.marks].flatMap((mark, index) => (mark === '.' ? [] : [queries[index]]));
    assert.ok(finishedAtKill.length >= 2, `pairs finished before the kill: ${details.marks}`);
    assert.ok(finishedAtKill.length < queries.length, `the kill landed mid-step: ${details.marks}`);

    const second = await testbed.startWorker();
    const result = await handle.result();
    assert.equal(result.outcome, 'SUCCEEDED', second.output());
    const report = result.status.shadow?.report;
    assert.deepEqual(
      { queries: report?.queries, matched: report?.matched, mismatched: report?.mismatched, skipped: report?.skipped },
      { queries: 20, matched: 20, mismatched: 0, skipped: 0 },
    );

    const summary: string[] = [];
    for (const side of ['blue', 'green'] as const) {
      const runs = await runsOn(side === 'blue' ? blue : green, queries);
      for (const sql of queries) assert.ok((runs.get(sql) ?? 0) >= 1, `${sql} ran on ${side}`);
      for (const sql of finishedAtKill)
        assert.equal(runs.get(sql), 1, `${sql} finished before the kill and ran once on ${side}`);
      // Only a query that had started on this side when the worker died, without its pair recorded finished, may run again, once.
      const inFlight = [...startedAtKill[side].keys()].filter((sql) => !finishedAtKill.includes(sql));
      for (const sql of queries)
        assert.ok(
          (runs.get(sql) ?? 0) <= (inFlight.includes(sql) ? 2 : 1),
          `${sql} ran ${runs.get(sql)} times on ${side}; in flight at the kill: ${inFlight.includes(sql)}`,
        );
      const repeated = [...runs.values()].reduce((sum, count) => sum + count - 1, 0);
      summary.push(`${side}: ${startedAtKill[side].size} started at the kill, ${repeated} ran again`);
    }
    process.stderr.write(
      `shadow through SIGKILL: ${finishedAtKill.length} pairs recorded finished; ${summary.join('; ')}\n`,
    );
    await assertReplays(handle);
  });
});
