import { lstat, open, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';

/** Largest query file the worker reads. */
export const MAX_QUERY_FILE_BYTES = 1024 * 1024;

/** One statement of a query file, and who runs it. */
export interface FileStatement {
  sql: string;
  /** From a `-- user: NAME` line of the statement; absent: the worker's Trino user. */
  user?: string;
}

/** Why a query file was not read: the activity reports it as a non-retryable failure. */
export class QueryFileRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueryFileRefused';
  }
}

const USER_LINE = /^\s*--\s*user:\s*(\S+)\s*$/i;

/**
 * Splits a query file into statements at `;` outside strings, quoted identifiers and comments.
 * A line `-- user: NAME` inside a statement (usually its first) says who runs it and is not sent;
 * statements that hold nothing but comments and blanks are dropped.
 */
export function splitQueryFile(text: string): FileStatement[] {
  const statements: FileStatement[] = [];
  let start = 0;
  const flush = (end: number) => {
    const lines = text.slice(start, end).split('\n');
    start = end + 1;
    const user = lines.map((line) => USER_LINE.exec(line)?.[1]).find((name) => name !== undefined);
    // The `-- user:` line says who runs the statement; it is not sent.
    const chunk = lines.filter((line) => !USER_LINE.test(line)).join('\n');
    const sql = withoutComments(chunk).trim() === '' ? '' : chunk.trim();
    if (sql) statements.push(user ? { sql, user } : { sql });
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '-' && text[i + 1] === '-') {
      const end = text.indexOf('\n', i);
      i = end === -1 ? text.length : end;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end === -1 ? text.length : end + 1;
    } else if (c === "'" || c === '"') {
      i = quoteEnd(text, i);
    } else if (c === ';') {
      flush(i);
    }
  }
  flush(text.length);
  return statements;
}

/** Index of the quote closing the string or identifier opened at `from` (a doubled quote is the quote itself). */
function quoteEnd(text: string, from: number): number {
  const quote = text[from];
  for (let j = from + 1; ;) {
    const end = text.indexOf(quote, j);
    if (end === -1) return text.length;
    if (text[end + 1] !== quote) return end;
    j = end + 2;
  }
}

function withoutComments(chunk: string): string {
  return chunk.replace(/--[^\n]*/g, '').replace(/\/\*[\s\S]*?\*\//g, '');
}

/**
 * Reads `name` from `directory` and nowhere else: the name must be relative and stay inside the
 * directory once every symbolic link is resolved; a regular file of at most MAX_QUERY_FILE_BYTES.
 */
export async function readQueryFile(directory: string, name: string): Promise<string> {
  if (isAbsolute(name) || name.split(/[/\\]/).includes('..'))
    throw new QueryFileRefused(`query file ${name}: must be a name inside the worker's query directory`);
  let root: string;
  let path: string;
  try {
    root = await realpath(directory);
    path = await realpath(join(root, name));
  } catch (error) {
    throw new QueryFileRefused(`query file ${name} cannot be read in ${directory}: ${(error as Error).message}`);
  }
  const inside = relative(root, path);
  if (inside === '' || inside.startsWith(`..${sep}`) || inside === '..' || isAbsolute(inside))
    throw new QueryFileRefused(`query file ${name} leaves the worker's query directory ${directory}`);
  if (!(await lstat(path)).isFile()) throw new QueryFileRefused(`query file ${name} is not a regular file`);
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    if (size > MAX_QUERY_FILE_BYTES)
      throw new QueryFileRefused(`query file ${name} has ${size} bytes; at most ${MAX_QUERY_FILE_BYTES} are read`);
    return await file.readFile('utf8');
  } finally {
    await file.close();
  }
}
