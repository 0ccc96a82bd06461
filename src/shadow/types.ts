/** Shapes of the shadow-validation engine (runShadowQuery, compareRuns): one query's run on one cluster and how two runs compare. */

export interface ShadowColumn {
  name: string;
  type: string;
}

export interface ShadowRun {
  queryId?: string;
  columns?: ShadowColumn[];
  rows?: unknown[][];
  rowCount: number;
  truncated: boolean;
  error?: { errorName?: string; errorType?: string; message: string };
  timedOut?: boolean;
  elapsedMs: number;
}

export type ShadowVerdict = 'match' | 'mismatch' | 'skipped' | 'slow';

export interface ShadowComparison {
  verdict: ShadowVerdict;
  reason?: string;
  kind?: 'columns' | 'types' | 'rowCount' | 'rows' | 'error' | 'nondeterministic' | 'timeout' | 'truncated' | 'latency';
  firstDifferences?: { blue?: unknown[]; green?: unknown[] }[];
  latencyRatio?: number;
}

export interface CompareOptions {
  floatTolerance: number;
  maxLatencyRatio?: number;
  maxDifferences: number;
}
