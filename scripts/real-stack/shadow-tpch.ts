/**
 * `npx tsx scripts/real-stack/shadow-tpch.ts`: starts the real-stack's blue and green Trino
 * coordinators (470 and 476, TPCH connector), runs the 22 TPC-H queries on `tpch.tiny` on blue,
 * green and blue again with runShadowQuery, compares them with compareRuns and prints the report.
 * `--json` prints the comparisons as JSON too. Exit code 1 when a query mismatches.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrinoHttpClient } from '../../src/integrations/trino/client';
import { compareRuns } from '../../src/shadow/compare';
import { runShadowQuery, type ShadowQueryOptions } from '../../src/shadow/run';
import type { CompareOptions, ShadowComparison, ShadowRun } from '../../src/shadow/types';
import { REAL_STACK_VERSIONS, trinoServer } from './artifacts';
import { startTrino, type Component } from './components';
import { progress, stopAllServers } from './processes';
import { TPCH_QUERIES } from './tpch-queries';

const COMPARE: CompareOptions = { floatTolerance: 1e-9, maxLatencyRatio: 3, maxDifferences: 3 };
const LIMITS: ShadowQueryOptions = {
  user: 'shadow',
  source: 'cutover-shadow',
  catalog: 'tpch',
  schema: 'tiny',
  rowCap: 10_000,
  timeoutMs: 120_000,
};

interface Outcome {
  query: string;
  blue: ShadowRun;
  green: ShadowRun;
  blueAgain: ShadowRun;
  comparison: ShadowComparison;
}

function summary(run: ShadowRun): string {
  if (run.timedOut) return 'timed out';
  if (run.error) return `failed ${run.error.errorName ?? run.error.message}`;
  return `${run.rowCount}${run.truncated ? '+' : ''} rows`;
}

async function main(): Promise<void> {
  const [blueServer, greenServer] = await Promise.all([
    trinoServer(REAL_STACK_VERSIONS.blue),
    trinoServer(REAL_STACK_VERSIONS.green),
  ]);
  const dir = mkdtempSync(join(process.env.CUTOVER_REAL_STACK_TMP ?? tmpdir(), 'cutover-shadow-'));
  const started: Component[] = [];
  let failed = false;
  try {
    const [blue, green] = await Promise.all([
      startTrino(dir, { name: 'trino-blue', ...blueServer }).then((c) => (started.push(c), c)),
      startTrino(dir, { name: 'trino-green', ...greenServer }).then((c) => (started.push(c), c)),
    ]);
    progress(`blue Trino ${blue.version} at ${blue.url}, green Trino ${green.version} at ${green.url}`);
    const blueClient = new TrinoHttpClient({ url: blue.url, requestTimeoutMs: 130_000 });
    const greenClient = new TrinoHttpClient({ url: green.url, requestTimeoutMs: 130_000 });
    // One pass to warm both JVMs up, so that the latency ratio compares warm clusters.
    for (const sql of TPCH_QUERIES) {
      await runShadowQuery(blueClient, sql, LIMITS);
      await runShadowQuery(greenClient, sql, LIMITS);
    }
    const outcomes: Outcome[] = [];
    const began = Date.now();
    for (const query of TPCH_QUERIES) {
      const blueRun = await runShadowQuery(blueClient, query, LIMITS);
      const greenRun = await runShadowQuery(greenClient, query, LIMITS);
      const blueAgain = await runShadowQuery(blueClient, query, LIMITS);
      const comparison = compareRuns(query, blueRun, greenRun, COMPARE, blueAgain);
      outcomes.push({ query, blue: blueRun, green: greenRun, blueAgain, comparison });
    }
    const seconds = (Date.now() - began) / 1000;
    await blueClient.close();
    await greenClient.close();

    const lines = [`TPC-H on tpch.tiny: blue Trino ${blue.version}, green Trino ${green.version}`];
    lines.push(
      'query  verdict             exact  blue           green          blue ms  green ms  ratio  reason',
      '       (exact: green, and blue run again, equal to blue with no float tolerance at all)',
    );
    outcomes.forEach(({ query, blue: b, green: g, blueAgain, comparison: c }, i) => {
      const verdict = `${c.verdict}${c.kind ? ` (${c.kind})` : ''}`;
      const exactly = { ...COMPARE, floatTolerance: 0, maxLatencyRatio: undefined };
      const exact = [compareRuns(query, b, g, exactly), compareRuns(query, b, blueAgain, exactly)]
        .map((e) => (e.verdict === 'match' ? 'y' : 'n'))
        .join('/');
      lines.push(
        `Q${String(i + 1).padEnd(5)}${verdict.padEnd(20)}${exact.padEnd(7)}${summary(b).padEnd(15)}${summary(g).padEnd(15)}` +
          `${String(b.elapsedMs).padStart(7)}  ${String(g.elapsedMs).padStart(8)}  ${(c.latencyRatio ?? 0).toFixed(2).padStart(5)}  ${c.reason ?? ''}`,
      );
      for (const difference of c.firstDifferences ?? [])
        lines.push(`         blue ${JSON.stringify(difference.blue)}  green ${JSON.stringify(difference.green)}`);
    });
    const counts = new Map<string, number>();
    for (const { comparison } of outcomes) counts.set(comparison.verdict, (counts.get(comparison.verdict) ?? 0) + 1);
    lines.push(
      `${[...counts.entries()].map(([verdict, n]) => `${n} ${verdict}`).join(', ')}; ` +
        `${outcomes.length * 3} runs in ${seconds.toFixed(1)} s`,
    );
    process.stdout.write(`${lines.join('\n')}\n`);
    if (process.argv.includes('--json')) {
      const report = outcomes.map(({ blue: b, green: g, comparison }, i) => ({
        query: `Q${i + 1}`,
        blueQueryId: b.queryId,
        greenQueryId: g.queryId,
        ...comparison,
      }));
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    }
    failed = outcomes.some(({ comparison }) => comparison.verdict === 'mismatch');
  } finally {
    await Promise.all(started.map((component) => component.process.stop()));
    await stopAllServers();
    if (!failed) rmSync(dir, { recursive: true, force: true });
    else progress(`logs kept in ${dir}`);
  }
  process.exit(failed ? 1 : 0);
}

main().catch((error) => {
  process.stderr.write(`${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
