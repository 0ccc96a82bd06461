import type { QuerySummary } from '../integrations/trino/types';
import type { ClusterWindow, ErrorCount, TrinoErrorType } from '../observations';

/** Error names a window keeps, most frequent first. */
export const MAX_ERROR_NAMES = 10;

const ERROR_TYPES: ReadonlySet<string> = new Set<TrinoErrorType>([
  'USER_ERROR',
  'INTERNAL_ERROR',
  'INSUFFICIENT_RESOURCES',
  'EXTERNAL',
]);

/** The interval of time a window covers: queries that ended (or were created) in `(from, to]`, epoch ms. */
export interface WindowBounds {
  from: number;
  to?: number;
}

/**
 * What a cluster did in a window, from the query lists of its coordinators (`GET /v1/query`):
 * created queries (routed to it), running and queued now, ended FINISHED or FAILED in the window
 * with their error types and names, and the p50/p95 elapsed time of the finished ones.
 */
export function buildWindow(name: string, lists: QuerySummary[][], bounds: WindowBounds): ClusterWindow {
  const inWindow = (time: string | undefined): boolean => {
    if (time === undefined) return false;
    const at = Date.parse(time);
    return at > bounds.from && (bounds.to === undefined || at <= bounds.to);
  };
  let routed = 0;
  let running = 0;
  let queued = 0;
  let finished = 0;
  let failed = 0;
  const failedByType: ClusterWindow['failedByType'] = {};
  const errors = new Map<string, ErrorCount>();
  const latencies: number[] = [];
  for (const query of lists.flat()) {
    if (inWindow(query.createTime)) routed += 1;
    if (query.state === 'QUEUED' || query.state === 'WAITING_FOR_RESOURCES') queued += 1;
    else if (query.state !== 'FINISHED' && query.state !== 'FAILED') running += 1;
    if (!inWindow(query.endTime)) continue;
    if (query.state === 'FINISHED') {
      finished += 1;
      const elapsed = query.elapsedMs ?? Date.parse(query.endTime!) - Date.parse(query.createTime ?? query.endTime!);
      if (Number.isFinite(elapsed)) latencies.push(elapsed);
    } else if (query.state === 'FAILED') {
      failed += 1;
      const type =
        query.errorType && ERROR_TYPES.has(query.errorType) ? (query.errorType as TrinoErrorType) : 'UNKNOWN';
      failedByType[type] = (failedByType[type] ?? 0) + 1;
      const errorName = query.errorName ?? 'UNKNOWN';
      const entry = errors.get(errorName) ?? { name: errorName, type, count: 0 };
      entry.count += 1;
      errors.set(errorName, entry);
    }
  }
  latencies.sort((a, b) => a - b);
  const window: ClusterWindow = {
    name,
    routed,
    running,
    queued,
    finished,
    failed,
    failedByType,
    topErrors: [...errors.values()]
      .sort((a, b) => b.count - a.count || a.name.localeCompare(b.name))
      .slice(0, MAX_ERROR_NAMES),
    latencyCount: latencies.length,
  };
  if (latencies.length > 0) {
    window.p50Ms = percentile(latencies, 0.5);
    window.p95Ms = percentile(latencies, 0.95);
  }
  return window;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}
