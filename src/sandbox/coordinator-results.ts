import type { InjectedError } from './coordinator-queries';

/** A result column as Trino's client protocol describes it. */
export interface ResultColumn {
  name: string;
  type: string;
  typeSignature: { rawType: string; arguments: unknown[] };
}

/** Columns, rows, or the error both clusters fail a statement with. */
export interface SimulatedResult {
  columns: ResultColumn[];
  rows: unknown[][];
  error?: InjectedError & { message: string };
}

/**
 * How the `resultChanges` fault alters a result: `rows` changes one value of the middle row,
 * `rowCount` drops the last row, `type` changes the first column's type, `float` moves every value
 * of the first double or real column by one part in a million, `unstable` changes one value of the
 * middle row differently on every run (a table written meanwhile: two runs on one cluster differ).
 */
export type ResultChangeKind = 'rows' | 'rowCount' | 'type' | 'float' | 'unstable';

/** Runs of `unstable` results so far: each one's changed value differs from every other's. */
let unstableRuns = 0;

/** Query texts of the shapes the sandbox answers with real rows, for shadow validation (`sandbox.shadow.orders`). */
export const SHADOW_SAMPLE_QUERIES = {
  /** Every scalar kind (bigint, varchar with a NULL, decimal, double, real), no ORDER BY. */
  orders: 'SELECT id, customer, amount, price, ratio, note FROM sandbox.shadow.orders',
  /** A top-level ORDER BY: the rows come in the same order from every cluster. */
  ordered: 'SELECT id, customer, amount FROM sandbox.shadow.orders ORDER BY amount DESC, id',
  /** Aggregates: a decimal sum, a count and a double average summed in a cluster-dependent order. */
  totals:
    'SELECT customer, count(*) AS orders, sum(amount) AS total, avg(price) AS avg_price FROM sandbox.shadow.orders GROUP BY customer',
  /** ARRAY, MAP and ROW values. */
  nested: 'SELECT id, tags, attrs, ship FROM sandbox.shadow.orders',
  /** LIMIT without ORDER BY: which rows come back depends on the cluster. */
  limited: 'SELECT id, customer FROM sandbox.shadow.orders LIMIT 5',
  /** now() and random(): different on every run. */
  volatile: 'SELECT id, now() AS seen_at, random() AS r FROM sandbox.shadow.orders',
  /** Fails on every cluster with TABLE_NOT_FOUND. */
  missing: 'SELECT * FROM sandbox.shadow.missing',
} as const;

/**
 * A table whose single row depends on the coordinator's release (`sandbox.shadow.release_answer`):
 * the same on every run of one cluster, different between blue and green, as the result of a
 * function that changed in a Trino upgrade. Unlike version(), which shadow validation skips, it is
 * compared, and reported as a rows mismatch.
 */
export const RELEASE_ANSWER_QUERY = 'SELECT answer FROM sandbox.shadow.release_answer';

const CUSTOMERS = ['alice', 'bob', 'carol', null, 'erin'] as const;
const CITIES = ['Oslo', 'Lyon', 'Porto', 'Graz'] as const;
const ORDER_COUNT = 24;

interface Order {
  id: number;
  customer: string | null;
  /** Cents, so that decimal text and sums stay exact. */
  cents: number;
  price: number;
  ratio: number;
  note: string | null;
  tags: string[];
  attrs: Record<string, number>;
  ship: [string, string];
}

/** Real's float32 rounding, as Trino sends REAL values. */
const toReal = (value: number): number => Math.fround(value);

const ORDERS: readonly Order[] = Array.from({ length: ORDER_COUNT }, (_, i) => {
  const id = i + 1;
  return {
    id,
    customer: CUSTOMERS[i % CUSTOMERS.length],
    cents: ((id * 7919) % 100_000) + 5,
    price: id / 3 + id * 0.1,
    ratio: toReal(1 / (id + 2)),
    note: id % 4 === 0 ? null : `order #${id}`,
    tags: id % 3 === 0 ? [] : ['tag-a', `tag-${id % 5}`],
    attrs: { weight: id * 3, priority: id % 3 },
    ship: [CITIES[id % CITIES.length], String(1000 + id * 37)],
  };
});

function column(name: string, type: string, args: unknown[] = []): ResultColumn {
  return { name, type, typeSignature: { rawType: type.replace(/\(.*$/, ''), arguments: args } };
}

const decimalText = (cents: number): string => `${Math.trunc(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;

/** The same rows in a cluster-dependent order, as two Trino clusters return an unordered result. */
function rotate<T>(rows: readonly T[], seed: string): T[] {
  let hash = 0;
  for (const c of seed) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
  const by = hash % rows.length;
  return [...rows.slice(by), ...rows.slice(0, by)];
}

/**
 * The result of a statement of one of SHADOW_SAMPLE_QUERIES or RELEASE_ANSWER_QUERY (matched on
 * normalized text) on a coordinator whose version is `seed`; undefined for others.
 */
export function shadowSampleResult(normalizedSql: string, seed: string): SimulatedResult | undefined {
  if (normalizedSql === normalizeForMatch(RELEASE_ANSWER_QUERY))
    return { columns: [column('answer', 'varchar')], rows: [[`release ${seed}`]] };
  const shapes: Record<string, () => SimulatedResult> = {
    orders: () => ({
      columns: [
        column('id', 'bigint'),
        column('customer', 'varchar'),
        column('amount', 'decimal(12,2)'),
        column('price', 'double'),
        column('ratio', 'real'),
        column('note', 'varchar'),
      ],
      rows: rotate(ORDERS, seed).map((o) => [o.id, o.customer, decimalText(o.cents), o.price, o.ratio, o.note]),
    }),
    ordered: () => ({
      columns: [column('id', 'bigint'), column('customer', 'varchar'), column('amount', 'decimal(12,2)')],
      rows: [...ORDERS]
        .sort((a, b) => b.cents - a.cents || a.id - b.id)
        .map((o) => [o.id, o.customer, decimalText(o.cents)]),
    }),
    totals: () => {
      const groups = new Map<string | null, Order[]>();
      for (const order of rotate(ORDERS, seed))
        groups.set(order.customer, [...(groups.get(order.customer) ?? []), order]);
      return {
        columns: [
          column('customer', 'varchar'),
          column('orders', 'bigint'),
          column('total', 'decimal(38,2)'),
          column('avg_price', 'double'),
        ],
        rows: rotate([...groups.entries()], seed).map(([customer, orders]) => [
          customer,
          orders.length,
          decimalText(orders.reduce((sum, o) => sum + o.cents, 0)),
          orders.reduce((sum, o) => sum + o.price, 0) / orders.length,
        ]),
      };
    },
    nested: () => ({
      columns: [
        column('id', 'bigint'),
        column('tags', 'array(varchar)'),
        column('attrs', 'map(varchar,integer)'),
        column('ship', 'row(city varchar,zip varchar)'),
      ],
      rows: rotate(ORDERS, seed).map((o) => [o.id, o.tags, o.attrs, o.ship]),
    }),
    limited: () => ({
      columns: [column('id', 'bigint'), column('customer', 'varchar')],
      rows: rotate(ORDERS, seed)
        .slice(0, 5)
        .map((o) => [o.id, o.customer]),
    }),
    volatile: () => {
      const now = new Date().toISOString().replace('T', ' ').replace('Z', ' UTC');
      return {
        columns: [column('id', 'bigint'), column('seen_at', 'timestamp(3) with time zone'), column('r', 'double')],
        rows: ORDERS.map((o) => [o.id, now, Math.random()]),
      };
    },
    missing: () => ({
      columns: [],
      rows: [],
      error: {
        errorType: 'USER_ERROR',
        errorName: 'TABLE_NOT_FOUND',
        message: "line 1:15: Table 'sandbox.shadow.missing' does not exist",
      },
    }),
  };
  for (const [name, text] of Object.entries(SHADOW_SAMPLE_QUERIES)) {
    if (normalizeForMatch(text) === normalizedSql) return shapes[name]();
  }
  return undefined;
}

/** Lower-cased, comments and repeated blanks gone: how sample queries are recognised. */
export function normalizeForMatch(sql: string): string {
  return sql
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/--[^\n]*/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/;+$/, '')
    .trim()
    .toLowerCase();
}

const TYPE_CHANGES: Record<string, string> = {
  bigint: 'integer',
  integer: 'bigint',
  double: 'real',
  real: 'double',
  varchar: 'varchar(64)',
};

/** The result as the `resultChanges` fault makes a cluster return it; see ResultChangeKind. */
export function changeResult(result: SimulatedResult, change: ResultChangeKind): SimulatedResult {
  const rows = result.rows.map((row) => [...row]);
  const columns = [...result.columns];
  switch (change) {
    case 'rows':
    case 'unstable': {
      const row = rows[Math.floor(rows.length / 2)];
      if (row === undefined) break;
      const i = row.findIndex((value) => typeof value === 'string' || typeof value === 'number');
      const by = change === 'rows' ? 1 : ++unstableRuns;
      const label = change === 'rows' ? 'changed' : `run ${by}`;
      if (i !== -1) row[i] = typeof row[i] === 'string' ? `${row[i]} (${label})` : (row[i] as number) + by;
      break;
    }
    case 'rowCount':
      rows.pop();
      break;
    case 'type': {
      const first = columns[0];
      if (first === undefined) break;
      const decimal = /^decimal\((\d+),\s*(\d+)\)$/.exec(first.type);
      const type = decimal ? `decimal(38,${decimal[2]})` : (TYPE_CHANGES[first.type] ?? 'varchar');
      columns[0] = column(first.name, type);
      break;
    }
    case 'float': {
      const i = columns.findIndex((c) => c.type === 'double' || c.type === 'real');
      if (i === -1) break;
      const round = columns[i].type === 'real' ? toReal : (value: number): number => value;
      for (const row of rows) if (typeof row[i] === 'number') row[i] = round(row[i] * (1 + 1e-6));
      break;
    }
  }
  return { ...result, columns, rows };
}
