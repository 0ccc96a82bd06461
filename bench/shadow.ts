/**
 * The shadow row (issue 13): 200 queries replayed on blue and green of a sandbox fleet by the
 * shadow engine, and what comparing the results costs next to running them.
 *
 * 1. Engine: the real `shadowGreen` activity code (in a MockActivityEnvironment) with the worker's
 *    own engine (`runShadowQuery`, `compareRuns`, `isNondeterministic`) and coordinator clients,
 *    each engine call wrapped in a timer: the runs (client protocol round trips, JSON parsing) and
 *    the comparisons (encoding and hashing rows, synchronous) are timed apart.
 * 2. End to end: the same 200 queries as a plan's `shadow.queries` in a blue/green upgrade run by
 *    the `cutover worker` process; the shadow step's time is its activity's started→completed in
 *    the workflow history.
 *
 * The sample: the sandbox's shadow sample shapes (floats, decimals, NULLs, nested values, ORDER BY,
 * aggregates, a failing query, and two kinds the engine skips: LIMIT without ORDER BY, now()/random()),
 * and results of 1,000 to 10,000 rows (`sandbox:rows` hints, half of them under ORDER BY) so that
 * hashing is a visible share. Each text carries a comment with its number, so all 200 are distinct.
 */
import { performance } from 'node:perf_hooks';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { shadowActivities } from '../src/activities/shadow';
import type { ShadowEngine, ShadowGreenInput } from '../src/activities/types';
import { untilHealthy } from '../src/devserver/wait';
import type { ShadowConfig } from '../src/plan/schema';
import { SHADOW_SAMPLE_QUERIES } from '../src/sandbox/coordinator-results';
import type { ShadowReport } from '../src/shadow-report';
import type { ShadowRun } from '../src/shadow/types';
import { integrationsFromEnv } from '../src/worker/integrations';
import { activityTimes } from './history';
import { benchPlan } from './plans';
import { out, table, type Row } from './report';
import { progress, type Stack } from './stack';
import { median, seconds } from './stats';

const QUERIES = 200;
/** Pairs at once: the worker policy's default bound (`bounds.maxShadowConcurrency`). */
const CONCURRENCY = 4;
const ROW_COUNTS = [1_000, 5_000, 10_000];
/** Engine passes of each kind (runs only, then compared); the figures are the median pass's. */
const PASSES = 3;
/** The whole row must take less than this (the engine passes and one upgrade). */
const BUDGET_MS = 120_000;

/** The 200 distinct texts: every other one a large result (half of those ordered), the rest the sample shapes in turn. */
function shadowBenchQueries(count = QUERIES): string[] {
  const shapes = Object.values(SHADOW_SAMPLE_QUERIES);
  return Array.from({ length: count }, (_, i) => {
    if (i % 2 === 0) {
      const rows = ROW_COUNTS[(i / 2) % ROW_COUNTS.length];
      const ordered = i % 4 === 0 ? ' ORDER BY n' : '';
      return `/* sandbox:rows=${rows} */ SELECT n FROM bench.numbers${ordered} /* q${i} */`;
    }
    return `${shapes[Math.floor(i / 2) % shapes.length]} /* q${i} */`;
  });
}

interface Meter {
  runs: number;
  runMs: number;
  rowsRead: number;
  compares: number;
  compareMs: number;
  /** Rows of both sides of every comparison that got as far as the rows (no error, no text-level skip). */
  rowsHashed: number;
  maxCompareMs: number;
  textChecks: number;
  textCheckMs: number;
}

const rowsCompared = (a: ShadowRun, b: ShadowRun): number =>
  a.error || b.error || a.timedOut || b.timedOut ? 0 : (a.rows?.length ?? 0) + (b.rows?.length ?? 0);

/** The worker's engine with every call timed into `meter`; without `compare`, runs only (every pair counts as a match). */
function metered(engine: ShadowEngine, meter: Meter, compare: boolean): ShadowEngine {
  return {
    async run(client, sql, options) {
      const started = performance.now();
      const run = await engine.run(client, sql, options);
      meter.runMs += performance.now() - started;
      meter.runs += 1;
      meter.rowsRead += run.rows?.length ?? 0;
      return run;
    },
    compare(sql, blue, green, options, blueAgain) {
      if (!compare) return { verdict: 'match' };
      const started = performance.now();
      const comparison = engine.compare(sql, blue, green, options, blueAgain);
      const took = performance.now() - started;
      meter.compareMs += took;
      meter.maxCompareMs = Math.max(meter.maxCompareMs, took);
      meter.compares += 1;
      if (comparison.kind !== 'nondeterministic' || blueAgain)
        meter.rowsHashed += rowsCompared(blue, green) + (blueAgain ? rowsCompared(blue, blueAgain) : 0);
      return comparison;
    },
    isNondeterministic(sql) {
      const started = performance.now();
      const reason = engine.isNondeterministic(sql);
      meter.textCheckMs += performance.now() - started;
      meter.textChecks += 1;
      return reason;
    },
  };
}

interface EnginePass {
  report: ShadowReport;
  meter: Meter;
  wallMs: number;
}

/** The shadowGreen activity over the sample, on a fresh fleet of blue (470) and green (480) coordinators. */
async function enginePass(stack: Stack, shadow: ShadowConfig, compare: boolean): Promise<EnginePass> {
  const group = stack.group('shd');
  const fleet = await stack.fleet({
    healthIntervalMs: 1_000,
    clusters: [
      { name: `${group}-blue`, version: '470', routingGroup: group },
      { name: `${group}-green`, version: '480', routingGroup: group },
    ],
  });
  const deps = integrationsFromEnv({});
  const meter: Meter = {
    runs: 0,
    runMs: 0,
    rowsRead: 0,
    compares: 0,
    compareMs: 0,
    rowsHashed: 0,
    maxCompareMs: 0,
    textChecks: 0,
    textCheckMs: 0,
  };
  deps.shadowEngine = metered(deps.shadowEngine!, meter, compare);
  const input: ShadowGreenInput = {
    gateway: { url: fleet.gatewayUrl, requestTimeout: '10s' },
    routingGroup: group,
    blueUrl: fleet.cluster(`${group}-blue`)!.url,
    greenUrl: fleet.cluster(`${group}-green`)!.url,
    shadow,
  };
  const activity = shadowActivities(deps);
  const shadowGreen = (): Promise<ShadowReport> =>
    new MockActivityEnvironment({}, { logger: new DefaultLogger('ERROR') }).run(
      (next: ShadowGreenInput) => activity.shadowGreen(next),
      input,
    );
  try {
    const started = performance.now();
    const report = await shadowGreen();
    return { report, meter, wallMs: performance.now() - started };
  } finally {
    await deps.close();
    await stack.stopFleets();
  }
}

interface EndToEnd {
  outcome: string;
  report?: ShadowReport;
  stepMs: number;
  upgradeMs: number;
  events: number;
}

/** One blue/green upgrade with the sample as its plan's shadow queries, on the worker process. */
async function endToEnd(stack: Stack, queries: string[]): Promise<EndToEnd> {
  const group = stack.group('shde');
  const fleet = await stack.fleet({
    healthIntervalMs: 1_000,
    clusters: [{ name: `${group}-blue`, version: '470', routingGroup: group }],
  });
  try {
    await untilHealthy(fleet, `${group}-blue`, 60_000);
    const plan = benchPlan(fleet.gatewayUrl, group, {
      bake: '1s',
      retire: { keepBlueFor: '1s' },
      shadow: { source: ['queries'], queries, sample: queries.length, concurrency: CONCURRENCY, onMismatch: 'block' },
    });
    const handle = await stack.start(plan);
    const result = await stack.result(handle);
    const times = await activityTimes(stack.client, handle.workflowId);
    return {
      outcome: `${result.outcome}${result.reason ? ` (${result.reason})` : ''}`,
      report: result.status.shadow?.report,
      stepMs: times.activities.shadowGreen ?? NaN,
      upgradeMs: times.totalMs,
      events: times.events,
    };
  } finally {
    await stack.stopFleets();
  }
}

const perSecond = (count: number, ms: number): string => (ms > 0 ? ((count * 1000) / ms).toFixed(0) : '-');
const percent = (part: number, whole: number): string => (whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '-');
const counts = (r: ShadowReport): string =>
  `${r.matched} matched, ${r.mismatched} mismatched, ${r.skipped} skipped, ${r.slow} slow`;
const clean = (r: ShadowReport | undefined): boolean =>
  r !== undefined && r.queries === QUERIES && r.mismatched === 0 && r.slow === 0 && r.matched + r.skipped === QUERIES;

export async function shadowBench(stack: Stack): Promise<Row[]> {
  const started = Date.now();
  const queries = shadowBenchQueries();
  const shadow = benchPlan('http://127.0.0.1:1', 'shdplan', {
    shadow: { source: ['queries'], queries, sample: queries.length, concurrency: CONCURRENCY },
  }).shadow!;
  const runsOnlyWalls: number[] = [];
  const passes: EnginePass[] = [];
  for (let pass = 1; pass <= PASSES; pass++) {
    progress(
      `shadow: pass ${pass}/${PASSES}: ${QUERIES} pairs through the shadowGreen activity, ${CONCURRENCY} at a time`,
    );
    runsOnlyWalls.push((await enginePass(stack, shadow, false)).wallMs);
    passes.push(await enginePass(stack, shadow, true));
    const last = passes[passes.length - 1];
    progress(
      `  runs only ${seconds(runsOnlyWalls[runsOnlyWalls.length - 1])}; compared ${seconds(last.wallMs)}, ` +
        `${seconds(last.meter.compareMs)} of it comparing; ${counts(last.report)}`,
    );
  }
  const runsOnly = { wallMs: median(runsOnlyWalls) };
  const { report, meter, wallMs } = [...passes].sort((a, b) => a.wallMs - b.wallMs)[Math.floor(PASSES / 2)];
  progress('shadow: the same sample in a blue/green upgrade on the worker process');
  const e2e = await endToEnd(stack, queries);
  progress(`  ${e2e.outcome}: shadow step ${seconds(e2e.stepMs)}${e2e.report ? `, ${counts(e2e.report)}` : ''}`);

  const overhead = percent(meter.compareMs, runsOnly.wallMs);
  const added = percent(wallMs - runsOnly.wallMs, runsOnly.wallMs);
  out(
    `## Shadow validation (${QUERIES} queries, concurrency ${CONCURRENCY}, sandbox blue 470 and green 480, row cap ${shadow.rowCap})`,
  );
  out();
  out(
    table(
      ['figure', 'engine (shadowGreen in the bench process)', 'end to end (shadow step on the worker process)'],
      [
        [
          'matched / mismatched / skipped / slow',
          `${report.matched} / ${report.mismatched} / ${report.skipped} / ${report.slow}`,
          e2e.report
            ? `${e2e.report.matched} / ${e2e.report.mismatched} / ${e2e.report.skipped} / ${e2e.report.slow}`
            : e2e.outcome,
        ],
        [
          'wall time',
          `${seconds(wallMs)} (runs only: ${seconds(runsOnly.wallMs)}; passes ${passes.map((p) => seconds(p.wallMs, 1)).join(', ')})`,
          `${seconds(e2e.stepMs)} (whole upgrade ${seconds(e2e.upgradeMs)}, ${e2e.events} events)`,
        ],
        ['pairs/s', perSecond(QUERIES, wallMs), perSecond(QUERIES, e2e.stepMs)],
        [
          `rows per query and side (mean of ${meter.runs} runs; row cap ${shadow.rowCap})`,
          (meter.rowsRead / Math.max(1, meter.runs)).toFixed(0),
          '-',
        ],
        ['rows hashed (both sides of each pair compared)', String(meter.rowsHashed), 'same sample'],
        [
          'rows hashed per second of wall time',
          perSecond(meter.rowsHashed, wallMs),
          perSecond(meter.rowsHashed, e2e.stepMs),
        ],
        ['rows hashed per second of comparing', perSecond(meter.rowsHashed, meter.compareMs), '-'],
        [
          `time comparing (${meter.compares} compareRuns, summed; slowest ${meter.maxCompareMs.toFixed(1)} ms)`,
          seconds(meter.compareMs),
          '-',
        ],
        ['comparison overhead: time comparing / wall time of the runs only', overhead, '-'],
        ['wall time the comparisons added to the runs only', added, '-'],
        [
          `time in runShadowQuery (${meter.runs} runs, summed over the ${CONCURRENCY} slots)`,
          seconds(meter.runMs),
          '-',
        ],
        [`text checks (${meter.textChecks} isNondeterministic)`, `${meter.textCheckMs.toFixed(1)} ms`, '-'],
      ],
    ),
  );
  out();
  out(
    "method: the engine column runs the real shadowGreen activity (MockActivityEnvironment) with the worker's engine and " +
      'coordinator clients, each engine call timed; compareRuns is synchronous, so its summed time is time the event loop ' +
      'spent comparing. "Runs only" is the same pass with compareRuns replaced by a constant match: the time running the ' +
      'queries. The sandbox fleet serves the rows from the bench process. The end-to-end column is the shadowGreen activity ' +
      `of one upgrade (started→completed in its history) on the \`cutover worker\` process. Engine figures: the median of ${PASSES} ` +
      'compared passes (by wall time) and the median of as many runs-only passes.',
  );
  out();
  const tookMs = Date.now() - started;
  return [
    {
      row: `shadow: ${QUERIES} pairs (concurrency ${CONCURRENCY}), engine | end to end`,
      measured: `${perSecond(QUERIES, wallMs)} | ${perSecond(QUERIES, e2e.stepMs)} pairs/s, ${perSecond(meter.rowsHashed, wallMs)} | ${perSecond(meter.rowsHashed, e2e.stepMs)} rows hashed/s`,
      target: '-',
      met: undefined,
    },
    {
      row: 'shadow: comparison overhead (time comparing / time running the queries)',
      measured: `${overhead} (${seconds(meter.compareMs)} / ${seconds(runsOnly.wallMs)})`,
      target: '-',
      met: undefined,
    },
    {
      row: 'shadow: verdicts with a clean green, engine | end to end',
      measured: `${counts(report)} | ${e2e.report ? counts(e2e.report) : e2e.outcome}`,
      target: `${QUERIES} matched or skipped`,
      met: passes.every((pass) => clean(pass.report)) && clean(e2e.report) && e2e.outcome === 'SUCCEEDED',
    },
    {
      row: 'shadow: the row took',
      measured: seconds(tookMs, 1),
      target: `< ${seconds(BUDGET_MS, 0)}`,
      met: tookMs < BUDGET_MS,
    },
  ];
}
