import type { RoutingRule } from '../integrations/gateway/types';
import {
  CLIENT_TAGS_HEADER,
  inDailySpan,
  QUERY_PROPERTIES_VARIABLE,
  SOURCE_HEADER,
} from '../integrations/traffic/selector';
import type { QueryProperties } from './query-properties';

/**
 * Evaluator for the FILE routing rules the sandbox gateway understands. The real gateway runs any
 * MVEL expression; the sandbox accepts exactly the shapes cutover writes and refuses the rest at
 * load or update time, so a test can never pass on a rule the sandbox silently misread.
 */

/** A rule uses an expression outside the supported shapes, or is malformed. */
export class UnsupportedRoutingRuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedRoutingRuleError';
  }
}

/** A selector clause of cutover's canary rule (src/integrations/traffic/selector.ts). */
type Clause =
  | { kind: 'headerOneOf'; header: string; values: string[]; negated: boolean }
  | { kind: 'userMatches'; pattern: RegExp }
  | { kind: 'clientTags'; tags: string[] }
  | { kind: 'queryTypeOneOf'; values: string[] }
  | { kind: 'propertyContainsAny'; property: 'catalogs' | 'catalogSchemas'; values: string[] }
  | { kind: 'timeWindow'; timeZone: string; fromSeconds: number; lengthSeconds: number };

type Condition =
  { kind: 'always' } | { kind: 'groupHeaderPresent' } | { kind: 'userBucketBelow'; percent: number; clauses: Clause[] };
/**
 * `when`: the action of cutover's canary rule runs only when the group assigned so far (what
 * `result.get("routingGroup")` returns: the actions of the rules before it) is one of `groups`,
 * or none was assigned and `unassigned` is set.
 */
type Action =
  { kind: 'groupFromHeader' } | { kind: 'group'; group: string; when?: { groups: string[]; unassigned: boolean } };

/** A rule ready to evaluate. */
export interface CompiledRoutingRule {
  rule: RoutingRule;
  priority: number;
  condition: Condition;
  actions: Action[];
}

/** `request.getHeader(name)`: case-insensitive like a servlet request, undefined when absent. */
export type HeaderLookup = (name: string) => string | undefined;

/** What a rule sees of a request: its headers, the request analyzer's properties (when enabled), the clock. */
export interface RuleRequest {
  header: HeaderLookup;
  /** Absent when the gateway runs without `requestAnalyzerConfig.analyzeRequest`: the variable does not exist. */
  queryProperties?: QueryProperties;
  now: number;
}

/** Evaluating a rule failed, as MVEL fails on an unknown variable: the real gateway then answers 500. */
export class RuleEvaluationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RuleEvaluationError';
  }
}

const ROUTING_GROUP_HEADER = 'X-Trino-Routing-Group';
const USER_HEADER = 'X-Trino-User';
const SUPPORTED =
  `conditions \`true\`, \`request.getHeader("${ROUTING_GROUP_HEADER}") != null\`, ` +
  `\`request.getHeader("${USER_HEADER}") != null && Math.floorMod(request.getHeader("${USER_HEADER}").hashCode(), 100) < N\`, ` +
  'optionally followed by the selector clauses cutover writes (` && (...)`); ' +
  `actions \`result.put("routingGroup", "<group>")\`, \`result.put("routingGroup", request.getHeader("${ROUTING_GROUP_HEADER}"))\`, ` +
  '`if ([result.get("routingGroup") == null || ]"<group>".equals(result.get("routingGroup"))) { result.put("routingGroup", "<group>") }`';

/** Java's `String.hashCode()`: 31-based polynomial over UTF-16 code units in 32-bit signed arithmetic. */
export function javaStringHashCode(value: string): number {
  let hash = 0;
  for (let i = 0; i < value.length; i++) hash = (Math.imul(hash, 31) + value.charCodeAt(i)) | 0;
  return hash;
}

/** Java's `Math.floorMod(x, y)`: the remainder with the sign of the divisor. */
export function javaFloorMod(x: number, y: number): number {
  return ((x % y) + y) % y;
}

/** A Java string literal in MVEL; both quote styles are MVEL strings. */
const STRING = `(?:"([^"\\\\]*)"|'([^'\\\\]*)')`;

function literal(match: RegExpExecArray, index: number): string {
  return match[index] ?? match[index + 1];
}

function compileCondition(text: string): Condition | undefined {
  if (/^\s*true\s*$/.test(text)) return { kind: 'always' };
  const present = new RegExp(`^\\s*request\\.getHeader\\(\\s*${STRING}\\s*\\)\\s*!=\\s*null\\s*$`).exec(text);
  if (present && literal(present, 1).toLowerCase() === ROUTING_GROUP_HEADER.toLowerCase())
    return { kind: 'groupHeaderPresent' };
  const canary = new RegExp(
    `^\\s*request\\.getHeader\\(\\s*${STRING}\\s*\\)\\s*!=\\s*null\\s*&&\\s*` +
      `Math\\.floorMod\\(\\s*request\\.getHeader\\(\\s*${STRING}\\s*\\)\\s*\\.hashCode\\(\\s*\\)\\s*,\\s*100\\s*\\)\\s*<\\s*(\\d+)`,
  ).exec(text);
  if (
    canary &&
    literal(canary, 1).toLowerCase() === USER_HEADER.toLowerCase() &&
    literal(canary, 3).toLowerCase() === USER_HEADER.toLowerCase()
  ) {
    const clauses = compileClauses(text.slice(canary[0].length));
    if (clauses) return { kind: 'userBucketBelow', percent: Number(canary[5]), clauses };
  }
  return undefined;
}

/** The parenthesized clauses of ` && (a) && (b)`, split at their own parentheses (string literals hold no quote). */
function splitClauses(rest: string): string[] | undefined {
  const clauses: string[] = [];
  let at = 0;
  while (at < rest.length) {
    const start = /^\s*&&\s*\(/.exec(rest.slice(at));
    if (!start) return /^\s*$/.test(rest.slice(at)) ? clauses : undefined;
    let depth = 1;
    let inString = false;
    let i = at + start[0].length;
    for (; i < rest.length && depth > 0; i++) {
      const c = rest[i];
      if (c === '"') inString = !inString;
      else if (!inString && c === '(') depth += 1;
      else if (!inString && c === ')') depth -= 1;
    }
    if (depth !== 0) return undefined;
    clauses.push(rest.slice(at + start[0].length, i - 1));
    at = i;
  }
  return clauses;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A Java string literal as cutover writes them: double quotes, no quote or backslash inside. */
const VALUE = '"([^"\\\\]*)"';
const getHeader = (name: string) => escape(`request.getHeader("${name}")`);

/** `("a".equals(SUBJECT) || "b".equals(SUBJECT))` with `member` the regex of one term: its values, or undefined. */
function oneOf(text: string, member: string): string[] | undefined {
  if (!new RegExp(`^\\(${member}(?: \\|\\| ${member})*\\)$`).test(text)) return undefined;
  return [...text.matchAll(new RegExp(member, 'g'))].map((match) => match[1]);
}

function compileClause(text: string): Clause | undefined {
  for (const header of [USER_HEADER, SOURCE_HEADER]) {
    const member = `${VALUE}\\.equals\\(${getHeader(header)}\\)`;
    const values = oneOf(text, member);
    if (values) return { kind: 'headerOneOf', header, values, negated: false };
    const excluded = text.startsWith('!') ? oneOf(text.slice(1), member) : undefined;
    if (excluded && header === SOURCE_HEADER) return { kind: 'headerOneOf', header, values: excluded, negated: true };
  }
  const pattern = new RegExp(`^${getHeader(USER_HEADER)}\\.matches\\(${VALUE}\\)$`).exec(text);
  if (pattern) {
    try {
      return { kind: 'userMatches', pattern: new RegExp(`^(?:${pattern[1]})$`, 'u') };
    } catch {
      return undefined;
    }
  }
  const tagsOf = escape(`("," + request.getHeader("${CLIENT_TAGS_HEADER}").replace(" ", "") + ",").contains(",`);
  const tagTerm = `${tagsOf}([^",]+),"\\)`;
  if (new RegExp(`^${getHeader(CLIENT_TAGS_HEADER)} != null(?: && ${tagTerm})+$`).test(text))
    return { kind: 'clientTags', tags: [...text.matchAll(new RegExp(tagTerm, 'g'))].map((match) => match[1]) };
  const types = oneOf(text, `${VALUE}\\.equals\\(${QUERY_PROPERTIES_VARIABLE}\\.getResourceGroupQueryType\\(\\)\\)`);
  if (types) return { kind: 'queryTypeOneOf', values: types };
  for (const [getter, property] of [
    ['getCatalogs', 'catalogs'],
    ['getCatalogSchemas', 'catalogSchemas'],
  ] as const) {
    const values = oneOf(text, `${QUERY_PROPERTIES_VARIABLE}\\.${getter}\\(\\)\\.contains\\(${VALUE}\\)`);
    if (values) return { kind: 'propertyContainsAny', property, values };
  }
  const window = new RegExp(
    `^Math\\.floorMod\\(java\\.time\\.LocalTime\\.now\\(java\\.time\\.ZoneId\\.of\\(${VALUE}\\)\\)\\.toSecondOfDay\\(\\) - (\\d+), 86400\\) < (\\d+)$`,
  ).exec(text);
  if (window && knownZone(window[1]))
    return {
      kind: 'timeWindow',
      timeZone: window[1],
      fromSeconds: Number(window[2]),
      lengthSeconds: Number(window[3]),
    };
  return undefined;
}

function knownZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function compileClauses(rest: string): Clause[] | undefined {
  const texts = splitClauses(rest);
  if (!texts) return undefined;
  const clauses = texts.map(compileClause);
  return clauses.every((clause) => clause !== undefined) ? clauses : undefined;
}

function compileAction(text: string): Action | undefined {
  const fromHeader = new RegExp(
    `^\\s*result\\.put\\(\\s*${STRING}\\s*,\\s*request\\.getHeader\\(\\s*${STRING}\\s*\\)\\s*\\)\\s*;?\\s*$`,
  ).exec(text);
  if (
    fromHeader &&
    literal(fromHeader, 1) === 'routingGroup' &&
    literal(fromHeader, 3).toLowerCase() === ROUTING_GROUP_HEADER.toLowerCase()
  ) {
    return { kind: 'groupFromHeader' };
  }
  const fixed = new RegExp(`^\\s*result\\.put\\(\\s*${STRING}\\s*,\\s*${STRING}\\s*\\)\\s*;?\\s*$`).exec(text);
  if (fixed && literal(fixed, 1) === 'routingGroup') return { kind: 'group', group: literal(fixed, 3) };
  return compileScopedAction(text);
}

const ASSIGNED = escape('result.get("routingGroup")');

/** cutover's canary action: `if ([ASSIGNED == null || ]"g".equals(ASSIGNED)) { result.put("routingGroup", "c") }`. */
function compileScopedAction(text: string): Action | undefined {
  const scoped = new RegExp(
    `^\\s*if \\((${ASSIGNED} == null \\|\\| )?${VALUE}\\.equals\\(${ASSIGNED}\\)\\) \\{ (.*) \\}\\s*$`,
  ).exec(text);
  if (!scoped) return undefined;
  const inner = compileAction(scoped[3]);
  if (inner?.kind !== 'group' || inner.when) return undefined;
  return { kind: 'group', group: inner.group, when: { groups: [scoped[2]], unassigned: scoped[1] !== undefined } };
}

/** The rule with the real gateway's defaults applied (description "", priority 0); throws when malformed. */
function normalizeRoutingRule(value: unknown): RoutingRule {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new UnsupportedRoutingRuleError('a routing rule must be a JSON object with name, condition and actions');
  }
  const raw = value as Record<string, unknown>;
  if (typeof raw.name !== 'string' || raw.name === '')
    throw new UnsupportedRoutingRuleError('routing rule: name is required');
  if (typeof raw.condition !== 'string')
    throw new UnsupportedRoutingRuleError(`routing rule "${raw.name}": condition is required`);
  if (!Array.isArray(raw.actions) || !raw.actions.every((action) => typeof action === 'string')) {
    throw new UnsupportedRoutingRuleError(`routing rule "${raw.name}": actions must be a list of strings`);
  }
  if (raw.priority !== undefined && raw.priority !== null && !Number.isInteger(raw.priority)) {
    throw new UnsupportedRoutingRuleError(`routing rule "${raw.name}": priority must be an integer`);
  }
  return {
    name: raw.name,
    description: typeof raw.description === 'string' ? raw.description : '',
    priority: (raw.priority as number | null | undefined) ?? 0,
    actions: raw.actions,
    condition: raw.condition,
  };
}

/** Compiles one rule; throws UnsupportedRoutingRuleError naming the expression it cannot evaluate. */
export function compileRoutingRule(value: unknown): CompiledRoutingRule {
  const rule = normalizeRoutingRule(value);
  const unsupported = (what: string, expression: string): UnsupportedRoutingRuleError =>
    new UnsupportedRoutingRuleError(
      `routing rule "${rule.name}": unsupported ${what} '${expression}'. The sandbox gateway evaluates only these shapes: ${SUPPORTED} ` +
        '(the real Trino Gateway would accept any MVEL expression)',
    );
  const condition = compileCondition(rule.condition);
  if (!condition) throw unsupported('condition', rule.condition);
  const actions = rule.actions.map((text) => {
    const action = compileAction(text);
    if (!action) throw unsupported('action', text);
    return action;
  });
  return { rule, priority: rule.priority ?? 0, condition, actions };
}

/** Compiles rules in evaluation order: priority ascending, file order among equals. */
export function compileRoutingRules(rules: readonly unknown[]): CompiledRoutingRule[] {
  return rules.map(compileRoutingRule).sort((a, b) => a.priority - b.priority);
}

function properties(request: RuleRequest): QueryProperties {
  if (!request.queryProperties) {
    throw new RuleEvaluationError(
      `unresolvable property or identifier: ${QUERY_PROPERTIES_VARIABLE} (the gateway runs without requestAnalyzerConfig.analyzeRequest)`,
    );
  }
  return request.queryProperties;
}

function clauseMatches(clause: Clause, request: RuleRequest): boolean {
  const { header } = request;
  switch (clause.kind) {
    case 'headerOneOf': {
      const value = header(clause.header);
      const found = value !== undefined && clause.values.includes(value);
      return clause.negated ? !found : found;
    }
    case 'userMatches':
      return clause.pattern.test(header(USER_HEADER) ?? '');
    case 'clientTags': {
      const value = header(CLIENT_TAGS_HEADER);
      if (value === undefined) return false;
      const tags = `,${value.replaceAll(' ', '')},`;
      return clause.tags.every((tag) => tags.includes(`,${tag},`));
    }
    case 'queryTypeOneOf':
      return clause.values.includes(properties(request).resourceGroupQueryType);
    case 'propertyContainsAny': {
      const set = properties(request)[clause.property];
      return clause.values.some((value) => set.has(value));
    }
    case 'timeWindow':
      return inDailySpan(clause.timeZone, clause.fromSeconds, clause.lengthSeconds, request.now);
  }
}

function matches(condition: Condition, request: RuleRequest): boolean {
  const { header } = request;
  switch (condition.kind) {
    case 'always':
      return true;
    case 'groupHeaderPresent':
      return header(ROUTING_GROUP_HEADER) !== undefined;
    case 'userBucketBelow': {
      const user = header(USER_HEADER);
      // && stops at the first false term, as in MVEL: later clauses are not evaluated.
      return (
        user !== undefined &&
        javaFloorMod(javaStringHashCode(user), 100) < condition.percent &&
        condition.clauses.every((clause) => clauseMatches(clause, request))
      );
    }
  }
}

/**
 * The routing group the rules choose, like FileBasedRoutingGroupSelector: every matching rule fires
 * in order and the last `result.put("routingGroup", ...)` wins; an action reading
 * `result.get("routingGroup")` sees what the rules before it put; undefined means the default group.
 * Throws RuleEvaluationError when a rule reads what the gateway does not provide.
 */
export function selectRoutingGroup(
  rules: readonly CompiledRoutingRule[],
  requestOrHeader: RuleRequest | HeaderLookup,
): string | undefined {
  // A header lookup alone: a request the analyzer did not see, now.
  const request =
    typeof requestOrHeader === 'function' ? { header: requestOrHeader, now: Date.now() } : requestOrHeader;
  const { header } = request;
  // What `result.get("routingGroup")` returns: the actions of the rules run so far (conditions do not see it).
  let group: string | undefined;
  for (const rule of rules) {
    if (!matches(rule.condition, request)) continue;
    for (const action of rule.actions) {
      if (action.kind === 'groupFromHeader') group = header(ROUTING_GROUP_HEADER);
      else if (!action.when || (group === undefined ? action.when.unassigned : action.when.groups.includes(group)))
        group = action.group;
    }
  }
  return group;
}
