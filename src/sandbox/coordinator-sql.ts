/** A result column as Trino's client protocol describes it. */
export interface ResultColumn {
  name: string;
  type: string;
  typeSignature: { rawType: string; arguments: unknown[] };
}

/** What a simulated statement does: how long it runs and what it returns. */
export interface SimulatedStatement {
  durationMs: number;
  columns: ResultColumn[];
  rows: unknown[][];
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

/** The SQL without comments, trailing semicolons and repeated blanks, lower-cased. */
function normalize(sql: string): string {
  return sql
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/--[^\n]*/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/;+$/, '')
    .trim()
    .toLowerCase();
}

function column(type: string): ResultColumn {
  return { name: '_col0', type, typeSignature: { rawType: type, arguments: [] } };
}

/**
 * How the sandbox answers a statement: `SELECT version()` gives the coordinator's version, so a
 * client can see which cluster served it; a rows hint gives the rows 1..N; everything else gives
 * the single row `[1]`.
 */
export function simulateStatement(sql: string, version: string): SimulatedStatement {
  const durationMs = durationHintMs(sql) ?? DEFAULT_QUERY_DURATION_MS;
  const rows = rowsHint(sql);
  if (rows !== undefined) {
    return { durationMs, columns: [column('integer')], rows: Array.from({ length: rows }, (_, i) => [i + 1]) };
  }
  if (normalize(sql) === 'select version()') {
    return { durationMs, columns: [column('varchar')], rows: [[version]] };
  }
  return { durationMs, columns: [column('integer')], rows: [[1]] };
}
