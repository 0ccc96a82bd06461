import { createHash } from 'node:crypto';
import { sqlShape, type SqlShape } from './sql-shape';
import type { CompareOptions, ShadowColumn, ShadowComparison, ShadowRun } from './types';

export { hasTopLevelOrderBy, isNondeterministic } from './sql-shape';

/*
 * How rows are compared. Values arrive as the client protocol's JSON: numbers (integers, double,
 * real), strings (varchar, decimal, date/time, "NaN"/"Infinity" doubles), booleans, null, arrays
 * (ARRAY and ROW), objects (MAP, whose key order means nothing). Each row is encoded canonically
 * (maps with sorted keys); exact columns compare by that encoding. Columns whose type holds double
 * or real are approximate: their numbers compare within the relative tolerance, so the encoding
 * keeps only what a tolerance cannot bridge (null, sign or zero, NaN, infinities, nesting, map keys).
 *
 * - No approximate column: one checksum per side decides, order-insensitive (a sum of row hashes,
 *   so duplicates count) unless the query has a top-level ORDER BY.
 * - Approximate columns: rows pair up by position (ORDER BY) or after sorting both sides by their
 *   exact encoding and then their approximate values, and each pair must agree within the tolerance.
 *   Among rows whose exact parts are all equal, sorting by value can pair two rows the other way
 *   round when their floats differ by less than the tolerance: that reports a mismatch, never hides one.
 */

const MASK_128 = (1n << 128n) - 1n;
/**
 * A real has a 24-bit significand: two reals one float32 step apart differ by up to 2^-23. Real
 * values compare within at least two such steps, whatever the (double-minded) floatTolerance.
 */
const REAL_TOLERANCE = 2 ** -22;
const DEFAULT_LATENCY_FLOOR_MS = 100;

/** A column compared within the tolerance: double or real, alone or nested. */
function isApproximate(type: string): boolean {
  return /\b(double|real)\b/i.test(type);
}

/** The exact canonical encoding of a value; approximate numbers become their sign class only. */
function encode(value: unknown, approximate: boolean): string {
  if (value === null || value === undefined) return 'n';
  switch (typeof value) {
    case 'number':
      if (approximate) return value === 0 ? 'f0' : value > 0 ? 'f+' : 'f-';
      return `d${Object.is(value, -0) ? 0 : value}`;
    case 'string':
      return `s${JSON.stringify(value)}`;
    case 'boolean':
      return value ? 'b1' : 'b0';
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((item) => encode(item, approximate)).join(',')}]`;
      const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${encode(item, approximate)}`).join(',')}}`;
    }
    case 'bigint':
      return `d${value}`;
    case 'undefined':
    case 'function':
    case 'symbol':
      break;
  }
  return '?';
}

function encodeRow(row: readonly unknown[], approximate: readonly boolean[]): string {
  return row.map((value, i) => encode(value, approximate[i] ?? false)).join('|');
}

/** The relative tolerance of each column's numbers: 0 for exact columns. */
function columnTolerances(columns: readonly ShadowColumn[], width: number, floatTolerance: number): number[] {
  return Array.from({ length: width }, (_, i) => {
    const type = columns[i]?.type ?? '';
    if (/\breal\b/i.test(type)) return Math.max(floatTolerance, REAL_TOLERANCE);
    return isApproximate(type) ? floatTolerance : 0;
  });
}

function approximateFlags(columns: readonly ShadowColumn[], width: number): boolean[] {
  return Array.from({ length: width }, (_, i) => isApproximate(columns[i]?.type ?? ''));
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/**
 * A checksum of a result: equal checksums mean equal exact values and, in double/real columns,
 * values of the same sign class (those need a tolerance check besides; see compareRuns). Order-
 * sensitive when `ordered`, else a sum of row hashes (duplicates count).
 */
export function checksumRows(
  columns: readonly ShadowColumn[],
  rows: readonly (readonly unknown[])[],
  ordered: boolean,
): string {
  const width = Math.max(columns.length, ...rows.slice(0, 1).map((row) => row.length));
  const approximate = approximateFlags(columns, width);
  if (ordered) {
    const hash = createHash('sha256');
    for (const row of rows) hash.update(digest(encodeRow(row, approximate)));
    return `o${rows.length}:${hash.digest('hex').slice(0, 32)}`;
  }
  let sum = 0n;
  for (const row of rows)
    sum = (sum + BigInt(`0x${digest(encodeRow(row, approximate)).subarray(0, 16).toString('hex')}`)) & MASK_128;
  return `u${rows.length}:${sum.toString(16).padStart(32, '0')}`;
}

/** Two values of an approximate column: numbers within the relative tolerance, everything else exact. */
function approximatelyEqual(a: unknown, b: unknown, tolerance: number): boolean {
  if (typeof a === 'number' && typeof b === 'number') {
    return a === b || Math.abs(a - b) <= tolerance * Math.max(Math.abs(a), Math.abs(b));
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => approximatelyEqual(item, b[i], tolerance));
  }
  if (isMap(a) && isMap(b)) {
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    return keys.every((key) => Object.hasOwn(b, key) && approximatelyEqual(a[key], b[key], tolerance));
  }
  return encode(a, false) === encode(b, false);
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Orders approximate values: numbers by value, anything else by its exact encoding. */
function compareApproximate(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = encode(a, false);
  const y = encode(b, false);
  return x < y ? -1 : x > y ? 1 : 0;
}

interface Sides {
  blue: unknown[][];
  green: unknown[][];
  approximate: boolean[];
  /** Relative tolerance of each approximate column. */
  tolerances: number[];
  maxDifferences: number;
}

/** Row pairs that differ, in order, at most maxDifferences; rows must already be paired by position. */
function pairwiseDifferences({
  blue,
  green,
  approximate,
  tolerances,
  maxDifferences,
}: Sides): ShadowComparison['firstDifferences'] {
  const differences: NonNullable<ShadowComparison['firstDifferences']> = [];
  for (let i = 0; i < Math.max(blue.length, green.length) && differences.length < maxDifferences; i += 1) {
    const a = blue[i];
    const b = green[i];
    const same =
      a !== undefined &&
      b !== undefined &&
      a.length === b.length &&
      a.every((value, c) =>
        approximate[c] ? approximatelyEqual(value, b[c], tolerances[c]) : encode(value, false) === encode(b[c], false),
      );
    if (!same) differences.push(pair(a, b));
  }
  return differences;
}

function pair(blue: unknown[] | undefined, green: unknown[] | undefined): { blue?: unknown[]; green?: unknown[] } {
  const entry: { blue?: unknown[]; green?: unknown[] } = {};
  if (blue !== undefined) entry.blue = blue;
  if (green !== undefined) entry.green = green;
  return entry;
}

/** Sorts rows by their exact encoding, then by their approximate values, so that equal results pair up. */
function canonicalOrder(rows: readonly unknown[][], approximate: readonly boolean[]): unknown[][] {
  const keyed = rows.map((row) => ({ row, key: encodeRow(row, approximate) }));
  keyed.sort((x, y) => {
    if (x.key !== y.key) return x.key < y.key ? -1 : 1;
    for (let c = 0; c < approximate.length; c += 1) {
      if (!approximate[c]) continue;
      const order = compareApproximate(x.row[c], y.row[c]);
      if (order !== 0) return order;
    }
    return 0;
  });
  return keyed.map(({ row }) => row);
}

/** Rows on one side only (as a multiset), paired up in the order found, at most maxDifferences. */
function multisetDifferences({
  blue,
  green,
  approximate,
  maxDifferences,
}: Sides): ShadowComparison['firstDifferences'] {
  const counts = new Map<string, number>();
  for (const row of blue) {
    const key = encodeRow(row, approximate);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const greenOnly: unknown[][] = [];
  for (const row of green) {
    const key = encodeRow(row, approximate);
    const left = counts.get(key) ?? 0;
    if (left > 0) counts.set(key, left - 1);
    else greenOnly.push(row);
  }
  const blueOnly: unknown[][] = [];
  for (const row of blue) {
    const key = encodeRow(row, approximate);
    const left = counts.get(key) ?? 0;
    if (left > 0) {
      counts.set(key, left - 1);
      blueOnly.push(row);
    }
  }
  const differences: NonNullable<ShadowComparison['firstDifferences']> = [];
  for (let i = 0; i < Math.max(blueOnly.length, greenOnly.length) && differences.length < maxDifferences; i += 1) {
    differences.push(pair(blueOnly[i], greenOnly[i]));
  }
  return differences;
}

/** Whether the rows agree, ordered or not; undefined when they do, else the differences found. */
function rowDifferences(sides: Sides, ordered: boolean): ShadowComparison['firstDifferences'] | undefined {
  const columns = sides.approximate.map((approximate) => ({ name: '', type: approximate ? 'double' : 'exact' }));
  const anyApproximate = sides.approximate.some(Boolean);
  if (!anyApproximate) {
    if (checksumRows(columns, sides.blue, ordered) === checksumRows(columns, sides.green, ordered)) return undefined;
    return ordered ? pairwiseDifferences(sides) : multisetDifferences(sides);
  }
  if (!ordered && checksumRows(columns, sides.blue, false) !== checksumRows(columns, sides.green, false)) {
    return multisetDifferences(sides);
  }
  const paired = ordered
    ? sides
    : {
        ...sides,
        blue: canonicalOrder(sides.blue, sides.approximate),
        green: canonicalOrder(sides.green, sides.approximate),
      };
  const differences = pairwiseDifferences(paired);
  return differences !== undefined && differences.length > 0 ? differences : undefined;
}

function sameType(a: string, b: string): boolean {
  return a.replace(/\s+/g, '').toLowerCase() === b.replace(/\s+/g, '').toLowerCase();
}

function errorLabel(error: NonNullable<ShadowRun['error']>): string {
  return error.errorName ?? error.message;
}

/** Compares what two runs returned (not their timing); a verdict other than match says why. */
function compareResults(
  shape: SqlShape,
  blue: ShadowRun,
  green: ShadowRun,
  options: CompareOptions,
  names: [string, string],
): ShadowComparison {
  const [blueName, greenName] = names;
  if (blue.error || green.error) {
    if (blue.error && green.error) {
      if (errorLabel(blue.error) === errorLabel(green.error)) {
        return { verdict: 'match', reason: `both failed with ${errorLabel(blue.error)}` };
      }
      return {
        verdict: 'mismatch',
        kind: 'error',
        reason: `${blueName} failed with ${errorLabel(blue.error)}, ${greenName} with ${errorLabel(green.error)}`,
      };
    }
    const [failed, error, other] = blue.error ? [blueName, blue.error, greenName] : [greenName, green.error!, blueName];
    return {
      verdict: 'mismatch',
      kind: 'error',
      reason: `${failed} failed with ${errorLabel(error)}, ${other} succeeded`,
    };
  }

  const blueColumns = blue.columns ?? [];
  const greenColumns = green.columns ?? [];
  const names0 = blueColumns.map((c) => c.name.toLowerCase()).join(', ');
  const names1 = greenColumns.map((c) => c.name.toLowerCase()).join(', ');
  if (names0 !== names1) {
    return {
      verdict: 'mismatch',
      kind: 'columns',
      reason: `columns differ: ${blueName} (${names0}), ${greenName} (${names1})`,
    };
  }
  const typeChanges = blueColumns
    .map((column, i) => ({ column, other: greenColumns[i] }))
    .filter(({ column, other }) => !sameType(column.type, other.type))
    .map(({ column, other }) => `${column.name} ${column.type} on ${blueName}, ${other.type} on ${greenName}`);
  if (typeChanges.length > 0) {
    return { verdict: 'mismatch', kind: 'types', reason: `column types differ: ${typeChanges.join('; ')}` };
  }

  const blueRows = blue.rows ?? [];
  const greenRows = green.rows ?? [];
  if (blue.truncated !== green.truncated) {
    const [cut, whole] = blue.truncated ? [blue, green] : [green, blue];
    const [cutName, wholeName] = blue.truncated ? [blueName, greenName] : [greenName, blueName];
    return {
      verdict: 'mismatch',
      kind: 'rowCount',
      reason: `${cutName} returned more than ${cut.rowCount} rows (the row cap), ${wholeName} ${whole.rowCount}`,
    };
  }
  if (blue.truncated && !shape.topLevelOrderBy) {
    return {
      verdict: 'skipped',
      kind: 'truncated',
      reason: `both returned more than the row cap and the query has no ORDER BY: the first rows of each are not comparable`,
    };
  }
  const count = (side: ShadowRun, rows: unknown[][]): number => (side.truncated ? rows.length : side.rowCount);
  if (count(blue, blueRows) !== count(green, greenRows)) {
    return {
      verdict: 'mismatch',
      kind: 'rowCount',
      reason: `${blueName} returned ${blue.rowCount} rows, ${greenName} ${green.rowCount}`,
    };
  }
  const width = Math.max(blueColumns.length, blueRows[0]?.length ?? 0);
  const sides: Sides = {
    blue: blueRows,
    green: greenRows,
    approximate: approximateFlags(blueColumns, width),
    tolerances: columnTolerances(blueColumns, width, options.floatTolerance),
    maxDifferences: options.maxDifferences,
  };
  const differences = rowDifferences(sides, shape.topLevelOrderBy);
  if (differences === undefined) {
    return blue.truncated
      ? { verdict: 'match', reason: `the first ${blueRows.length} rows (the row cap) match` }
      : { verdict: 'match' };
  }
  const tolerance = sides.approximate.some(Boolean)
    ? ` (double within a relative ${options.floatTolerance}, real within ${Math.max(options.floatTolerance, REAL_TOLERANCE).toPrecision(2)})`
    : '';
  if (shape.topLevelOrderBy && rowDifferences(sides, false) === undefined) {
    return {
      verdict: 'mismatch',
      kind: 'rows',
      reason: `same rows in a different order under the query's ORDER BY${tolerance}; rows tied on the ORDER BY keys may come in any order`,
      firstDifferences: differences,
    };
  }
  return { verdict: 'mismatch', kind: 'rows', reason: `rows differ${tolerance}`, firstDifferences: differences };
}

/**
 * Compares one query's run on green with its run on blue (and, when given, a second run on blue
 * that tells non-deterministic queries apart). Skipped: the query's text says it is
 * non-deterministic, blue's two runs differ, blue timed out, or both results passed the row cap
 * without an ORDER BY. Mismatch: an error on one side only or different errors, columns, types,
 * row counts, rows, or green timing out where blue finished. Slow: results match but green took
 * more than `maxLatencyRatio` times blue's time.
 */
export function compareRuns(
  sql: string,
  blue: ShadowRun,
  green: ShadowRun,
  options: CompareOptions,
  blueAgain?: ShadowRun,
): ShadowComparison {
  const shape = sqlShape(sql);
  if (shape.nondeterministic !== undefined) {
    return { verdict: 'skipped', kind: 'nondeterministic', reason: `non-deterministic: ${shape.nondeterministic}` };
  }
  const floor = options.latencyFloorMs ?? DEFAULT_LATENCY_FLOOR_MS;
  const latency: Pick<ShadowComparison, 'latencyRatio'> =
    blue.timedOut || green.timedOut
      ? {}
      : { latencyRatio: Math.max(green.elapsedMs, floor) / Math.max(blue.elapsedMs, floor) };
  if (blue.timedOut || blueAgain?.timedOut) {
    return {
      verdict: 'skipped',
      kind: 'timeout',
      reason: `blue did not finish within the timeout${green.timedOut ? ' and neither did green' : ''}: nothing to compare with`,
    };
  }
  if (blueAgain) {
    const again = compareResults(shape, blue, blueAgain, options, ['the first run on blue', 'the second']);
    if (again.verdict === 'mismatch') {
      return {
        verdict: 'skipped',
        kind: 'nondeterministic',
        reason: `two runs on blue differ: ${again.reason}`,
        ...latency,
      };
    }
  }
  if (green.timedOut) {
    return {
      verdict: 'mismatch',
      kind: 'timeout',
      reason: `green did not finish within the timeout; blue finished in ${Math.round(blue.elapsedMs)} ms`,
    };
  }
  const result = compareResults(shape, blue, green, options, ['blue', 'green']);
  const comparison = { ...result, ...latency };
  const ratio = latency.latencyRatio;
  if (
    comparison.verdict === 'match' &&
    options.maxLatencyRatio !== undefined &&
    ratio !== undefined &&
    ratio > options.maxLatencyRatio
  ) {
    return {
      ...comparison,
      verdict: 'slow',
      kind: 'latency',
      reason: `green took ${Math.round(green.elapsedMs)} ms, ${ratio.toFixed(1)} times blue's ${Math.round(blue.elapsedMs)} ms (limit ${options.maxLatencyRatio})`,
    };
  }
  return comparison;
}
