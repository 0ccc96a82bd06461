/**
 * Whether a SQL text may run as a smoke query: one statement that only reads. A lexical check
 * that follows Trino's grammar (core/trino-grammar SqlBase.g4) as far as it decides that; refusing
 * is always safe, so whatever it cannot read is refused.
 */

/** Statement kinds a smoke query may be, in the words of the messages. */
export const READ_ONLY_KINDS = ['SELECT', 'WITH', 'VALUES', 'SHOW', 'DESCRIBE', 'EXPLAIN'] as const;

export type ReadOnlyVerdict =
  /** `statement` is the text to send: trailing semicolons dropped (Trino's protocol takes one statement without them). */
  { readOnly: true; statement: string } | { readOnly: false; reason: string };

interface Token {
  kind: 'word' | 'quoted' | 'string' | 'number' | 'symbol';
  /** Upper-cased for words, the identifier without its quotes for quoted ones. */
  text: string;
  end: number;
}

const MUST_BE = `must be read-only (${READ_ONLY_KINDS.join(', ')})`;
const QUOTE_LENGTH = 80;
/** Statement starts Trino reads as a query (plus SHOW/DESCRIBE/DESC, which only read metadata). */
const READ_ONLY_STARTS = new Set(['SELECT', 'VALUES', 'SHOW', 'DESCRIBE', 'DESC']);
/** What the query after a WITH clause, or inside a named query, may start with (`queryPrimary`). */
const QUERY_STARTS = new Set(['SELECT', 'VALUES', 'TABLE']);
/**
 * Polymorphic table functions that hand their text to the connector's own database unchecked
 * (`TABLE(postgresql.system.query(query => '...'))`): that text may write.
 */
const PASS_THROUGH_FUNCTIONS = new Set(['query']);

/** Decides whether `sql` may run as a smoke query; the reason names the statement when it may not. */
export function checkReadOnly(sql: string): ReadOnlyVerdict {
  const lexed = tokenize(sql);
  if (typeof lexed === 'string') return { readOnly: false, reason: `is not a complete statement: ${lexed}` };
  const { tokens: all, code } = lexed;
  const semicolon = all.findIndex((token) => isSymbol(token, ';'));
  const tokens = semicolon === -1 ? all : all.slice(0, semicolon);
  const after = semicolon === -1 ? [] : all.slice(semicolon + 1);
  if (after.some((token) => !isSymbol(token, ';'))) {
    return { readOnly: false, reason: `must be a single statement; ${quote(code)} has another one after a ";"` };
  }
  if (tokens.length === 0) return { readOnly: false, reason: 'must be a SQL statement (it is empty or only comments)' };
  const problem = statementProblem(tokens, 0) ?? passThroughProblem(tokens);
  if (problem !== undefined) return { readOnly: false, reason: `${MUST_BE}; ${quote(code)} ${problem}` };
  return { readOnly: true, statement: semicolon === -1 ? sql : sql.slice(0, tokens[tokens.length - 1].end) };
}

/** Why the statement starting at `from` is not read-only, or undefined when it is. */
function statementProblem(tokens: Token[], from: number): string | undefined {
  const i = skipOpenParens(tokens, from);
  const first = tokens[i];
  if (first?.kind !== 'word') return 'is not';
  if (READ_ONLY_STARTS.has(first.text)) return undefined;
  if (first.text === 'WITH') return withProblem(tokens, i);
  if (first.text === 'EXPLAIN') {
    // EXPLAIN only plans; EXPLAIN ANALYZE [VERBOSE] runs what it explains.
    if (!isWord(tokens[i + 1], 'ANALYZE')) return undefined;
    const inner = isWord(tokens[i + 2], 'VERBOSE') ? i + 3 : i + 2;
    if (statementProblem(tokens, inner) === undefined) return undefined;
    return `runs ${describe(tokens, inner)}, which is not read-only (EXPLAIN ANALYZE executes the statement)`;
  }
  return 'is not';
}

/** `WITH [RECURSIVE] name [(columns)] AS (query), ... query`: the query after the clause must be a query. */
function withProblem(tokens: Token[], withAt: number): string | undefined {
  let i = withAt + 1;
  // WITH FUNCTION / WITH SESSION (Trino's queryScoped), unless a named query is called so.
  if ((isWord(tokens[i], 'FUNCTION') || isWord(tokens[i], 'SESSION')) && isName(tokens[i + 1])) {
    return 'declares inline functions or session properties (WITH FUNCTION, WITH SESSION), which smoke queries may not';
  }
  if (isWord(tokens[i], 'RECURSIVE') && isName(tokens[i + 1])) i += 1;
  for (;;) {
    if (!isName(tokens[i])) return 'has a WITH clause that cannot be read';
    i += 1;
    if (isSymbol(tokens[i], '(')) i = afterClosingParen(tokens, i);
    if (!isWord(tokens[i], 'AS') || !isSymbol(tokens[i + 1], '(')) return 'has a WITH clause that cannot be read';
    const body = skipOpenParens(tokens, i + 1);
    if (!startsQuery(tokens, body)) return `has a named query that is ${describe(tokens, body)}, not a query`;
    const nested = isWord(tokens[body], 'WITH') ? withProblem(tokens, body) : undefined;
    if (nested !== undefined) return nested;
    i = afterClosingParen(tokens, i + 1);
    if (i === -1) return 'has unbalanced parentheses';
    if (!isSymbol(tokens[i], ',')) break;
    i += 1;
  }
  const main = skipOpenParens(tokens, i);
  if (tokens[main]?.kind !== 'word' || !QUERY_STARTS.has(tokens[main].text)) {
    return `leads its WITH clause into ${describe(tokens, main)}, not into a query (SELECT, VALUES, TABLE)`;
  }
  return undefined;
}

/** `TABLE(catalog.system.query(...))` anywhere in the statement. */
function passThroughProblem(tokens: Token[]): string | undefined {
  for (let i = 0; i < tokens.length; i++) {
    if (!isWord(tokens[i], 'TABLE') || !isSymbol(tokens[i + 1], '(')) continue;
    let j = i + 2;
    const name: string[] = [];
    while (isName(tokens[j])) {
      name.push(tokens[j].text.toLowerCase());
      if (!isSymbol(tokens[j + 1], '.')) break;
      j += 2;
    }
    if (isSymbol(tokens[j + 1], '(') && PASS_THROUGH_FUNCTIONS.has(name[name.length - 1])) {
      return `calls the table function ${name.join('.')}, which passes its text to another database unchecked`;
    }
  }
  return undefined;
}

function startsQuery(tokens: Token[], i: number): boolean {
  const token = tokens[i];
  return token?.kind === 'word' && (QUERY_STARTS.has(token.text) || token.text === 'WITH');
}

function skipOpenParens(tokens: Token[], i: number): number {
  while (isSymbol(tokens[i], '(')) i += 1;
  return i;
}

/** Index after the parenthesis that closes the one at `open`, or -1 when it is never closed. */
function afterClosingParen(tokens: Token[], open: number): number {
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    if (isSymbol(tokens[i], '(')) depth += 1;
    else if (isSymbol(tokens[i], ')') && --depth === 0) return i + 1;
  }
  return -1;
}

/** The statement kind at `i` for messages: `DELETE`, `INSERT INTO`, `CREATE TABLE`... */
function describe(tokens: Token[], i: number): string {
  const words = tokens.slice(i, i + 2).filter((token) => token.kind === 'word');
  if (words.length === 0) return 'something else';
  return words[0].text === 'CREATE' || words[0].text === 'INSERT' || words[0].text === 'DROP'
    ? words.map((word) => word.text).join(' ')
    : words[0].text;
}

function isWord(token: Token | undefined, text: string): boolean {
  return token?.kind === 'word' && token.text === text;
}

function isName(token: Token | undefined): token is Token {
  return token !== undefined && (token.kind === 'word' || token.kind === 'quoted') && token.text !== 'AS';
}

function isSymbol(token: Token | undefined, text: string): boolean {
  return token?.kind === 'symbol' && token.text === text;
}

/** The statement without comments, on one line, shortened, in double quotes. */
function quote(sql: string): string {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return `"${flat.length > QUOTE_LENGTH ? `${flat.slice(0, QUOTE_LENGTH)}…` : flat}"`;
}

const WORD = /[\p{L}_][\p{L}\p{N}_]*/uy;
const NUMBER = /\.?\d[\p{L}\p{N}_.]*/uy;

/**
 * Trino's lexer, as far as statement boundaries need it: comments (`--`, non-nested `/* *\/`)
 * dropped, string literals ('' escapes) and quoted identifiers ("" or `` escapes) kept whole, so
 * that a `;` inside them is not a statement end. Gives the tokens and the text with every comment
 * blanked out, or says what is never closed.
 */
function tokenize(sql: string): { tokens: Token[]; code: string } | string {
  const tokens: Token[] = [];
  let code = '';
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    if (/\s/.test(c)) {
      code += c;
      i += 1;
    } else if (sql.startsWith('--', i)) {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end + 1;
      code += ' ';
    } else if (sql.startsWith('/*', i)) {
      const end = sql.indexOf('*/', i + 2);
      if (end === -1) return 'a /* comment is never closed';
      i = end + 2;
      code += ' ';
    } else if (c === "'" || c === '"' || c === '`') {
      const end = closingQuote(sql, i);
      if (end === -1) return c === "'" ? 'a string literal is never closed' : 'a quoted identifier is never closed';
      const inner = sql.slice(i + 1, end).replaceAll(c + c, c);
      tokens.push({ kind: c === "'" ? 'string' : 'quoted', text: inner, end: end + 1 });
      code += sql.slice(i, end + 1);
      i = end + 1;
    } else {
      WORD.lastIndex = i;
      NUMBER.lastIndex = i;
      const word = WORD.exec(sql);
      const number = word ? null : NUMBER.exec(sql);
      if (word) tokens.push({ kind: 'word', text: word[0].toUpperCase(), end: WORD.lastIndex });
      else if (number) tokens.push({ kind: 'number', text: number[0], end: NUMBER.lastIndex });
      else tokens.push({ kind: 'symbol', text: c, end: i + 1 });
      code += sql.slice(i, tokens[tokens.length - 1].end);
      i = tokens[tokens.length - 1].end;
    }
  }
  return { tokens, code };
}

/** Index of the quote that closes the one at `open` (a doubled quote is an escaped one), or -1. */
function closingQuote(sql: string, open: number): number {
  const q = sql[open];
  for (let i = open + 1; i < sql.length; i++) {
    if (sql[i] !== q) continue;
    if (sql[i + 1] === q) i += 1;
    else return i;
  }
  return -1;
}
