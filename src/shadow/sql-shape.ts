/**
 * Just enough SQL lexing to tell how a query's result may be compared: whether it has a top-level
 * ORDER BY, and whether it is non-deterministic (or differs between blue and green by design).
 * Strings, quoted identifiers and comments are skipped, parentheses tracked; nothing is parsed
 * beyond keywords and function names.
 */

interface Token {
  kind: 'word' | 'open' | 'close' | 'other';
  /** Lower-cased for words. */
  text: string;
}

/** Functions whose value changes between runs (Trino: now, random, rand, uuid, shuffle). */
const VOLATILE_FUNCTIONS = new Set(['now', 'random', 'rand', 'uuid', 'shuffle']);
/** Special forms of the current time, written without parentheses. */
const CURRENT_TIME = new Set(['current_timestamp', 'current_date', 'current_time', 'localtime', 'localtimestamp']);
/** Functions that answer the cluster's own release: blue and green differ by design, not by a regression. */
const RELEASE_FUNCTIONS = new Set(['version']);

function* tokens(sql: string): Generator<Token> {
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end === -1 ? sql.length : end + 2;
    } else if (c === "'" || c === '"') {
      // '' inside a string and "" inside an identifier are the quote itself.
      let j = i + 1;
      for (;;) {
        const end = sql.indexOf(c, j);
        if (end === -1) {
          j = sql.length;
          break;
        }
        if (sql[end + 1] === c) {
          j = end + 2;
          continue;
        }
        j = end + 1;
        break;
      }
      yield { kind: 'other', text: c };
      i = j;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < sql.length && /[A-Za-z0-9_@$]/.test(sql[j])) j += 1;
      yield { kind: 'word', text: sql.slice(i, j).toLowerCase() };
      i = j;
    } else if (c === '(') {
      yield { kind: 'open', text: c };
      i += 1;
    } else if (c === ')') {
      yield { kind: 'close', text: c };
      i += 1;
    } else if (/\s/.test(c)) {
      i += 1;
    } else {
      yield { kind: 'other', text: c };
      i += 1;
    }
  }
}

/** What one parenthesised level (or the statement itself) contains. */
interface Level {
  orderBy: boolean;
  /** LIMIT n, OFFSET n or FETCH FIRST/NEXT: a subset of rows. */
  limit: boolean;
}

/** What the comparison needs to know about a statement. */
export interface SqlShape {
  /** The statement's own ORDER BY (not one inside parentheses: subqueries, windows, aggregates). */
  topLevelOrderBy: boolean;
  /** Why two runs may return different results, if they may (on one cluster, or on blue and green by design). */
  nondeterministic?: string;
}

/** Reads the shape of a statement; see SqlShape. */
export function sqlShape(sql: string): SqlShape {
  const levels: Level[] = [{ orderBy: false, limit: false }];
  const reasons: string[] = [];
  const note = (reason: string): void => {
    if (!reasons.includes(reason)) reasons.push(reason);
  };
  const closeLevel = (level: Level, where: string): void => {
    if (level.limit && !level.orderBy) note(`LIMIT without ORDER BY${where} returns any subset of the rows`);
  };
  const all = [...tokens(sql)];
  for (let i = 0; i < all.length; i += 1) {
    const token = all[i];
    const next = all[i + 1];
    const level = levels[levels.length - 1];
    if (token.kind === 'open') {
      levels.push({ orderBy: false, limit: false });
    } else if (token.kind === 'close') {
      if (levels.length > 1) closeLevel(levels.pop() as Level, ' in a subquery');
    } else if (token.kind === 'word') {
      const word = token.text;
      if (word === 'order' && next?.kind === 'word' && next.text === 'by') level.orderBy = true;
      else if (word === 'limit' && !(next?.kind === 'word' && next.text === 'all')) level.limit = true;
      else if (word === 'offset') level.limit = true;
      else if (word === 'fetch' && next?.kind === 'word' && (next.text === 'first' || next.text === 'next'))
        level.limit = true;
      else if (word === 'tablesample') note('TABLESAMPLE reads a random sample');
      else if (VOLATILE_FUNCTIONS.has(word) && next?.kind === 'open') note(`${word}() differs between runs`);
      else if (CURRENT_TIME.has(word)) note(`${word} differs between runs`);
      else if (RELEASE_FUNCTIONS.has(word) && next?.kind === 'open')
        note(`${word}() answers each cluster's own release`);
    }
  }
  closeLevel(levels[0], '');
  const shape: SqlShape = { topLevelOrderBy: levels[0].orderBy };
  if (reasons.length > 0) shape.nondeterministic = reasons.join('; ');
  return shape;
}

/** Whether the statement's result is ordered by the statement itself (a top-level ORDER BY). */
export function hasTopLevelOrderBy(sql: string): boolean {
  return sqlShape(sql).topLevelOrderBy;
}

/**
 * Why the statement may return different results on two runs (now(), current_timestamp and the
 * other current-time forms, random(), rand(), uuid(), shuffle(), LIMIT/OFFSET/FETCH without an
 * ORDER BY at its level, TABLESAMPLE), or returns each cluster's own answer (version(): blue and
 * green are different releases); undefined when nothing in its text says so.
 */
export function isNondeterministic(sql: string): string | undefined {
  return sqlShape(sql).nondeterministic;
}
