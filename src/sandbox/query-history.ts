/** One submission as `/trino-gateway/api/queryHistory` returns it (QueryHistoryManager.QueryDetail). */
export interface QueryDetail {
  /** Null when the backend did not answer the POST with a query id; such rows are not kept (see `add`). */
  queryId: string | null;
  queryText: string;
  user: string | null;
  source: string | null;
  /** `scheme://host:port` of the backend that got the query. */
  backendUrl: string;
  captureTime: number;
  routingGroup: string;
  externalUrl: string;
}

/**
 * The gateway's query history: one row per submission. The real endpoint returns the newest 2,000;
 * the sandbox keeps many more so a load report can attribute every query of a long run.
 */
export class QueryHistory {
  private readonly rows: QueryDetail[] = [];

  constructor(private readonly limit: number) {}

  /**
   * Records a submission. Like the real gateway (HaQueryHistoryManager.submitQueryDetail, found
   * with the real-stack test), a submission without a query id (the backend refused the POST,
   * e.g. 401 without a user) is not recorded.
   */
  add(detail: QueryDetail): void {
    if (!detail.queryId) return;
    this.rows.push(detail);
    if (this.rows.length > this.limit) this.rows.splice(0, this.rows.length - this.limit);
  }

  /** Newest first, like the real `ORDER BY created DESC`. */
  list(): QueryDetail[] {
    return [...this.rows].reverse();
  }
}
