/**
 * What shadow validation (README "Shadow validation") reports: the activity builds it, the
 * workflow records it in its status and history. Bounded whatever the number of queries: counts,
 * and at most SHADOW_MISMATCHES_LISTED mismatches, each with a hash of its text (the text itself
 * only where the worker policy allows it in history).
 */

/** Mismatches a report lists; the others are only counted. */
export const SHADOW_MISMATCHES_LISTED = 20;
/** Differing rows listed per mismatch, and characters kept of each value. */
export const SHADOW_ROWS_LISTED = 3;
export const SHADOW_VALUE_CHARS = 100;
/** Users listed in `impersonationRefused`. */
export const SHADOW_USERS_LISTED = 10;

/** One query whose runs on blue and green disagree (or green was slower than the plan allows). */
export interface ShadowMismatch {
  /** Position of the query in the sample. */
  index: number;
  /** sha256 (hex) of the query text: what names it in history. */
  sha256: string;
  /** The text, only when the worker policy allows texts in history (`bounds.shadowQueryTextsInHistory`). */
  text?: string;
  /** Where the query came from: the id it had in the gateway's history, `plan` (shadow.queries) or `file NAME #N` (shadow.queryFile). */
  origin: string;
  /** The blue backend it ran on (the pairs are spread over the group's active blue backends). */
  blue?: string;
  user?: string;
  source?: string;
  verdict: 'mismatch' | 'slow';
  kind?: string;
  reason?: string;
  blueQueryId?: string;
  greenQueryId?: string;
  /** Error names of the failed side(s). */
  blueError?: string;
  greenError?: string;
  /** The first differing rows, values as text cut to SHADOW_VALUE_CHARS. */
  firstDifferences?: { blue?: string[]; green?: string[] }[];
  latencyRatio?: number;
}

/** What a shadow step found. */
export interface ShadowReport {
  /** Queries in the sample (plan queries first, then the routing group's history, newest first). */
  queries: number;
  matched: number;
  mismatched: number;
  skipped: number;
  /** Green slower than `shadow.maxLatencyRatio` x blue. */
  slow: number;
  /** Sample's origin: from the plan's `queries`, from the gateway's history. */
  fromPlan: number;
  fromHistory: number;
  /** From the plan's `queryFile` (absent in reports that predate it). */
  fromFile?: number;
  /** History rows of the group left out because they do not only read (the smoke-query rule). */
  notReadOnly: number;
  /** Why queries were skipped, by reason (the 5 most frequent). */
  skippedReasons: { reason: string; count: number }[];
  /** The first SHADOW_MISMATCHES_LISTED mismatches and slow queries, by position in the sample. */
  mismatches: ShadowMismatch[];
  /** Mismatches and slow queries beyond those listed. */
  unlisted: number;
  /**
   * Original users Trino refused to let the worker's Trino user impersonate on both sides (their
   * queries were skipped), at most SHADOW_USERS_LISTED; absent when none was refused.
   */
  impersonationRefused?: string[];
  /**
   * Why the history was not sampled although the plan asked for it (the gateway shows a user without
   * the ADMIN role only its own queries); absent when it was, or was not asked for.
   */
  historyRestricted?: string;
  /**
   * Why the step could not judge green: fewer queries compared (matched, mismatched or slow) than
   * `shadow.minQueries`. Absent when it could (and in reports that predate it).
   */
  inconclusive?: string;
  /** Whether `mismatches` holds query texts. */
  textsInHistory: boolean;
  elapsedMs: number;
}

/** "48 matched, 1 mismatched, 1 skipped, 0 slow of 50 queries". */
export function shadowCounts(report: ShadowReport): string {
  return `${report.matched} matched, ${report.mismatched} mismatched, ${report.skipped} skipped, ${report.slow} slow of ${report.queries} queries`;
}

/** One line per listed mismatch, for the CLI, the UI and the timeline. */
export function describeShadowMismatch(mismatch: ShadowMismatch): string {
  const what = mismatch.text ? JSON.stringify(mismatch.text.slice(0, 80)) : `sha256:${mismatch.sha256.slice(0, 12)}`;
  const ids = `blue ${mismatch.blue ? `${mismatch.blue} ` : ''}${mismatch.blueQueryId ?? '-'}, green ${mismatch.greenQueryId ?? '-'}`;
  const errors =
    mismatch.blueError || mismatch.greenError
      ? `; errors blue ${mismatch.blueError ?? 'none'}, green ${mismatch.greenError ?? 'none'}`
      : '';
  return `#${mismatch.index} ${what} (${mismatch.origin}${mismatch.user ? `, user ${mismatch.user}` : ''}): ${mismatch.verdict}${mismatch.kind ? ` [${mismatch.kind}]` : ''}${mismatch.reason ? ` ${mismatch.reason}` : ''} (${ids}${errors})`;
}
