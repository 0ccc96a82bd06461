import { createHash, hash as oneShotHash } from 'node:crypto';
import type { ShadowColumn, ShadowComparison } from './types';

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

/**
 * A real has a 24-bit significand: two reals one float32 step apart differ by up to 2^-23. Real
 * values compare within at least two such steps, whatever the (double-minded) floatTolerance.
 */
export const REAL_TOLERANCE = 2 ** -22;

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
export function columnTolerances(columns: readonly ShadowColumn[], width: number, floatTolerance: number): number[] {
  return Array.from({ length: width }, (_, i) => {
    const type = columns[i]?.type ?? '';
    if (/\breal\b/i.test(type)) return Math.max(floatTolerance, REAL_TOLERANCE);
    return isApproximate(type) ? floatTolerance : 0;
  });
}

export function approximateFlags(columns: readonly ShadowColumn[], width: number): boolean[] {
  return Array.from({ length: width }, (_, i) => isApproximate(columns[i]?.type ?? ''));
}

/** Characters of row encodings handed to the ordered checksum's hash at once. */
const HASH_CHUNK_CHARS = 64 * 1024;

/** SHA-256 of one row's encoding: one-shot `hash`, a fraction of a `createHash` object's cost per row. */
function digest(text: string): Buffer {
  return oneShotHash('sha256', text, 'buffer');
}

/** Adds the first 16 bytes of a digest (a big-endian 128-bit number) into `sum`, modulo 2^128, in 32-bit words. */
function addDigest(sum: Uint32Array, bytes: Buffer): void {
  let carry = 0;
  for (let word = 3; word >= 0; word -= 1) {
    const total = sum[word] + bytes.readUInt32BE(word * 4) + carry;
    sum[word] = total >>> 0;
    carry = total > 0xffffffff ? 1 : 0;
  }
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
    // One hash over the rows' encodings, each prefixed by its length: a native call per chunk, not per row.
    const hash = createHash('sha256');
    let chunk = '';
    for (const row of rows) {
      const encoded = encodeRow(row, approximate);
      chunk += `${encoded.length}:${encoded}`;
      if (chunk.length >= HASH_CHUNK_CHARS) {
        hash.update(chunk);
        chunk = '';
      }
    }
    return `o${rows.length}:${hash.update(chunk).digest('hex').slice(0, 32)}`;
  }
  const sum = new Uint32Array(4);
  for (const row of rows) addDigest(sum, digest(encodeRow(row, approximate)));
  return `u${rows.length}:${[...sum].map((word) => word.toString(16).padStart(8, '0')).join('')}`;
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

/** Two results' rows, and how their columns compare. */
export interface Sides {
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
export function rowDifferences(sides: Sides, ordered: boolean): ShadowComparison['firstDifferences'] | undefined {
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
