/** A result column as the client protocol names it: `bigint`, `decimal(12,2)`, `array(double)`. */
export interface ShadowColumn {
  name: string;
  type: string;
}

/** One execution of one query on one cluster. */
export interface ShadowRun {
  queryId?: string;
  columns?: ShadowColumn[];
  rows?: unknown[][];
  /** Rows read; at most the row cap. */
  rowCount: number;
  /** The result had more rows than the row cap: reading stopped there and the query was cancelled. */
  truncated: boolean;
  /** The query FAILED on the coordinator, as Trino names the error. */
  error?: { errorName?: string; errorType?: string; message: string };
  /** The query did not finish within the per-query timeout and was cancelled on the coordinator. */
  timedOut?: boolean;
  elapsedMs: number;
}

/** How a query's results on green compare with blue's. */
export type ShadowVerdict = 'match' | 'mismatch' | 'skipped' | 'slow';

/** Which check decided a verdict other than a plain match. */
export type ShadowDifferenceKind =
  'columns' | 'types' | 'rowCount' | 'rows' | 'error' | 'nondeterministic' | 'timeout' | 'truncated' | 'latency';

/** The outcome of comparing one query's runs. */
export interface ShadowComparison {
  verdict: ShadowVerdict;
  /** Why, in plain words. */
  reason?: string;
  kind?: ShadowDifferenceKind;
  /** The first rows that differ (a row on one side only, or a pair), at most `maxDifferences`. */
  firstDifferences?: { blue?: unknown[]; green?: unknown[] }[];
  /** Green's elapsed time over blue's, when both finished. */
  latencyRatio?: number;
}

/** How strict compareRuns is. */
export interface CompareOptions {
  /**
   * Relative tolerance of double values, e.g. 1e-9: |a - b| <= tolerance * max(|a|, |b|); real
   * values compare within at least 2^-22 (two float32 steps).
   */
  floatTolerance: number;
  /** Green slower than blue by more than this factor makes a matching query `slow`; absent: never slow. */
  maxLatencyRatio?: number;
  /**
   * Elapsed times below this count as this much in the latency ratio (default 100 ms), so that a
   * 4 ms query taking 12 ms is not three times slower.
   */
  latencyFloorMs?: number;
  /** At most this many entries in `firstDifferences`. */
  maxDifferences: number;
}
