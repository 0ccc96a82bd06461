import {
  changeResult,
  normalizeForMatch,
  shadowSampleResult,
  type ResultChangeKind,
  type ResultColumn,
  type SimulatedResult,
} from './coordinator-results';

export type { ResultColumn } from './coordinator-results';

/** What a simulated statement does: how long it runs and what it returns (or the error it fails with). */
export interface SimulatedStatement extends SimulatedResult {
  durationMs: number;
}

/** Short enough that a plain `SELECT 1` feels instant, long enough to pass through RUNNING. */
const DEFAULT_QUERY_DURATION_MS = 20;

const DURATION_HINT = /\/\*\s*sandbox:duration=(\d+(?:\.\d+)?)(ms|s)\s*\*\//i;
const ROWS_HINT = /\/\*\s*sandbox:rows=(\d+)\s*\*\//i;
/** Largest result a rows hint asks for, so that a typo cannot exhaust the sandbox's memory. */
const MAX_HINTED_ROWS = 1_000_000;

/** Milliseconds asked for by a `/* sandbox:duration=1500ms *\/` (or `=2s`) hint, if the SQL has one. */
function durationHintMs(sql: string): number | undefined {
  const match = DURATION_HINT.exec(sql);
  if (!match) return undefined;
  const value = Number(match[1]);
  return Math.round(match[2].toLowerCase() === 's' ? value * 1000 : value);
}

/** Rows asked for by a `/* sandbox:rows=25000 *\/` hint, if the SQL has one. */
function rowsHint(sql: string): number | undefined {
  const match = ROWS_HINT.exec(sql);
  return match ? Math.min(Number(match[1]), MAX_HINTED_ROWS) : undefined;
}

function column(type: string): ResultColumn {
  return { name: '_col0', type, typeSignature: { rawType: type, arguments: [] } };
}

/**
 * How the sandbox answers a statement: `SELECT version()` gives the coordinator's version, so a
 * client can see which cluster served it; a rows hint gives the rows 1..N; the shapes of
 * SHADOW_SAMPLE_QUERIES give their rows (unordered ones in an order that depends on the version,
 * as two clusters return them), RELEASE_ANSWER_QUERY a row naming the version; everything else
 * gives the single row `[1]`. `change` is what the `resultChanges` fault does to the result.
 */
export function simulateStatement(sql: string, version: string, change?: ResultChangeKind): SimulatedStatement {
  const durationMs = durationHintMs(sql) ?? DEFAULT_QUERY_DURATION_MS;
  const result = answer(sql, version);
  return { durationMs, ...(change === undefined ? result : changeResult(result, change)) };
}

function answer(sql: string, version: string): SimulatedResult {
  const rows = rowsHint(sql);
  if (rows !== undefined)
    return { columns: [column('integer')], rows: Array.from({ length: rows }, (_, i) => [i + 1]) };
  const normalized = normalizeForMatch(sql);
  if (normalized === 'select version()') return { columns: [column('varchar')], rows: [[version]] };
  return shadowSampleResult(normalized, version) ?? { columns: [column('integer')], rows: [[1]] };
}
