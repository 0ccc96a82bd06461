import { ACTIVE_QUERY_STATES, type QueryState } from '../integrations/trino/types';
import type { ResultChangeKind } from './coordinator-results';
import { simulateStatement, type SimulatedStatement } from './coordinator-sql';
import { QueryIdGenerator } from './query-id';

/** Trino's QueryError as it appears in QueryResults. */
export interface QueryError {
  message: string;
  errorCode: number;
  errorName: string;
  errorType: 'USER_ERROR' | 'INTERNAL_ERROR' | 'INSUFFICIENT_RESOURCES' | 'EXTERNAL';
  failureInfo: { type: string; message: string; suppressed: unknown[]; stack: string[] };
}

/** One query a simulated coordinator runs. */
export interface SimulatedQuery {
  readonly id: string;
  /** Random per query, part of every nextUri like Trino's slug, so guessed URIs are refused. */
  readonly slug: string;
  readonly sql: string;
  readonly user: string;
  readonly source?: string;
  /** `X-Trino-Client-Tags`, split on commas and trimmed as Trino does. */
  readonly clientTags: string[];
  readonly createdAt: number;
  readonly statement: SimulatedStatement;
  state: QueryState;
  endedAt?: number;
  error?: QueryError;
  /** Token the client must send next in `nextUri`. */
  nextToken: number;
  /** The last page served, answered again when a client retries the same token. */
  lastPage?: { token: number; body: unknown };
  /** State shown in the last page; a poll waits only while nothing changed since. */
  reportedState: QueryState;
  /** Result rows already handed out in pages (a result larger than one page stays FINISHING until all are). */
  rowsServed: number;
}

/** What a new query needs besides its SQL. */
export interface SubmitOptions {
  sql: string;
  user: string;
  source?: string;
  /** The `X-Trino-Client-Tags` header as sent. */
  clientTags?: string;
  /**
   * `random`: runs, then FAILED with GENERIC_INTERNAL_ERROR (the `failRate` fault);
   * `starting`: FAILED at dispatch with SERVER_STARTING_UP, as Trino does before startup completes;
   * an injected error (the `errors` fault): a USER_ERROR fails at dispatch, as a failed analysis
   * does, any other type after the query's run time.
   */
  failure?: 'random' | 'starting' | InjectedError;
  /** Added to the statement's own duration (the `queryDelayMs` and `queryJitterMs` faults). */
  extraDelayMs: number;
  /** Multiplies the statement's own duration (the `queryLatencyFactor` fault); default 1. */
  latencyFactor?: number;
  /** How the result differs from what the statement returns elsewhere (the `resultChanges` fault). */
  resultChange?: ResultChangeKind;
}

/** An error a fault switch makes a query fail with, as Trino names it. */
export interface InjectedError {
  errorType: QueryError['errorType'];
  errorName: string;
  message?: string;
}

/** Trino's error codes of the names a fault is likely to inject (others get a code of their type's range). */
const ERROR_CODES: Record<string, number> = {
  GENERIC_USER_ERROR: 0,
  SYNTAX_ERROR: 1,
  USER_CANCELED: 3,
  PERMISSION_DENIED: 4,
  FUNCTION_NOT_FOUND: 5,
  TABLE_NOT_FOUND: 46,
  COLUMN_NOT_FOUND: 47,
  GENERIC_INTERNAL_ERROR: 65536,
  EXCEEDED_GLOBAL_MEMORY_LIMIT: 131072 + 2,
  EXCEEDED_TIME_LIMIT: 131072 + 3,
};
const ERROR_TYPE_BASE: Record<QueryError['errorType'], number> = {
  USER_ERROR: 0,
  INTERNAL_ERROR: 65536,
  INSUFFICIENT_RESOURCES: 131072,
  EXTERNAL: 16777216,
};

/** Like Trino's `query.min-expire-age` and `query.max-history`, scaled to a sandbox. */
const RETENTION_MS = 10 * 60_000;
const MAX_FINISHED = 5_000;
const PRUNE_EVERY_MS = 1_000;
/** Rows of one result page: the sandbox's stand-in for Trino's target result size. */
export const ROWS_PER_PAGE = 1_000;

function isDone(query: SimulatedQuery): boolean {
  return !ACTIVE_QUERY_STATES.has(query.state);
}

function failure(
  errorName: string,
  errorCode: number,
  errorType: QueryError['errorType'],
  message: string,
): QueryError {
  return {
    message,
    errorCode,
    errorName,
    errorType,
    failureInfo: { type: 'io.trino.spi.TrinoException', message, suppressed: [], stack: [] },
  };
}

/** Counters for `/ui/api/stats`. */
export interface QueryCounts {
  queued: number;
  running: number;
  /** Queries that reached FINISHED since the coordinator started. */
  finishedTotal: number;
  /** Simulated execution time of those queries. */
  cpuMs: number;
}

/**
 * The query manager of one coordinator incarnation: runs queries on timers, wakes long-polling
 * clients on every state change, and forgets old finished queries.
 */
export class QueryTracker {
  private readonly ids = new QueryIdGenerator();
  private readonly queries = new Map<string, SimulatedQuery>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private finishedCount = 0;
  private finishedTotal = 0;
  private cpuMs = 0;
  private lastPrune = 0;

  constructor(
    private readonly coordinatorName: string,
    private readonly version: string,
  ) {}

  /** Starts a query: QUEUED now, RUNNING right after, done after its duration. */
  submit(options: SubmitOptions): SimulatedQuery {
    this.prune();
    const statement = simulateStatement(options.sql, this.version, options.resultChange);
    const query: SimulatedQuery = {
      id: this.ids.next(),
      slug: `y${this.ids.coordinatorId}${Math.random().toString(36).slice(2, 10)}`,
      sql: options.sql,
      user: options.user,
      source: options.source,
      clientTags: (options.clientTags ?? '')
        .split(',')
        .map((tag) => tag.trim())
        .filter((tag) => tag !== ''),
      createdAt: Date.now(),
      statement,
      state: 'QUEUED',
      nextToken: 1,
      reportedState: 'QUEUED',
      rowsServed: 0,
    };
    this.queries.set(query.id, query);
    const runMs = Math.round(statement.durationMs * (options.latencyFactor ?? 1) + options.extraDelayMs);
    // An injected error replaces the one the statement itself fails with (a missing table), if any.
    const injected = typeof options.failure === 'object' ? options.failure : statement.error;
    const injectedError = injected
      ? failure(
          injected.errorName,
          ERROR_CODES[injected.errorName] ?? ERROR_TYPE_BASE[injected.errorType],
          injected.errorType,
          injected.message ?? `Simulated ${injected.errorName} on coordinator ${this.coordinatorName}`,
        )
      : undefined;
    // Dispatch on the next tick so the POST reply still says QUEUED, as Trino's does.
    this.schedule(query, 0, () => {
      if (options.failure === 'starting') {
        query.error = failure('SERVER_STARTING_UP', 65548, 'INTERNAL_ERROR', 'Trino server is still initializing');
        this.transition(query, 'FAILED');
        return;
      }
      if (injectedError?.errorType === 'USER_ERROR') {
        query.error = injectedError;
        this.transition(query, 'FAILED');
        return;
      }
      this.transition(query, 'RUNNING');
      this.schedule(query, runMs, () => {
        if (injectedError) {
          query.error = injectedError;
          this.transition(query, 'FAILED');
        } else if (options.failure === 'random') {
          query.error = failure(
            'GENERIC_INTERNAL_ERROR',
            65536,
            'INTERNAL_ERROR',
            `Simulated failure on coordinator ${this.coordinatorName}`,
          );
          this.transition(query, 'FAILED');
        } else {
          this.cpuMs += runMs;
          // Like Trino, a query whose result the client has not read yet is FINISHING, not FINISHED.
          if (statement.rows.length > ROWS_PER_PAGE) this.transition(query, 'FINISHING');
          else this.finish(query);
        }
      });
    });
    return query;
  }

  /**
   * The next page of a FINISHING query's result (FINISHED once the last page is out); undefined for
   * other queries, whose last page carries their whole (small) result.
   */
  takeRows(query: SimulatedQuery): unknown[][] | undefined {
    if (query.state !== 'FINISHING') return undefined;
    const page = query.statement.rows.slice(query.rowsServed, query.rowsServed + ROWS_PER_PAGE);
    query.rowsServed += page.length;
    if (query.rowsServed >= query.statement.rows.length) this.finish(query);
    return page;
  }

  /** A query this coordinator still remembers. */
  get(id: string): SimulatedQuery | undefined {
    return this.queries.get(id);
  }

  /** Cancels an active query (FAILED with USER_CANCELED); false when unknown. */
  cancel(id: string): boolean {
    const query = this.queries.get(id);
    if (!query) return false;
    if (!isDone(query)) {
      query.error = failure('USER_CANCELED', 3, 'USER_ERROR', 'Query was canceled');
      this.transition(query, 'FAILED');
    }
    return true;
  }

  /** Active and recently finished queries, oldest first. */
  list(): SimulatedQuery[] {
    this.prune();
    return [...this.queries.values()];
  }

  /**
   * Current and cumulative counters. Like Trino's ClusterStatsResource, only the QUEUED and RUNNING
   * states count: a FINISHING query (its result still being read) is in neither.
   */
  counts(): QueryCounts {
    let queued = 0;
    let running = 0;
    for (const query of this.queries.values()) {
      if (query.state === 'QUEUED') queued += 1;
      else if (query.state === 'RUNNING') running += 1;
    }
    return { queued, running, finishedTotal: this.finishedTotal, cpuMs: this.cpuMs };
  }

  /**
   * Resolves at once if the state changed since the last page or result rows wait, else at the next
   * change or after `maxWaitMs` (Trino's long poll).
   */
  waitForProgress(query: SimulatedQuery, maxWaitMs: number): Promise<void> {
    if (isDone(query) || query.state === 'FINISHING' || query.state !== query.reportedState) return Promise.resolve();
    return new Promise((resolve) => {
      const set = this.waiters.get(query.id) ?? new Set();
      this.waiters.set(query.id, set);
      const wake = (): void => {
        clearTimeout(timer);
        set.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, maxWaitMs);
      set.add(wake);
    });
  }

  /** Stops every timer and wakes every waiter: the coordinator is going away with its queries. */
  dispose(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const set of this.waiters.values()) for (const wake of [...set]) wake();
    this.waiters.clear();
    this.queries.clear();
  }

  private finish(query: SimulatedQuery): void {
    this.finishedTotal += 1;
    this.transition(query, 'FINISHED');
  }

  private schedule(query: SimulatedQuery, delayMs: number, action: () => void): void {
    this.timers.set(
      query.id,
      setTimeout(() => {
        this.timers.delete(query.id);
        if (!isDone(query)) action();
      }, delayMs),
    );
  }

  private transition(query: SimulatedQuery, state: QueryState): void {
    query.state = state;
    if (isDone(query)) {
      query.endedAt = Date.now();
      this.finishedCount += 1;
      clearTimeout(this.timers.get(query.id));
      this.timers.delete(query.id);
    }
    const set = this.waiters.get(query.id);
    if (set) {
      this.waiters.delete(query.id);
      for (const wake of [...set]) wake();
    }
  }

  private prune(): void {
    const now = Date.now();
    if (now - this.lastPrune < PRUNE_EVERY_MS && this.finishedCount <= MAX_FINISHED) return;
    this.lastPrune = now;
    for (const [id, query] of this.queries) {
      if (!isDone(query)) continue;
      if (this.finishedCount > MAX_FINISHED || (query.endedAt ?? now) < now - RETENTION_MS) {
        this.queries.delete(id);
        this.finishedCount -= 1;
      }
    }
  }
}
