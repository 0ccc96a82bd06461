import { performance } from 'node:perf_hooks';
import type { StatementResult, TrinoClusterApi } from '../integrations/trino/types';
import type { ShadowRun } from './types';

/** What runShadowQuery needs of a coordinator: the client protocol (TrinoHttpClient at the cluster's own address). */
export type ShadowQueryClient = Pick<TrinoClusterApi, 'execute'>;

/** Who a shadow query runs as, and its bounds. */
export interface ShadowQueryOptions {
  /** `X-Trino-User` the query ran as originally. */
  user: string;
  /** `X-Trino-Source` it ran with; default the client's (`cutover`). */
  source?: string;
  catalog?: string;
  schema?: string;
  /** Rows read at most: past it reading stops and the query is cancelled on the coordinator (`truncated`). */
  rowCap: number;
  /** Not finished within this: cancelled on the coordinator (`timedOut`). */
  timeoutMs: number;
  /** Aborting cancels the query on the coordinator and rejects. */
  signal?: AbortSignal;
}

/**
 * Runs one statement on one coordinator through the client protocol, following nextUri and
 * collecting columns and rows up to the row cap, and says how it ended: rows, the error Trino
 * failed it with, truncated at the cap or timed out (both cancelled on the coordinator). A
 * coordinator that cannot be reached or answers outside the protocol rejects: that is no result.
 */
export async function runShadowQuery(
  client: ShadowQueryClient,
  sql: string,
  options: ShadowQueryOptions,
): Promise<ShadowRun> {
  const started = performance.now();
  const result = await client.execute(sql, {
    user: options.user,
    source: options.source,
    catalog: options.catalog,
    schema: options.schema,
    maxRows: options.rowCap,
    // A bigint beyond 2^53 rounded to a double would hide a difference in its last digits.
    exactIntegers: true,
    timeoutMs: options.timeoutMs,
    signal: options.signal,
  });
  return toShadowRun(result, performance.now() - started);
}

function toShadowRun(result: StatementResult, elapsedMs: number): ShadowRun {
  const run: ShadowRun = {
    queryId: result.id,
    rowCount: result.rows.length,
    truncated: result.stopped === 'rowLimit',
    elapsedMs: Math.round(elapsedMs),
  };
  if (result.stopped === 'timeout') {
    run.timedOut = true;
    return run;
  }
  if (result.error && result.stopped === undefined) {
    run.error = { message: result.error.message };
    if (result.error.errorName !== undefined) run.error.errorName = result.error.errorName;
    if (result.error.errorType !== undefined) run.error.errorType = result.error.errorType;
    return run;
  }
  run.columns = result.columns.map(({ name, type }) => ({ name, type }));
  run.rows = result.rows;
  return run;
}
