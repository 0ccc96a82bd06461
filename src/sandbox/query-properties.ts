/**
 * What the real gateway's request analyzer (TrinoQueryProperties, `requestAnalyzerConfig.
 * analyzeRequest: true`) makes of a statement, for simple statements: the resource-group query
 * type (StatementUtils.getResourceGroupQueryType) and the catalogs and `catalog.schema`s of the
 * tables it names, qualified with `X-Trino-Catalog` / `X-Trino-Schema`. The sandbox gateway's
 * rules and the sandbox coordinator's `/v1/query` (`queryType`) read it. Not a SQL parser: table
 * names are the identifiers after FROM, JOIN, INTO, UPDATE and TABLE, which is what simple
 * statements hold.
 */

/** The analyzer's view of one request. */
export interface QueryProperties {
  /** `getResourceGroupQueryType()`: SELECT, INSERT, ...; "" for no statement (a GET) or one it cannot parse. */
  resourceGroupQueryType: string;
  /** `getCatalogs()`. */
  catalogs: ReadonlySet<string>;
  /** `getCatalogSchemas()`: `catalog.schema`. */
  catalogSchemas: ReadonlySet<string>;
}

/** Session defaults that qualify table names. */
export interface SessionDefaults {
  catalog?: string;
  schema?: string;
}

/** The properties of a request that carries no statement (every GET, and POSTs with an empty body). */
export const NO_STATEMENT: QueryProperties = {
  resourceGroupQueryType: '',
  catalogs: new Set(),
  catalogSchemas: new Set(),
};

const DATA_DEFINITION = new Set([
  'CREATE',
  'DROP',
  'ALTER',
  'GRANT',
  'REVOKE',
  'DENY',
  'CALL',
  'COMMIT',
  'ROLLBACK',
  'START',
  'SET',
  'RESET',
  'USE',
  'PREPARE',
  'DEALLOCATE',
  'COMMENT',
  'TRUNCATE',
]);

/** The statement without comments, leading and trailing white space and a final `;`. */
function stripComments(sql: string): string {
  return sql
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/--[^\n]*/g, ' ')
    .trim()
    .replace(/;\s*$/, '');
}

/** The query type Trino (and the gateway's analyzer) gives a statement, "" when it is none it knows. */
export function queryTypeOf(sql: string): string {
  const text = stripComments(sql);
  const words = text.toUpperCase().split(/[\s(]+/);
  const [first, second] = words;
  if (text.startsWith('(')) return 'SELECT';
  switch (first) {
    case 'SELECT':
    case 'WITH':
    case 'VALUES':
    case 'TABLE':
      return 'SELECT';
    case 'EXPLAIN':
      return second === 'ANALYZE' ? queryTypeOf(text.replace(/^EXPLAIN\s+ANALYZE\s+(VERBOSE\s+)?/i, '')) : 'EXPLAIN';
    case 'SHOW':
    case 'DESCRIBE':
    case 'DESC':
      return 'DESCRIBE';
    case 'INSERT':
    case 'UPDATE':
    case 'DELETE':
    case 'MERGE':
    case 'ANALYZE':
      return first;
    case 'REFRESH':
      return second === 'MATERIALIZED' ? 'INSERT' : 'DATA_DEFINITION';
    case undefined:
    case '':
      return '';
  }
  if (first === 'CREATE' && second === 'TABLE' && /\)\s*AS\s|\sAS\s+(SELECT|WITH|VALUES|TABLE|\()/i.test(text))
    return 'INSERT';
  if (first === 'ALTER' && second === 'TABLE' && /\sEXECUTE\s/i.test(text)) return 'ALTER_TABLE_EXECUTE';
  return DATA_DEFINITION.has(first) ? 'DATA_DEFINITION' : '';
}

const PART = String.raw`(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`;
const NAME = new RegExp(
  String.raw`\b(?:FROM|JOIN|INTO|UPDATE|TABLE)\s+(${PART}(?:\s*\.\s*${PART}){0,2})(\s*\()?`,
  'gi',
);
const WITH_NAME = new RegExp(String.raw`(?:\bWITH\s+(?:RECURSIVE\s+)?|,\s*)(${PART})\s+AS\s*\(`, 'gi');

/** A name part as QualifiedName.getParts() gives it: unquoted and lower-cased. */
function unquote(part: string): string {
  return (part.startsWith('"') ? part.slice(1, -1).replace(/""/g, '"') : part).toLowerCase();
}

/** The analyzer's properties of a statement; an unqualified name without session defaults leaves the sets empty, as it does. */
export function analyzeStatement(sql: string, defaults: SessionDefaults = {}): QueryProperties {
  const text = stripComments(sql);
  const resourceGroupQueryType = queryTypeOf(text);
  if (resourceGroupQueryType === '') return NO_STATEMENT;
  const named = new Set([...text.matchAll(WITH_NAME)].map((match) => unquote(match[1])));
  const catalogs = new Set<string>();
  const catalogSchemas = new Set<string>();
  for (const match of text.matchAll(NAME)) {
    if (match[2]) continue; // a function call (UNNEST(...), TABLE(...)), not a table
    const parts = match[1].split(/\s*\.\s*/).map(unquote);
    if (parts.length === 1 && named.has(parts[0])) continue;
    const qualified =
      parts.length === 3
        ? parts
        : parts.length === 2
          ? [defaults.catalog, ...parts]
          : [defaults.catalog, defaults.schema, ...parts];
    const [catalog, schema] = qualified;
    // The analyzer stops at a name it cannot qualify ("Name not fully qualified"): no catalog at all.
    if (catalog === undefined || schema === undefined) return { ...NO_STATEMENT, resourceGroupQueryType };
    catalogs.add(catalog);
    catalogSchemas.add(`${catalog}.${schema}`);
  }
  return { resourceGroupQueryType, catalogs, catalogSchemas };
}
