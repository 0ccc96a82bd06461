import type { ClusterWindow, SampleVerdict } from '../observations';
import { MAX_ERROR_NAMES } from './window';

/** The limits one sample is judged by (a plan's analysis settings, durations in ms). */
export interface JudgeLimits {
  /** Errors that count against green, over the queries green ended, above this fail the sample. */
  maxErrorRate: number;
  /** Fewer ended queries on green than this: the sample is inconclusive (0: never). */
  minQueries: number;
  /** Green's p50 and p95 may be at most this times blue's, plus `latencySlackMs`. */
  maxLatencyRatio: number;
  latencySlackMs: number;
  /** Finished queries each side needs before its p50 is compared; p95 needs at least P95_MIN_QUERIES. */
  minLatencyQueries: number;
  /** Queued queries on green may grow by this much since the previous sample. */
  maxQueuedGrowth: number;
}

/** What a sample concluded. */
export interface Judgement {
  verdict: SampleVerdict;
  /** Why the sample fails (empty unless the verdict is `fail`). */
  problems: string[];
  /** Criteria that could not be judged, and why the sample is inconclusive, in plain words. */
  notes: string[];
  /** Why the sample is inconclusive, when it is. */
  inconclusive?: string;
  /** Error names green showed and blue did not, most frequent first. */
  newErrorNames: string[];
  /** Errors that count against green (its internal, resource, external and unknown ones, plus user errors beyond blue's rate) / ended. */
  errorRate: number;
}

/**
 * A p95 is compared only when each side has at least this many finished queries: 5 of them lie
 * above it, so one slow query does not make the percentile.
 */
export const P95_MIN_QUERIES = 100;
/** User errors count against green only when green's excess over blue's rate is this unlikely by chance. */
export const USER_ERROR_SIGNIFICANCE = 0.001;
/**
 * One user error name counts against green when the way its occurrences split between green and
 * blue is this unlikely under the same rate on both (see `newUserErrors`).
 */
export const ERROR_NAME_SIGNIFICANCE = 0.002;
/** A name seen fewer times on green is not tested on its own (one user retrying a typo is not a regression). */
export const ERROR_NAME_MIN_COUNT = 3;

/**
 * Judges one analysis sample: green's window against blue's over the same time (or blue's
 * baseline from before the flip). Pure, so a benchmark can drive it with any windows.
 *
 * - Errors: green's INTERNAL_ERROR, INSUFFICIENT_RESOURCES, EXTERNAL and untyped failures all count
 *   against it; its USER_ERRORs count only as far as they exceed blue's user-error rate, and only
 *   when that excess is significant (a one-sided binomial test at 0.1%): a function an upgrade drops
 *   shows up there, a few typos on both sides do not. Each user error name is also tested on its own
 *   (its occurrences on green against blue's, and blue's `baseline` when given, at 0.2%, from 3 on green): a name
 *   failing on green only counts even when background user errors hide it in the pooled rate.
 *   Counted errors over green's ended queries above `maxErrorRate` fail the sample.
 * - Latency: green's p50 (and p95) of finished queries above `maxLatencyRatio` x blue's plus
 *   `latencySlackMs` fails the sample, compared only when both sides have enough queries; otherwise
 *   that criterion is noted as not judged, never passed silently.
 * - Queue: green's queued queries growing by more than `maxQueuedGrowth` since the last sample.
 * - Fewer than `minQueries` ended queries on green and nothing failed: inconclusive.
 */
export function judgeSample(
  blue: ClusterWindow | undefined,
  green: ClusterWindow,
  limits: JudgeLimits,
  previousGreenQueued?: number,
  baseline?: ClusterWindow,
): Judgement {
  const problems: string[] = [];
  const notes: string[] = [];
  const ended = green.finished + green.failed;
  const types = green.failedByType;
  const systemErrors =
    (types.INTERNAL_ERROR ?? 0) + (types.INSUFFICIENT_RESOURCES ?? 0) + (types.EXTERNAL ?? 0) + (types.UNKNOWN ?? 0);
  const userErrors = types.USER_ERROR ?? 0;
  const byName = blue ? newUserErrors(green, ended, blue, baseline) : [];
  const excessUser = blue
    ? Math.min(
        userErrors,
        Math.max(
          excessUserErrors(userErrors, ended, blue),
          byName.reduce((sum, error) => sum + error.excess, 0),
        ),
      )
    : userErrors;
  if (!blue && userErrors > 0) notes.push('user errors counted in full: no blue window to compare with');
  const counted = systemErrors + excessUser;
  const newErrorNames = green.topErrors
    .filter((error) => !blue?.topErrors.some((seen) => seen.name === error.name))
    .map((error) => error.name);
  const moreOnGreen = byName.filter((error) => !newErrorNames.includes(error.name));
  const errorRate = ended > 0 ? counted / ended : 0;
  if (errorRate > limits.maxErrorRate) {
    const parts = [
      ...(['INTERNAL_ERROR', 'INSUFFICIENT_RESOURCES', 'EXTERNAL', 'UNKNOWN'] as const)
        .filter((type) => types[type])
        .map((type) => `${types[type]} ${type}`),
      ...(excessUser > 0 ? [`${round(excessUser)} USER_ERROR beyond blue's rate`] : []),
    ];
    const onlyOnGreen = green.topErrors.filter((error) => newErrorNames.includes(error.name));
    problems.push(
      `error rate ${percent(errorRate)} (${parts.join(', ')} of ${ended} ended) above ${percent(limits.maxErrorRate)}` +
        (onlyOnGreen.length
          ? `; failing on green only: ${onlyOnGreen.map((e) => `${e.name} (${e.count})`).join(', ')}`
          : '') +
        (moreOnGreen.length
          ? `; failing far more often on green: ${moreOnGreen.map((e) => `${e.name} (${e.green}, ${e.blue} on blue)`).join(', ')}`
          : ''),
    );
  }
  for (const [label, key, minimum] of [
    ['p50', 'p50Ms', limits.minLatencyQueries],
    ['p95', 'p95Ms', Math.max(limits.minLatencyQueries, P95_MIN_QUERIES)],
  ] as const) {
    const greenMs = green[key];
    const blueMs = blue?.[key];
    if (
      !blue ||
      green.latencyCount < minimum ||
      blue.latencyCount < minimum ||
      greenMs === undefined ||
      blueMs === undefined
    ) {
      notes.push(
        `${label} latency not compared: ${green.latencyCount} finished on green, ${blue ? blue.latencyCount : 'no window'} on blue (needs ${minimum} each)`,
      );
      continue;
    }
    const limit = limits.maxLatencyRatio * blueMs + limits.latencySlackMs;
    if (greenMs > limit) {
      problems.push(
        `${label} latency ${ms(greenMs)} on green against ${ms(blueMs)} on ${blueLabel(blue)} (limit ${limits.maxLatencyRatio} x + ${ms(limits.latencySlackMs)} = ${ms(limit)})`,
      );
    }
  }
  if (
    green.queued !== undefined &&
    previousGreenQueued !== undefined &&
    green.queued - previousGreenQueued > limits.maxQueuedGrowth
  ) {
    problems.push(`queued queries grew from ${previousGreenQueued} to ${green.queued}`);
  }
  if (problems.length > 0) return { verdict: 'fail', problems, notes, newErrorNames, errorRate };
  if (ended < limits.minQueries) {
    const inconclusive = `green ended ${ended} ${ended === 1 ? 'query' : 'queries'} in this sample (needs ${limits.minQueries} to judge it)`;
    return { verdict: 'inconclusive', problems, notes, inconclusive, newErrorNames, errorRate };
  }
  return { verdict: 'pass', problems, notes, newErrorNames, errorRate };
}

/**
 * Green's user errors beyond what blue's user-error rate explains, when the excess is significant:
 * P(X >= k) under Binomial(n, blue's rate) below USER_ERROR_SIGNIFICANCE. Blue's rate is smoothed
 * ((k + 1) / (n + 2)), so a blue window with few queries explains more.
 */
function excessUserErrors(greenUser: number, greenEnded: number, blue: ClusterWindow): number {
  if (greenUser === 0) return 0;
  const blueEnded = blue.finished + blue.failed;
  const blueRate = ((blue.failedByType.USER_ERROR ?? 0) + 1) / (blueEnded + 2);
  const expected = greenEnded * blueRate;
  if (greenUser <= expected) return 0;
  return binomialTail(greenUser, greenEnded, blueRate) < USER_ERROR_SIGNIFICANCE ? greenUser - expected : 0;
}

/** A user error name green shows significantly more often than blue. */
interface NameExcess {
  name: string;
  green: number;
  blue: number;
  /** Green's occurrences beyond blue's rate of that name. */
  excess: number;
}

/**
 * Green's user error names whose occurrences split between green and blue (its window, plus its
 * `baseline` when that is not already the window) too unevenly for the same rate on both: under it,
 * each occurrence lands on green with probability greenEnded / (greenEnded + blueEnded), so P(at
 * least green's count of the k on green) below ERROR_NAME_SIGNIFICANCE. A name missing from a
 * window's full top list is given that list's smallest count (it may be just below the cut).
 */
function newUserErrors(
  green: ClusterWindow,
  greenEnded: number,
  blue: ClusterWindow,
  baseline: ClusterWindow | undefined,
): NameExcess[] {
  const references = baseline && !blue.baselineOf && baseline !== blue ? [blue, baseline] : [blue];
  const blueEnded = references.reduce((sum, window) => sum + window.finished + window.failed, 0);
  if (greenEnded === 0 || blueEnded === 0) return [];
  const share = greenEnded / (greenEnded + blueEnded);
  const countOn = (window: ClusterWindow, name: string): number => {
    const seen = window.topErrors.find((error) => error.name === name);
    if (seen) return seen.count;
    return window.topErrors.length >= MAX_ERROR_NAMES ? Math.min(...window.topErrors.map((e) => e.count)) : 0;
  };
  const found: NameExcess[] = [];
  for (const error of green.topErrors) {
    if (error.type !== 'USER_ERROR' || error.count < ERROR_NAME_MIN_COUNT) continue;
    const onBlue = references.reduce((sum, window) => sum + countOn(window, error.name), 0);
    if (binomialTail(error.count, error.count + onBlue, share) >= ERROR_NAME_SIGNIFICANCE) continue;
    const excess = error.count - (greenEnded * onBlue) / blueEnded;
    if (excess > 0) found.push({ name: error.name, green: error.count, blue: onBlue, excess });
  }
  return found;
}

/** P(X >= k) for X ~ Binomial(n, p), summed in log space. */
export function binomialTail(k: number, n: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  const logP = Math.log(p);
  const logQ = Math.log1p(-p);
  let logChoose = 0;
  for (let i = 1; i <= k; i++) logChoose += Math.log(n - k + i) - Math.log(i);
  let total = 0;
  let term = logChoose + k * logP + (n - k) * logQ;
  for (let i = k; i <= n; i++) {
    total += Math.exp(term);
    term += Math.log(n - i) - Math.log(i + 1) + logP - logQ;
  }
  return Math.min(1, total);
}

function blueLabel(blue: ClusterWindow): string {
  return blue.baselineOf ? `${blue.name} (${blue.baselineOf})` : blue.name;
}

function percent(rate: number): string {
  return `${(rate * 100).toFixed(1)}%`;
}

function round(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

function ms(value: number): string {
  return value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
}
