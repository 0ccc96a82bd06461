import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checksumRows, compareRuns, hasTopLevelOrderBy, isNondeterministic } from '../src/shadow/compare';
import type { CompareOptions, ShadowColumn, ShadowRun } from '../src/shadow/types';

const OPTIONS: CompareOptions = { floatTolerance: 1e-9, maxDifferences: 3 };

/** `'id bigint, amount decimal(12,2)'` as columns: commas inside a type's parentheses do not split. */
function col(spec: string): ShadowColumn[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const c of spec) {
    if (c === ',' && depth === 0) {
      parts.push(current);
      current = '';
      continue;
    }
    if (c === '(') depth += 1;
    if (c === ')') depth -= 1;
    current += c;
  }
  parts.push(current);
  return parts.map((part) => {
    const [name, ...type] = part.trim().split(' ');
    return { name, type: type.join(' ') };
  });
}

function run(columns: ShadowColumn[], rows: unknown[][], extra: Partial<ShadowRun> = {}): ShadowRun {
  return { columns, rows, rowCount: rows.length, truncated: false, elapsedMs: 200, ...extra };
}

function failed(errorName: string, extra: Partial<ShadowRun> = {}): ShadowRun {
  return {
    rowCount: 0,
    truncated: false,
    elapsedMs: 50,
    error: { errorName, errorType: 'USER_ERROR', message: `${errorName} here` },
    ...extra,
  };
}

const ORDERS = col('id bigint, customer varchar, amount decimal(12,2), price double, note varchar');
const ORDER_ROWS: unknown[][] = [
  [1, 'alice', '12.30', 0.1 + 0.2, null],
  [2, 'bob', '7.00', 1e300, 'rush'],
  [3, 'carol', '0.05', -2.5, null],
  [4, 'dave', '99.99', 0, ''],
];
const UNORDERED = 'SELECT id, customer, amount, price, note FROM orders';
const ORDERED = 'SELECT id, customer, amount, price, note FROM orders ORDER BY id';

describe('shadow comparison', () => {
  it('the same rows in another order match when the query has no top-level ORDER BY', () => {
    const blue = run(ORDERS, ORDER_ROWS);
    const green = run(ORDERS, [...ORDER_ROWS].reverse());
    assert.equal(compareRuns(UNORDERED, blue, green, OPTIONS).verdict, 'match');
  });

  it('the same rows in another order are a mismatch under a top-level ORDER BY, named as an order difference', () => {
    const result = compareRuns(ORDERED, run(ORDERS, ORDER_ROWS), run(ORDERS, [...ORDER_ROWS].reverse()), OPTIONS);
    assert.equal(result.verdict, 'mismatch');
    assert.equal(result.kind, 'rows');
    assert.match(result.reason ?? '', /same rows in a different order/);
    assert.deepEqual(result.firstDifferences?.[0], { blue: ORDER_ROWS[0], green: ORDER_ROWS[3] });
  });

  it('a changed value is a rows mismatch that shows the differing rows of each side', () => {
    const changed = ORDER_ROWS.map((row) => [...row]);
    changed[2][1] = 'karol';
    const result = compareRuns(UNORDERED, run(ORDERS, ORDER_ROWS), run(ORDERS, changed), OPTIONS);
    assert.equal(result.verdict, 'mismatch');
    assert.equal(result.kind, 'rows');
    assert.deepEqual(result.firstDifferences, [{ blue: ORDER_ROWS[2], green: changed[2] }]);
  });

  it('a duplicated row in place of another is caught although the set of distinct rows is almost the same', () => {
    const rows = [[1], [2], [2]];
    const other = [[1], [1], [2]];
    const result = compareRuns('SELECT x FROM t', run(col('x integer'), rows), run(col('x integer'), other), OPTIONS);
    assert.equal(result.verdict, 'mismatch');
    assert.deepEqual(result.firstDifferences, [{ blue: [2], green: [1] }]);
  });

  it('doubles within the relative tolerance match, beyond it they do not', () => {
    const near = ORDER_ROWS.map((row) => [row[0], row[1], row[2], (row[3] as number) * (1 + 1e-12), row[4]]);
    const far = ORDER_ROWS.map((row) => [row[0], row[1], row[2], (row[3] as number) * (1 + 1e-6), row[4]]);
    assert.equal(
      compareRuns(UNORDERED, run(ORDERS, ORDER_ROWS), run(ORDERS, near.reverse()), OPTIONS).verdict,
      'match',
    );
    const result = compareRuns(UNORDERED, run(ORDERS, ORDER_ROWS), run(ORDERS, far), OPTIONS);
    assert.equal(result.verdict, 'mismatch');
    assert.equal(result.kind, 'rows');
    assert.match(result.reason ?? '', /within a relative 1e-9/);
    assert.equal(result.firstDifferences?.length, 3, 'capped at maxDifferences');
  });

  it('a real column and ordered floats use the tolerance too; a zero against a tiny value does not', () => {
    const columns = col('k integer, r real');
    const ordered = 'SELECT k, r FROM t ORDER BY k';
    assert.equal(
      compareRuns(
        ordered,
        run(columns, [
          [1, 0.3],
          [2, 7],
        ]),
        run(columns, [
          [1, 0.30000000000001],
          [2, 7],
        ]),
        OPTIONS,
      ).verdict,
      'match',
    );
    assert.equal(
      compareRuns(ordered, run(columns, [[1, 0]]), run(columns, [[1, 1e-300]]), OPTIONS).verdict,
      'mismatch',
    );
  });

  it('real values one float32 step apart match at a double tolerance of 1e-9, since a real carries only 24 bits', () => {
    const columns = col('k integer, r real');
    const r = Math.fround(1 / 3);
    const nextReal = Math.fround(r * (1 + 2 ** -23));
    assert.notEqual(r, nextReal);
    assert.equal(
      compareRuns('SELECT k, r FROM t', run(columns, [[1, r]]), run(columns, [[1, nextReal]]), OPTIONS).verdict,
      'match',
    );
    const off = compareRuns('SELECT k, r FROM t', run(columns, [[1, r]]), run(columns, [[1, r * (1 + 1e-5)]]), OPTIONS);
    assert.equal(off.verdict, 'mismatch', 'a real off by 1e-5 is still a difference');
    const doubles = col('k integer, d double');
    const d = 1 / 3;
    assert.equal(
      compareRuns('SELECT k, d FROM t', run(doubles, [[1, d]]), run(doubles, [[1, nextReal]]), OPTIONS).verdict,
      'mismatch',
    );
  });

  it('NaN and infinities compare exactly, and a NULL differs from zero and from an empty string', () => {
    const columns = col('v double, s varchar');
    const blue = run(columns, [
      ['NaN', null],
      ['Infinity', 'x'],
    ]);
    assert.equal(
      compareRuns(
        'SELECT v, s FROM t',
        blue,
        run(columns, [
          ['Infinity', 'x'],
          ['NaN', null],
        ]),
        OPTIONS,
      ).verdict,
      'match',
    );
    assert.equal(
      compareRuns(
        'SELECT v, s FROM t',
        blue,
        run(columns, [
          ['NaN', null],
          ['-Infinity', 'x'],
        ]),
        OPTIONS,
      ).verdict,
      'mismatch',
    );
    assert.equal(
      compareRuns(
        'SELECT v, s FROM t',
        blue,
        run(columns, [
          ['NaN', ''],
          ['Infinity', 'x'],
        ]),
        OPTIONS,
      ).verdict,
      'mismatch',
    );
    assert.equal(
      compareRuns('SELECT v, s FROM t', run(columns, [[null, 'a']]), run(columns, [[0, 'a']]), OPTIONS).verdict,
      'mismatch',
    );
  });

  it('decimals compare as exact text: 12.30 and 12.31 differ, no tolerance applies', () => {
    const columns = col('amount decimal(12,2)');
    const result = compareRuns('SELECT amount FROM t', run(columns, [['12.30']]), run(columns, [['12.31']]), OPTIONS);
    assert.equal(result.verdict, 'mismatch');
  });

  it('nested values: maps ignore key order, arrays and rows keep it, doubles inside them use the tolerance', () => {
    const columns = col(
      'tags array(varchar), attrs map(varchar,integer), addr row(city varchar,zip varchar), w array(double)',
    );
    const blue = run(columns, [[['a', 'b'], { x: 1, y: 2 }, ['Oslo', '0150'], [0.1, 0.2]]]);
    const same = run(columns, [[['a', 'b'], { y: 2, x: 1 }, ['Oslo', '0150'], [0.1 * (1 + 1e-12), 0.2]]]);
    assert.equal(compareRuns('SELECT * FROM t', blue, same, OPTIONS).verdict, 'match');
    const reordered = run(columns, [[['b', 'a'], { x: 1, y: 2 }, ['Oslo', '0150'], [0.1, 0.2]]]);
    assert.equal(compareRuns('SELECT * FROM t', blue, reordered, OPTIONS).verdict, 'mismatch');
    const mapValue = run(columns, [[['a', 'b'], { x: 1, y: 3 }, ['Oslo', '0150'], [0.1, 0.2]]]);
    assert.equal(compareRuns('SELECT * FROM t', blue, mapValue, OPTIONS).verdict, 'mismatch');
    const nestedFloat = run(columns, [[['a', 'b'], { x: 1, y: 2 }, ['Oslo', '0150'], [0.1, 0.21]]]);
    assert.equal(compareRuns('SELECT * FROM t', blue, nestedFloat, OPTIONS).verdict, 'mismatch');
  });

  it('a different column name or count is a columns mismatch; a different type is a types mismatch', () => {
    const rows = [[1]];
    const columns = compareRuns('SELECT x FROM t', run(col('x bigint'), rows), run(col('y bigint'), rows), OPTIONS);
    assert.deepEqual([columns.verdict, columns.kind], ['mismatch', 'columns']);
    const types = compareRuns('SELECT x FROM t', run(col('x bigint'), rows), run(col('x integer'), rows), OPTIONS);
    assert.deepEqual([types.verdict, types.kind], ['mismatch', 'types']);
    assert.match(types.reason ?? '', /x bigint on blue, integer on green/);
    const spaced = compareRuns(
      'SELECT x FROM t',
      run(col('x decimal(12,2)'), rows),
      run(col('x decimal(12, 2)'), rows),
      OPTIONS,
    );
    assert.equal(spaced.verdict, 'match');
  });

  it('a different row count is a rowCount mismatch', () => {
    const result = compareRuns(UNORDERED, run(ORDERS, ORDER_ROWS), run(ORDERS, ORDER_ROWS.slice(1)), OPTIONS);
    assert.deepEqual(
      [result.verdict, result.kind, result.reason],
      ['mismatch', 'rowCount', 'blue returned 4 rows, green 3'],
    );
  });

  it('an error on one side only is a mismatch; the same error on both sides matches; different errors mismatch', () => {
    const ok = run(ORDERS, ORDER_ROWS);
    const greenOnly = compareRuns(UNORDERED, ok, failed('FUNCTION_NOT_FOUND'), OPTIONS);
    assert.deepEqual([greenOnly.verdict, greenOnly.kind], ['mismatch', 'error']);
    assert.match(greenOnly.reason ?? '', /green failed with FUNCTION_NOT_FOUND, blue succeeded/);
    const blueOnly = compareRuns(UNORDERED, failed('TABLE_NOT_FOUND'), ok, OPTIONS);
    assert.deepEqual([blueOnly.verdict, blueOnly.kind], ['mismatch', 'error']);
    assert.equal(
      compareRuns(UNORDERED, failed('TABLE_NOT_FOUND'), failed('TABLE_NOT_FOUND'), OPTIONS).verdict,
      'match',
    );
    const different = compareRuns(UNORDERED, failed('TABLE_NOT_FOUND'), failed('SYNTAX_ERROR'), OPTIONS);
    assert.deepEqual([different.verdict, different.kind], ['mismatch', 'error']);
  });

  it('a second run on blue that differs from the first skips the query as non-deterministic', () => {
    const blue = run(ORDERS, ORDER_ROWS);
    const again = run(ORDERS, ORDER_ROWS.slice(0, 3));
    const result = compareRuns(UNORDERED, blue, run(ORDERS, ORDER_ROWS.slice(1)), OPTIONS, again);
    assert.deepEqual([result.verdict, result.kind], ['skipped', 'nondeterministic']);
    assert.match(result.reason ?? '', /two runs on blue differ/);
    const stable = compareRuns(
      UNORDERED,
      blue,
      run(ORDERS, ORDER_ROWS.slice(1)),
      OPTIONS,
      run(ORDERS, [...ORDER_ROWS].reverse()),
    );
    assert.deepEqual([stable.verdict, stable.kind], ['mismatch', 'rowCount'], 'a stable blue leaves the real mismatch');
  });

  it('queries whose text is non-deterministic are skipped with the reason, whatever their rows', () => {
    const blue = run(ORDERS, ORDER_ROWS);
    const green = run(ORDERS, ORDER_ROWS.slice(1));
    for (const [sql, reason] of [
      ['SELECT now(), id FROM orders', /now\(\)/],
      ["SELECT id FROM orders WHERE ts > current_timestamp - INTERVAL '1' DAY", /current_timestamp/],
      ['SELECT current_date', /current_date/],
      ['SELECT localtimestamp', /localtimestamp/],
      ['SELECT random() AS r', /random\(\)/],
      ['SELECT RAND(10)', /rand\(\)/],
      ['SELECT uuid()', /uuid\(\)/],
      ['SELECT shuffle(ARRAY[1,2,3])', /shuffle\(\)/],
      ['SELECT * FROM orders LIMIT 10', /LIMIT without ORDER BY/],
      ['SELECT * FROM orders OFFSET 2', /LIMIT without ORDER BY/],
      ['SELECT * FROM orders FETCH FIRST 5 ROWS ONLY', /LIMIT without ORDER BY/],
      ['SELECT sum(x) FROM (SELECT x FROM t LIMIT 5) ORDER BY 1', /LIMIT without ORDER BY in a subquery/],
      ['SELECT * FROM orders TABLESAMPLE BERNOULLI (10)', /TABLESAMPLE/],
    ] as const) {
      const result = compareRuns(sql, blue, green, OPTIONS);
      assert.deepEqual([result.verdict, result.kind], ['skipped', 'nondeterministic'], sql);
      assert.match(result.reason ?? '', reason, sql);
    }
  });

  it('a query calling version() is skipped before it runs, since each cluster answers its own release (470 vs 476 is no regression)', () => {
    const reason = "version() answers each cluster's own release";
    for (const sql of [
      'SELECT version()',
      'select VERSION ( )',
      'SELECT node_id, version() AS v FROM system.runtime.nodes',
    ])
      assert.equal(isNondeterministic(sql), reason, sql);
    const result = compareRuns(
      'SELECT version()',
      run(col('_col0 varchar'), [['470']]),
      run(col('_col0 varchar'), [['476']]),
      OPTIONS,
    );
    assert.deepEqual(
      [result.verdict, result.kind, result.reason],
      ['skipped', 'nondeterministic', `non-deterministic: ${reason}`],
    );
    for (const sql of [
      "SELECT 'version()'",
      'SELECT "version"(1) FROM t',
      'SELECT version FROM t',
      'SELECT node_version FROM nodes',
    ])
      assert.equal(isNondeterministic(sql), undefined, sql);
  });

  it('words inside strings, quoted identifiers and comments do not count, nor ORDER BY with LIMIT', () => {
    for (const sql of [
      "SELECT 'now()' AS x, 'limit 5' AS y",
      'SELECT "random"(1) FROM t',
      'SELECT "now" FROM t -- now() and LIMIT 1',
      'SELECT x /* random() */ FROM t',
      'SELECT * FROM t ORDER BY x LIMIT 10',
      'SELECT * FROM t LIMIT ALL',
      'SELECT * FROM (SELECT * FROM t ORDER BY x LIMIT 3) u',
      "SELECT 'it''s random()' FROM t",
    ]) {
      assert.equal(isNondeterministic(sql), undefined, sql);
    }
  });

  it('only an ORDER BY of the statement itself is top-level', () => {
    assert.equal(hasTopLevelOrderBy('SELECT * FROM t ORDER BY x'), true);
    assert.equal(hasTopLevelOrderBy('select a from t union all select b from u order by 1'), true);
    assert.equal(hasTopLevelOrderBy('SELECT * FROM (SELECT * FROM t ORDER BY x) u'), false);
    assert.equal(hasTopLevelOrderBy('SELECT row_number() OVER (ORDER BY x) FROM t'), false);
    assert.equal(hasTopLevelOrderBy('SELECT array_agg(x ORDER BY y) FROM t'), false);
    assert.equal(hasTopLevelOrderBy("SELECT 'ORDER BY x' FROM t"), false);
    assert.equal(hasTopLevelOrderBy('SELECT x FROM t -- ORDER BY x'), false);
    assert.equal(hasTopLevelOrderBy('WITH w AS (SELECT x FROM t ORDER BY x) SELECT x FROM w'), false);
  });

  it('blue timing out skips the query; green timing out where blue finished is a timeout mismatch', () => {
    const blue = run(ORDERS, ORDER_ROWS);
    const timedOut: ShadowRun = { rowCount: 0, truncated: false, timedOut: true, elapsedMs: 5_000 };
    assert.deepEqual(
      [compareRuns(UNORDERED, timedOut, blue, OPTIONS).verdict, compareRuns(UNORDERED, timedOut, blue, OPTIONS).kind],
      ['skipped', 'timeout'],
    );
    const green = compareRuns(UNORDERED, blue, timedOut, OPTIONS);
    assert.deepEqual([green.verdict, green.kind], ['mismatch', 'timeout']);
  });

  it('results past the row cap: one side only is a rowCount mismatch, both unordered is skipped, both ordered compares the first rows', () => {
    const columns = col('x integer');
    const capped = (rows: unknown[][]): ShadowRun => run(columns, rows, { truncated: true });
    const first = [[1], [2], [3]];
    const oneSide = compareRuns('SELECT x FROM t', capped(first), run(columns, first), OPTIONS);
    assert.deepEqual([oneSide.verdict, oneSide.kind], ['mismatch', 'rowCount']);
    const unordered = compareRuns('SELECT x FROM t', capped(first), capped([[4], [5], [6]]), OPTIONS);
    assert.deepEqual([unordered.verdict, unordered.kind], ['skipped', 'truncated']);
    assert.equal(compareRuns('SELECT x FROM t ORDER BY x', capped(first), capped(first), OPTIONS).verdict, 'match');
    assert.equal(
      compareRuns('SELECT x FROM t ORDER BY x', capped(first), capped([[1], [2], [4]]), OPTIONS).verdict,
      'mismatch',
    );
  });

  it('a matching result is slow when green takes more than maxLatencyRatio times blue, short queries count from the floor', () => {
    const options = { ...OPTIONS, maxLatencyRatio: 2 };
    const blue = run(ORDERS, ORDER_ROWS, { elapsedMs: 400 });
    const slow = compareRuns(UNORDERED, blue, run(ORDERS, ORDER_ROWS, { elapsedMs: 1_000 }), options);
    assert.deepEqual([slow.verdict, slow.kind, slow.latencyRatio], ['slow', 'latency', 2.5]);
    const fine = compareRuns(UNORDERED, blue, run(ORDERS, ORDER_ROWS, { elapsedMs: 700 }), options);
    assert.deepEqual([fine.verdict, fine.latencyRatio], ['match', 1.75]);
    const short = compareRuns(
      UNORDERED,
      run(ORDERS, ORDER_ROWS, { elapsedMs: 4 }),
      run(ORDERS, ORDER_ROWS, { elapsedMs: 60 }),
      options,
    );
    assert.deepEqual([short.verdict, short.latencyRatio], ['match', 1]);
    const mismatch = compareRuns(UNORDERED, blue, run(ORDERS, ORDER_ROWS.slice(1), { elapsedMs: 4_000 }), options);
    assert.equal(mismatch.verdict, 'mismatch', 'a wrong result is a mismatch, not merely slow');
  });

  it('checksums ignore row order unless ordered, count duplicates, and see NULL, types of JSON value and map key order', () => {
    const columns = col('a integer, b varchar');
    const rows = [
      [1, 'x'],
      [2, null],
    ];
    assert.equal(checksumRows(columns, rows, false), checksumRows(columns, [...rows].reverse(), false));
    assert.notEqual(checksumRows(columns, rows, true), checksumRows(columns, [...rows].reverse(), true));
    assert.notEqual(
      checksumRows(
        columns,
        [
          [1, 'x'],
          [1, 'x'],
        ],
        false,
      ),
      checksumRows(columns, [[1, 'x']], false),
    );
    assert.notEqual(
      checksumRows(
        columns,
        [
          [1, 'x'],
          [1, 'x'],
        ],
        false,
      ),
      checksumRows(
        columns,
        [
          [2, 'y'],
          [2, 'y'],
        ],
        false,
      ),
    );
    assert.notEqual(checksumRows(columns, [[1, null]], false), checksumRows(columns, [[1, 'null']], false));
    assert.notEqual(checksumRows(columns, [[1, 'x']], false), checksumRows(columns, [['1', 'x']], false));
    const maps = col('m map(varchar,integer)');
    assert.equal(checksumRows(maps, [[{ a: 1, b: 2 }]], false), checksumRows(maps, [[{ b: 2, a: 1 }]], false));
  });
});
