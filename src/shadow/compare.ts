import { sqlShape, type SqlShape } from './sql-shape';
import { approximateFlags, columnTolerances, REAL_TOLERANCE, rowDifferences, type Sides } from './rows';
import type { CompareOptions, ShadowComparison, ShadowRun } from './types';

export { checksumRows } from './rows';
export { hasTopLevelOrderBy, isNondeterministic } from './sql-shape';

const DEFAULT_LATENCY_FLOOR_MS = 100;

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
