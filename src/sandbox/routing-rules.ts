import type { RoutingRule } from '../integrations/gateway/types';

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

type Condition = { kind: 'always' } | { kind: 'groupHeaderPresent' } | { kind: 'userBucketBelow'; percent: number };
type Action = { kind: 'groupFromHeader' } | { kind: 'group'; group: string };

/** A rule ready to evaluate. */
export interface CompiledRoutingRule {
  rule: RoutingRule;
  priority: number;
  condition: Condition;
  actions: Action[];
}

/** `request.getHeader(name)`: case-insensitive like a servlet request, undefined when absent. */
export type HeaderLookup = (name: string) => string | undefined;

const ROUTING_GROUP_HEADER = 'X-Trino-Routing-Group';
const USER_HEADER = 'X-Trino-User';
const SUPPORTED =
  `conditions \`true\`, \`request.getHeader("${ROUTING_GROUP_HEADER}") != null\`, ` +
  `\`request.getHeader("${USER_HEADER}") != null && Math.floorMod(request.getHeader("${USER_HEADER}").hashCode(), 100) < N\`; ` +
  `actions \`result.put("routingGroup", "<group>")\`, \`result.put("routingGroup", request.getHeader("${ROUTING_GROUP_HEADER}"))\``;

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
      `Math\\.floorMod\\(\\s*request\\.getHeader\\(\\s*${STRING}\\s*\\)\\s*\\.hashCode\\(\\s*\\)\\s*,\\s*100\\s*\\)\\s*<\\s*(\\d+)\\s*$`,
  ).exec(text);
  if (
    canary &&
    literal(canary, 1).toLowerCase() === USER_HEADER.toLowerCase() &&
    literal(canary, 3).toLowerCase() === USER_HEADER.toLowerCase()
  ) {
    return { kind: 'userBucketBelow', percent: Number(canary[5]) };
  }
  return undefined;
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
  return undefined;
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

function matches(condition: Condition, header: HeaderLookup): boolean {
  switch (condition.kind) {
    case 'always':
      return true;
    case 'groupHeaderPresent':
      return header(ROUTING_GROUP_HEADER) !== undefined;
    case 'userBucketBelow': {
      const user = header(USER_HEADER);
      return user !== undefined && javaFloorMod(javaStringHashCode(user), 100) < condition.percent;
    }
  }
}

/**
 * The routing group the rules choose, like FileBasedRoutingGroupSelector: every matching rule fires
 * in order and the last `result.put("routingGroup", ...)` wins; undefined means the default group.
 */
export function selectRoutingGroup(rules: readonly CompiledRoutingRule[], header: HeaderLookup): string | undefined {
  let group: string | undefined;
  for (const rule of rules) {
    if (!matches(rule.condition, header)) continue;
    for (const action of rule.actions) group = action.kind === 'group' ? action.group : header(ROUTING_GROUP_HEADER);
  }
  return group;
}
