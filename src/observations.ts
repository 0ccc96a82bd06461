/**
 * Shapes that activities measure and workflows record: both import them from here, so types flow
 * one way (activities never import from src/workflows/).
 */

/** Last health observation of green (and of blue while draining). */
export interface HealthSnapshot {
  gatewayStatus?: string;
  version?: string;
  activeWorkers?: number;
  runningQueries?: number;
  queuedQueries?: number;
  message?: string;
  checkedAt?: string;
}

/** Trino's ErrorType of a failed query (`errorType` in `/v1/query`). */
export type TrinoErrorType = 'USER_ERROR' | 'INTERNAL_ERROR' | 'INSUFFICIENT_RESOURCES' | 'EXTERNAL';

/** An error name and how many queries of a window failed with it. */
export interface ErrorCount {
  name: string;
  type?: string;
  count: number;
}

/**
 * What one cluster (blue: all its coordinators; green) did in an analysis window: the queries it
 * received and ended since the previous sample, read from its coordinators' `/v1/query`.
 */
export interface ClusterWindow {
  /** `blue` (every blue coordinator together) or green's backend name. */
  name: string;
  /** Queries created on it in the window: the new queries the gateway routed to it. */
  routed?: number;
  running?: number;
  queued?: number;
  /** Queries that ended FINISHED / FAILED in the window. */
  finished: number;
  failed: number;
  /** Failed queries by Trino error type (`UNKNOWN` when Trino gave none). */
  failedByType: Partial<Record<TrinoErrorType | 'UNKNOWN', number>>;
  /** The most frequent error names of the window, most frequent first (at most 10, MAX_ERROR_NAMES). */
  topErrors: ErrorCount[];
  /** Elapsed time of the FINISHED queries: how many had one, their median and 95th percentile. */
  latencyCount: number;
  p50Ms?: number;
  p95Ms?: number;
  /** Set when this is blue's baseline from before the flip rather than blue's current window. */
  baselineOf?: string;
  /** Blue's queries of the canary's selected traffic only: which, and what could not be selected (canary.selector). */
  selection?: string;
}

/** The judgement of one sample: pass, fail, or inconclusive (too little traffic on green to judge). */
export type SampleVerdict = 'pass' | 'fail' | 'inconclusive';

/** One analysis sample of green during a bake. */
export interface CanaryMeasurement {
  at: string;
  gatewayStatus?: string;
  version?: string;
  /** Queries green finished (and failed) since the previous sample. */
  finished: number;
  failed: number;
  /** Green's error rate as judged: errors that count against green (see `judgeSample`) / ended queries. */
  errorRate: number;
  /** Queued on green; undefined when its query list could not be read (the sample is then a failure). */
  queued?: number;
  /** Why this sample counts as a failure; undefined when green looked healthy. */
  problem?: string;
  /** The verdict (absent in samples recorded before the comparison with blue). */
  verdict?: SampleVerdict;
  /** Why the sample is inconclusive, when it is. */
  inconclusive?: string;
  /** Criteria that could not be judged in this sample (e.g. latency with too few queries), in plain words. */
  notes?: string[];
  /** Green's and blue's windows (blue's is its baseline before the flip when blue takes no new queries). */
  green?: ClusterWindow;
  blue?: ClusterWindow;
  /** Error names seen on green and not on blue in this window, most frequent first. */
  newErrorNames?: string[];
  /** The share of new queries the plan's step intends for green, and the share it got (percent). */
  intendedPercent?: number;
  actualPercent?: number;
}

/**
 * Progress of a canary bake's analysis: the analysis activity heartbeats it after every sample
 * (so a retry resumes and the CLI and UI see the live sample), returns it to the workflow, and
 * continue-as-new carries it.
 */
export interface AnalysisProgress {
  /**
   * Bake time analysed so far: each sample adds the interval it closes, so the clock stops while
   * paused and while no analysis runs (a worker outage, an unreachable gateway).
   */
  elapsedMs: number;
  /** Bad samples in a row. */
  failures: number;
  /** Start of the current analysis window (epoch ms). */
  since: number;
  previousQueued?: number;
  samples: number;
  last?: CanaryMeasurement;
  /** When the analysis last sampled green (epoch ms, the worker's clock); cleared when the bake is paused. */
  observedAt?: number;
  /** How long green went unwatched during this bake (made up: it never counts as analysed). */
  unwatchedMs?: number;
  /** Inconclusive samples in a row, and the analysed time they closed (which the bake clock did not count). */
  inconclusiveSamples?: number;
  inconclusiveMs?: number;
  /** The last blue window large enough to compare latencies with: the baseline while blue gets no new queries. */
  baseline?: ClusterWindow;
}

/** A stretch of time as a timeline or heartbeat names it: `47 s`, `0.8 s`. */
export function formatSeconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1).replace(/\.0$/, '')} s` : `${Math.round(ms / 1000)} s`;
}
