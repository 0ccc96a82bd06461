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

/** One analysis sample of green during a canary bake. */
export interface CanaryMeasurement {
  at: string;
  gatewayStatus?: string;
  version?: string;
  /** Queries green finished (and failed) since the previous sample. */
  finished: number;
  failed: number;
  errorRate: number;
  /** Queued on green; undefined when its query list could not be read (the sample is then a failure). */
  queued?: number;
  /** Why this sample counts as a failure; undefined when green looked healthy. */
  problem?: string;
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
}

/** A stretch of time as a timeline or heartbeat names it: `47 s`, `0.8 s`. */
export function formatSeconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1).replace(/\.0$/, '')} s` : `${Math.round(ms / 1000)} s`;
}
