/**
 * Canary selectors: which traffic the canary's hash-of-user share applies to (plan
 * `canary.selector`). Each selector part becomes one MVEL clause of the one FILE routing rule
 * cutover owns, read by the real Trino Gateway (release 20): headers through
 * `request.getHeader`, query shape through `trinoQueryProperties` (set only with
 * `requestAnalyzerConfig.analyzeRequest: true`), the time window through fully qualified
 * `java.time` classes (the gateway's MVEL context imports `java.util` and some `java.lang`
 * classes, not `java.time`). Pure functions: the workflow, the activities and the sandbox use them.
 */

/** Trino's resource-group query types, as the gateway's analyzer (`getResourceGroupQueryType`) and `/v1/query` name them. */
export const QUERY_TYPES = [
  'SELECT',
  'EXPLAIN',
  'DESCRIBE',
  'INSERT',
  'UPDATE',
  'DELETE',
  'MERGE',
  'ANALYZE',
  'DATA_DEFINITION',
  'ALTER_TABLE_EXECUTE',
] as const;
export type QueryType = (typeof QUERY_TYPES)[number];

/** A daily window in a time zone; `from` after `to` wraps midnight. */
export interface TimeWindow {
  /** `HH:MM`, inclusive. */
  from: string;
  /** `HH:MM`, exclusive. */
  to: string;
  /** An IANA region id (`Europe/Berlin`) or `UTC`. */
  timeZone: string;
}

/** The traffic a canary's share applies to; every part given must match (absent parts match everything). */
export interface CanarySelector {
  /** `X-Trino-User` is one of these. */
  users?: string[];
  /** `X-Trino-User` matches this Java regular expression as a whole (`String.matches`). */
  userPattern?: string;
  /** `X-Trino-Source` is one of `include` (when given) and none of `exclude`. */
  source?: { include?: string[]; exclude?: string[] };
  /** `X-Trino-Client-Tags` (comma-separated) carries every one of these. */
  clientTags?: string[];
  /** The statement's query type (request analyzer) is one of these. */
  queryTypes?: QueryType[];
  /** The statement names a table of one of these catalogs (request analyzer). */
  catalogs?: string[];
  /** The statement names a table of one of these `catalog.schema` (request analyzer). */
  schemas?: string[];
  /** The rule matches only inside this daily window. */
  timeWindow?: TimeWindow;
}

export const USER_HEADER = 'X-Trino-User';
export const SOURCE_HEADER = 'X-Trino-Source';
export const CLIENT_TAGS_HEADER = 'X-Trino-Client-Tags';
/** The MVEL variable the gateway's request analyzer sets (absent without it: evaluating it fails). */
export const QUERY_PROPERTIES_VARIABLE = 'trinoQueryProperties';

const SECONDS_PER_DAY = 86_400;

/** A Java string literal; callers' values carry no `"`, `\` or control characters (plan validation). */
export function javaString(value: string): string {
  return `"${value}"`;
}

const header = (name: string) => `request.getHeader(${javaString(name)})`;

/** `("a".equals(X) || "b".equals(X))`. */
function oneOf(values: readonly string[], subject: string): string {
  return `(${values.map((value) => `${javaString(value)}.equals(${subject})`).join(' || ')})`;
}

function setContainsAny(values: readonly string[], getter: string): string {
  return `(${values.map((value) => `${QUERY_PROPERTIES_VARIABLE}.${getter}().contains(${javaString(value)})`).join(' || ')})`;
}

/** Seconds since midnight of `HH:MM`. */
export function secondsOfDay(time: string): number {
  const [hours, minutes] = time.split(':').map(Number);
  return hours * 3600 + minutes * 60;
}

/** The window as an offset from `from` and a length, both in seconds; the test is `floorMod(now - from, day) < length`. */
function windowSpan(window: TimeWindow): { from: number; length: number } {
  const from = secondsOfDay(window.from);
  const length = (((secondsOfDay(window.to) - from) % SECONDS_PER_DAY) + SECONDS_PER_DAY) % SECONDS_PER_DAY;
  return { from, length };
}

/** The MVEL clauses of a selector, in a fixed order; each is wrapped in parentheses when joined. */
export function selectorClauses(selector: CanarySelector): string[] {
  const clauses: string[] = [];
  if (selector.users) clauses.push(oneOf(selector.users, header(USER_HEADER)));
  if (selector.userPattern) clauses.push(`${header(USER_HEADER)}.matches(${javaString(selector.userPattern)})`);
  if (selector.source?.include) clauses.push(oneOf(selector.source.include, header(SOURCE_HEADER)));
  if (selector.source?.exclude) clauses.push(`!${oneOf(selector.source.exclude, header(SOURCE_HEADER))}`);
  if (selector.clientTags) {
    const tags = `("," + ${header(CLIENT_TAGS_HEADER)}.replace(" ", "") + ",")`;
    clauses.push(
      [
        `${header(CLIENT_TAGS_HEADER)} != null`,
        ...selector.clientTags.map((tag) => `${tags}.contains(",${tag},")`),
      ].join(' && '),
    );
  }
  if (selector.queryTypes)
    clauses.push(oneOf(selector.queryTypes, `${QUERY_PROPERTIES_VARIABLE}.getResourceGroupQueryType()`));
  if (selector.catalogs) clauses.push(setContainsAny(selector.catalogs, 'getCatalogs'));
  if (selector.schemas) clauses.push(setContainsAny(selector.schemas, 'getCatalogSchemas'));
  if (selector.timeWindow) {
    const { from, length } = windowSpan(selector.timeWindow);
    const now = `java.time.LocalTime.now(java.time.ZoneId.of(${javaString(selector.timeWindow.timeZone)})).toSecondOfDay()`;
    clauses.push(`Math.floorMod(${now} - ${from}, ${SECONDS_PER_DAY}) < ${length}`);
  }
  return clauses;
}

/**
 * The daily window from `fromMinutes` to `toMinutes` around the time of day of `at` in
 * `timeZone` (negative: before it), as `HH:MM` (wrapping midnight when it must).
 */
export function windowAround(at: number, fromMinutes: number, toMinutes: number, timeZone = 'UTC'): TimeWindow {
  const minutes = Math.floor(secondsOfDayIn(timeZone, at) / 60);
  const hhmm = (m: number) => {
    const wrapped = ((m % 1440) + 1440) % 1440;
    return `${String(Math.floor(wrapped / 60)).padStart(2, '0')}:${String(wrapped % 60).padStart(2, '0')}`;
  };
  return { from: hhmm(minutes + fromMinutes), to: hhmm(minutes + toMinutes), timeZone };
}

/** True when the selector reads the query's shape, which needs the gateway's request analyzer. */
export function needsRequestAnalyzer(selector: CanarySelector | undefined): boolean {
  return selector?.queryTypes !== undefined || selector?.catalogs !== undefined || selector?.schemas !== undefined;
}

/** Seconds since midnight at `at` in `timeZone` (what `LocalTime.now(ZoneId.of(zone)).toSecondOfDay()` gives). */
export function secondsOfDayIn(timeZone: string, at: number): number {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    hourCycle: 'h23',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(at);
  const part = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return part('hour') * 3600 + part('minute') * 60 + part('second');
}

/** True when `at` (epoch ms) falls inside the daily window, as the rule's clause decides it. */
export function inTimeWindow(window: TimeWindow, at: number): boolean {
  const { from, length } = windowSpan(window);
  return inDailySpan(window.timeZone, from, length, at);
}

/** The rule's clause: `Math.floorMod(secondsOfDay(now) - from, 86400) < length`. */
export function inDailySpan(timeZone: string, fromSeconds: number, lengthSeconds: number, at: number): boolean {
  const sinceFrom = secondsOfDayIn(timeZone, at) - fromSeconds;
  return ((sinceFrom % SECONDS_PER_DAY) + SECONDS_PER_DAY) % SECONDS_PER_DAY < lengthSeconds;
}

const list = (values: readonly string[], last = 'or') =>
  values.length === 1 ? values[0] : `${values.slice(0, -1).join(', ')} ${last} ${values.at(-1)}`;

/** The selected traffic in words, e.g. `SELECT queries from superset, 22:00-06:00 Europe/Berlin`. */
export function describeSelector(selector: CanarySelector): string {
  const what = selector.queryTypes ? `${list(selector.queryTypes)} queries` : 'queries';
  const parts: string[] = [];
  if (selector.users) parts.push(`of ${selector.users.length === 1 ? 'user' : 'users'} ${list(selector.users)}`);
  if (selector.userPattern) parts.push(`of users matching ${selector.userPattern}`);
  if (selector.source?.include) parts.push(`from ${list(selector.source.include)}`);
  if (selector.source?.exclude) parts.push(`not from ${list(selector.source.exclude, 'nor')}`);
  if (selector.clientTags) parts.push(`tagged ${list(selector.clientTags, 'and')}`);
  if (selector.catalogs) parts.push(`reading catalog ${list(selector.catalogs)}`);
  if (selector.schemas) parts.push(`reading schema ${list(selector.schemas)}`);
  const window = selector.timeWindow
    ? `, ${selector.timeWindow.from}-${selector.timeWindow.to} ${selector.timeWindow.timeZone}`
    : '';
  return `${[what, ...parts].join(' ')}${window}`;
}

/**
 * The share in words, e.g. `10% of SELECT queries from superset, 22:00-06:00 Europe/Berlin` (the
 * share is by hash of X-Trino-User within the selected traffic).
 */
export function describeSelection(percent: number, selector: CanarySelector): string {
  return `${percent}% of ${describeSelector(selector)}`;
}
