import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { binomialTail, judgeSample, type JudgeLimits } from '../src/analysis/judge';
import { buildWindow } from '../src/analysis/window';
import type { QuerySummary } from '../src/integrations/trino/types';
import type { ClusterWindow } from '../src/observations';
import { durationMs } from '../src/plan/duration';
import { analysisConfig } from '../src/plan/schema';

/** The plan's defaults: what a plan that says nothing about the analysis is judged by. */
const DEFAULTS = analysisConfig({});
const LIMITS: JudgeLimits = {
  maxErrorRate: DEFAULTS.maxErrorRate,
  minQueries: DEFAULTS.minQueries,
  maxLatencyRatio: DEFAULTS.maxLatencyRatio,
  latencySlackMs: durationMs(DEFAULTS.latencySlack),
  minLatencyQueries: DEFAULTS.minLatencyQueries,
  maxQueuedGrowth: DEFAULTS.maxQueuedGrowth,
};

/** A window of `finished` queries with the given latency and failures by type and name. */
function window(
  name: string,
  finished: number,
  latencyMs: (i: number) => number,
  failures: { type: string; name: string; count: number }[] = [],
): ClusterWindow {
  const queries: QuerySummary[] = [];
  const at = (ms: number) => new Date(1_000_000 + ms).toISOString();
  for (let i = 0; i < finished; i++)
    queries.push({
      queryId: `f${i}`,
      state: 'FINISHED',
      createTime: at(i),
      endTime: at(i + 10),
      elapsedMs: latencyMs(i),
    });
  for (const failure of failures)
    for (let i = 0; i < failure.count; i++)
      queries.push({
        queryId: `${failure.name}${i}`,
        state: 'FAILED',
        createTime: at(i),
        endTime: at(i + 10),
        errorType: failure.type,
        errorName: failure.name,
      });
  return buildWindow(name, [queries], { from: 1_000_000 - 1 });
}

/** Latency around `median` ms, spread deterministically over ±40%. */
const jittered = (median: number) => (i: number) => median * (0.6 + (0.8 * ((i * 37) % 100)) / 100);

describe('judgeSample: green against blue over the same window', () => {
  it('a window counts routed, finished and failed queries, failures by type and name, and p50/p95 of finished ones', () => {
    const w = window('green', 100, (i) => i + 1, [
      { type: 'USER_ERROR', name: 'SYNTAX_ERROR', count: 3 },
      { type: 'INTERNAL_ERROR', name: 'GENERIC_INTERNAL_ERROR', count: 1 },
    ]);
    assert.equal(w.finished, 100);
    assert.equal(w.failed, 4);
    assert.equal(w.routed, 104);
    assert.deepEqual(w.failedByType, { USER_ERROR: 3, INTERNAL_ERROR: 1 });
    assert.deepEqual(
      w.topErrors.map((e) => [e.name, e.count]),
      [
        ['SYNTAX_ERROR', 3],
        ['GENERIC_INTERNAL_ERROR', 1],
      ],
    );
    assert.deepEqual([w.latencyCount, w.p50Ms, w.p95Ms], [100, 50, 95]);
  });

  it('green 2 s slower than blue fails on latency; the same latency passes', () => {
    const blue = window('blue', 200, jittered(300));
    const slow = judgeSample(
      blue,
      window('green', 40, (i) => jittered(300)(i) + 2000),
      LIMITS,
    );
    assert.equal(slow.verdict, 'fail');
    assert.match(slow.problems.join('; '), /p50 latency \d+ ms on green against \d+ ms on blue/);
    assert.equal(judgeSample(blue, window('green', 40, jittered(300)), LIMITS).verdict, 'pass');
  });

  it('a 2x latency regression fails; p95 is compared only with 100 finished queries on each side', () => {
    const blue = window('blue', 300, jittered(400));
    const doubled = judgeSample(
      blue,
      window('green', 30, (i) => 2 * jittered(400)(i)),
      LIMITS,
    );
    assert.equal(doubled.verdict, 'fail');
    assert.match(doubled.problems.join(), /p50 latency/);
    assert.ok(
      doubled.notes.some((note) => /p95 latency not compared: 30 finished on green/.test(note)),
      doubled.notes.join('; '),
    );
  });

  it('too few finished queries for a latency comparison: that criterion is not judged (noted), never a failure', () => {
    const judged = judgeSample(
      window('blue', 200, jittered(300)),
      window('green', 5, () => 5000),
      LIMITS,
    );
    assert.equal(judged.verdict, 'pass');
    assert.ok(
      judged.notes.some((note) =>
        /p50 latency not compared: 5 finished on green, 200 on blue \(needs 20 each\)/.test(note),
      ),
    );
  });

  it('no ended query on green is inconclusive, never a pass; minQueries 0 lets it pass', () => {
    const blue = window('blue', 200, jittered(300));
    const empty = window('green', 0, () => 0);
    const judged = judgeSample(blue, empty, LIMITS);
    assert.equal(judged.verdict, 'inconclusive');
    assert.match(judged.inconclusive ?? '', /green ended 0 queries in this sample \(needs 1/);
    assert.equal(judgeSample(blue, empty, { ...LIMITS, minQueries: 0 }).verdict, 'pass');
  });

  it('internal, resource and external errors count against green whatever blue shows', () => {
    const blue = window('blue', 200, jittered(300), [
      { type: 'INTERNAL_ERROR', name: 'GENERIC_INTERNAL_ERROR', count: 10 },
    ]);
    const green = window('green', 95, jittered(300), [
      { type: 'INTERNAL_ERROR', name: 'GENERIC_INTERNAL_ERROR', count: 3 },
      { type: 'INSUFFICIENT_RESOURCES', name: 'EXCEEDED_GLOBAL_MEMORY_LIMIT', count: 2 },
    ]);
    const judged = judgeSample(blue, green, LIMITS);
    assert.equal(judged.verdict, 'fail');
    assert.match(
      judged.problems[0],
      /error rate 5\.0% \(3 INTERNAL_ERROR, 2 INSUFFICIENT_RESOURCES of 100 ended\) above 2\.0%/,
    );
  });

  it("user errors at blue's rate do not count; a function failing only on green does, and is named", () => {
    const blue = window('blue', 950, jittered(300), [{ type: 'USER_ERROR', name: 'SYNTAX_ERROR', count: 50 }]);
    const sameRate = window('green', 95, jittered(300), [{ type: 'USER_ERROR', name: 'SYNTAX_ERROR', count: 5 }]);
    const same = judgeSample(blue, sameRate, LIMITS);
    assert.equal(same.verdict, 'pass', same.problems.join());
    assert.equal(same.errorRate, 0);
    const dropped = window('green', 85, jittered(300), [
      { type: 'USER_ERROR', name: 'SYNTAX_ERROR', count: 5 },
      { type: 'USER_ERROR', name: 'FUNCTION_NOT_FOUND', count: 10 },
    ]);
    const judged = judgeSample(blue, dropped, LIMITS);
    assert.equal(judged.verdict, 'fail');
    assert.match(judged.problems[0], /USER_ERROR beyond blue's rate/);
    assert.deepEqual(judged.newErrorNames, ['FUNCTION_NOT_FOUND']);
  });

  it('a function failing only on green among background user errors fails the sample and is named, against blue and its baseline', () => {
    const syntax = { type: 'USER_ERROR', name: 'SYNTAX_ERROR', count: 2 };
    const blue = window('blue', 58, jittered(300), [syntax]);
    const baseline = { ...window('blue', 196, jittered(300), [{ ...syntax, count: 4 }]), baselineOf: 'its 10 min' };
    const green = window('green', 52, jittered(300), [
      syntax,
      { type: 'USER_ERROR', name: 'FUNCTION_NOT_FOUND', count: 6 },
    ]);
    const judged = judgeSample(blue, green, LIMITS, undefined, baseline);
    assert.equal(judged.verdict, 'fail', judged.notes.join('; '));
    assert.match(judged.problems[0], /6 USER_ERROR beyond blue's rate of 60 ended/);
    assert.match(judged.problems[0], /failing on green only: FUNCTION_NOT_FOUND \(6\)/);
    assert.equal(judged.errorRate, 0.1);
    // The same split with blue's baseline as the window to compare with (blue gets no new queries).
    assert.equal(judgeSample(baseline, green, LIMITS).verdict, 'fail');
    // Background user errors alone, at blue's rate, still pass.
    const healthy = window('green', 58, jittered(300), [syntax]);
    assert.equal(judgeSample(blue, healthy, LIMITS, undefined, baseline).verdict, 'pass');
  });

  it('a user error name far more frequent on green than on blue and its baseline counts against green', () => {
    const blue = window('blue', 59, jittered(300), [{ type: 'USER_ERROR', name: 'TYPE_MISMATCH', count: 1 }]);
    const baseline = { ...window('blue', 300, jittered(300)), baselineOf: 'its 10 min' };
    const green = window('green', 50, jittered(300), [{ type: 'USER_ERROR', name: 'TYPE_MISMATCH', count: 10 }]);
    const judged = judgeSample(blue, green, LIMITS, undefined, baseline);
    assert.equal(judged.verdict, 'fail');
    assert.match(judged.problems[0], /failing far more often on green: TYPE_MISMATCH \(10, 1 on blue\)/);
  });

  it('a few user errors more on green than on blue are noise, not a failure', () => {
    const blue = window('blue', 990, jittered(300), [{ type: 'USER_ERROR', name: 'SYNTAX_ERROR', count: 10 }]);
    const green = window('green', 18, jittered(300), [{ type: 'USER_ERROR', name: 'TABLE_NOT_FOUND', count: 2 }]);
    const judged = judgeSample(blue, green, LIMITS);
    assert.equal(judged.verdict, 'pass', judged.problems.join());
    assert.deepEqual(judged.newErrorNames, ['TABLE_NOT_FOUND'], 'still named in the status');
  });

  it('healthy noisy windows do not fail: 2,000 jittered samples with user errors on both sides', () => {
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const lognormal = (median: number) =>
      median * Math.exp(0.5 * Math.sqrt(-2 * Math.log(random() || 1e-9)) * Math.cos(2 * Math.PI * random()));
    let failed = 0;
    for (let sample = 0; sample < 2000; sample++) {
      const userErrors = (n: number) => Array.from({ length: n }).filter(() => random() < 0.01).length;
      const blue = window('blue', 380, () => lognormal(300), [
        { type: 'USER_ERROR', name: 'SYNTAX_ERROR', count: userErrors(400) },
      ]);
      const green = window('green', 38, () => lognormal(300), [
        { type: 'USER_ERROR', name: 'SYNTAX_ERROR', count: userErrors(40) },
      ]);
      if (judgeSample(blue, green, LIMITS).verdict === 'fail') failed += 1;
    }
    assert.ok(failed <= 4, `${failed} of 2000 healthy samples failed`);
  });

  it('the default limits catch a 2x slowdown of 200-600 ms queries in 99% of samples of 35 queries a side', () => {
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    // The analysis benchmark's load: 200-600 ms statements plus 0-100 ms of jitter; green takes twice as long.
    const latency = (factor: number) => () => factor * (200 + 400 * random()) + 100 * random();
    let caught = 0;
    for (let sample = 0; sample < 2000; sample++) {
      const judged = judgeSample(window('blue', 35, latency(1)), window('green', 35, latency(2)), LIMITS);
      if (judged.verdict === 'fail') caught += 1;
    }
    assert.ok(caught >= 1980, `${caught} of 2000 samples caught the slowdown`);
  });

  it('binomialTail matches exact values', () => {
    assert.ok(Math.abs(binomialTail(1, 10, 0.02) - (1 - 0.98 ** 10)) < 1e-12);
    assert.ok(Math.abs(binomialTail(2, 3, 0.5) - 0.5) < 1e-12);
    assert.equal(binomialTail(0, 5, 0.1), 1);
  });
});
