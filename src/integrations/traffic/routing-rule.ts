import { durationMs } from '../../plan/duration';
import { IntegrationError } from '../errors';
import type { GatewayApi, RoutingRule } from '../gateway/types';
import { describeSelection, selectorClauses, type CanarySelector } from './selector';
import type { AppliedWeight, CanarySettings, TrafficMode, TrafficRouter } from './types';

/**
 * Canary share through one FILE routing rule of Trino Gateway: users whose
 * `Math.floorMod(X-Trino-User.hashCode(), 100)` is below the weight go to the canary group, when
 * the earlier rules put their request in the plan's routing group (`canaryAction`). The
 * share is sticky per user, and String.hashCode is the same on every gateway replica. A selector
 * adds its clauses after the share (`&&` stops at the share: below it nothing else is evaluated,
 * so a rule at 0% never reads the request analyzer's properties); without one the text is the
 * one every canary wrote before selectors existed.
 */
export function canaryCondition(percent: number, selector?: CanarySelector): string {
  const share = `request.getHeader("X-Trino-User") != null && Math.floorMod(request.getHeader("X-Trino-User").hashCode(), 100) < ${percent}`;
  if (!selector) return share;
  return [share, ...selectorClauses(selector).map((clause) => `(${clause})`)].join(' && ');
}

/** The FILE rule a canary of `routingGroup` rewrites unless the plan names one: each group has a rule of its own. */
export function defaultRuleName(routingGroup: string): string {
  return `cutover-canary-${routingGroup}`;
}

/** The rule every canary rewrote before rules were named after their group (upgrades started then keep it). */
export const LEGACY_RULE_NAME = 'cutover-canary';

/** The gateway's `routing.defaultRoutingGroup` unless its configuration names another. */
export const GATEWAY_DEFAULT_ROUTING_GROUP = 'adhoc';

/**
 * Whose requests a canary rule may take: those the earlier rules put in the plan's routing group,
 * and, when that group is the gateway's default group, those no earlier rule assigned (they land
 * there too).
 */
export interface CanaryScope {
  routingGroup: string;
  defaultRoutingGroup: string;
}

/**
 * The canary rule's action. Trino Gateway runs every matching rule in priority order (low first)
 * and the last `result.put("routingGroup", ...)` wins; only actions see `result` (a condition is
 * evaluated with `request`, `state` and the analyzer's variables), so the action itself checks
 * the group assigned so far and moves only the plan's group's requests: a canary of adhoc never
 * takes etl's users. Without a scope (activities scheduled by earlier releases) the action is the
 * unconditional one they wrote.
 */
export function canaryAction(canaryGroup: string, scope?: CanaryScope): string {
  const put = `result.put("routingGroup", "${canaryGroup}")`;
  return scope ? `if (${assignedGroupTest(scope)}) { ${put} }` : put;
}

/** `"etl".equals(result.get("routingGroup"))`, or for the default group also `result.get("routingGroup") == null || ...`. */
function assignedGroupTest({ routingGroup, defaultRoutingGroup }: CanaryScope): string {
  const assigned = `"${routingGroup}".equals(result.get("routingGroup"))`;
  return routingGroup === defaultRoutingGroup ? `result.get("routingGroup") == null || ${assigned}` : assigned;
}

/** The scope of a router's settings, when its caller gave the plan's routing group. */
export function scopeOf(settings: { routingGroup?: string; defaultRoutingGroup?: string }): CanaryScope | undefined {
  if (settings.routingGroup === undefined) return undefined;
  return {
    routingGroup: settings.routingGroup,
    defaultRoutingGroup: settings.defaultRoutingGroup ?? GATEWAY_DEFAULT_ROUTING_GROUP,
  };
}

/** A rule whose actions assign a routing group (`result.put("routingGroup", ...)`). */
export function assignsRoutingGroup(rule: RoutingRule): boolean {
  return rule.actions.some((action) => /result\s*\.\s*put\s*\(\s*["']routingGroup["']/.test(action));
}

/**
 * Why the canary rule would not see the group every other rule assigns (it must run after them:
 * a higher priority number), or undefined. Other canary rules of cutover's shape are left out:
 * each takes only its own group's requests, whatever their order.
 */
export function misplacedCanaryRule(ruleName: string, rules: readonly RoutingRule[]): string | undefined {
  const canary = rules.find((rule) => rule.name === ruleName);
  if (!canary) return undefined;
  const priority = canary.priority ?? 0;
  const later = rules.filter(
    (rule) =>
      rule.name !== ruleName &&
      weightOfRule(rule) === undefined &&
      assignsRoutingGroup(rule) &&
      (rule.priority ?? 0) >= priority,
  );
  if (later.length === 0) return undefined;
  const highest = Math.max(...later.map((rule) => rule.priority ?? 0));
  return (
    `routing rule ${ruleName} has priority ${priority}, not above ${later.map((rule) => `${rule.name} (priority ${rule.priority ?? 0})`).join(', ')}, ` +
    `which also ${later.length === 1 ? 'assigns' : 'assign'} a routing group: the gateway runs rules in priority order (low first), and the canary rule ` +
    `takes only requests the earlier rules put in its group, so it must run after them; give ${ruleName} a priority above ${highest} in the rules file`
  );
}

/** The weight a canary rule currently sends, or undefined when the rule is not of cutover's shape. */
export function weightOfRule(rule: RoutingRule): number | undefined {
  const match =
    /Math\.floorMod\(request\.getHeader\("X-Trino-User"\)\.hashCode\(\), 100\) < (\d+)(?: && \(.*\))?$/.exec(
      rule.condition.trim(),
    );
  return match ? Number(match[1]) : undefined;
}

export const routingRule: TrafficMode = {
  summary: 'one FILE routing rule sends a sticky share of users (hash of X-Trino-User) to a canary group',
  canaryEntry: (green) => `${green}-canary`,
  separateEntry: true,
  rewritesRule: true,
  unreachableWeight: () => undefined,
  describeShift: ({ percent, canaryGroup, selector }) =>
    selector
      ? `${describeSelection(percent, selector)} go to ${canaryGroup} (the share by hash of X-Trino-User); the gateway has re-read its rules`
      : `${percent}% of users (by X-Trino-User) go to ${canaryGroup}; the gateway has re-read its rules`,
  router: (gateway, settings) => new RoutingRuleRouter(gateway, settings),
};

/**
 * The gateway side of the routing-rule mode: the canary entry lives in the canary group, and the
 * rule, rewritten through `/webapp/updateRoutingRules`, picks the users sent there.
 */
class RoutingRuleRouter implements TrafficRouter {
  constructor(
    private readonly gateway: GatewayApi,
    private readonly settings: CanarySettings,
  ) {}

  async register(entry: string, url: string): Promise<void> {
    const existing = await this.gateway.getBackend(entry);
    if (existing) {
      if (existing.proxyTo === url && existing.routingGroup === this.settings.canaryGroup) return;
      throw new IntegrationError(
        `backend ${entry} is registered in routing group ${existing.routingGroup} at ${existing.proxyTo}: refusing to overwrite it; pick another green name`,
        'ForeignBackend',
        false,
      );
    }
    // Add, not update: an entry registered by someone else meanwhile fails the add instead of being overwritten.
    await this.gateway.addBackend({
      name: entry,
      proxyTo: url,
      externalUrl: url,
      routingGroup: this.settings.canaryGroup,
      active: false,
    });
  }

  async setWeight(percent: number): Promise<AppliedWeight> {
    await this.writeWeight(percent);
    // Even an unchanged rule may have been written by an attempt that died before the refresh passed.
    return { percent, appliedAfterMs: durationMs(this.settings.rulesRefresh) };
  }

  async reset(): Promise<AppliedWeight> {
    // No rule of that name routes nobody to the canary: there is nothing to reset.
    const rule = (await this.gateway.getRoutingRules()).find((candidate) => candidate.name === this.settings.ruleName);
    if (!rule || (weightOfRule(rule) ?? 0) === 0) return { percent: 0, appliedAfterMs: 0 };
    await this.writeWeight(0);
    return { percent: 0, appliedAfterMs: durationMs(this.settings.rulesRefresh) };
  }

  async readWeight(): Promise<number | undefined> {
    return weightOfRule(await this.findRule());
  }

  /**
   * Sets the rule's weight and checks that the write took; a no-op when it already has it. At 0%
   * the rule goes back to the text it had before any selector (the file as the operator wrote it).
   */
  private async writeWeight(percent: number): Promise<void> {
    const { ruleName, canaryGroup } = this.settings;
    const selector = percent > 0 ? this.settings.selector : undefined;
    const existing = await this.findRule();
    const wanted: RoutingRule = {
      name: ruleName,
      description: selector
        ? `cutover canary: ${describeSelection(percent, selector)} to ${canaryGroup}`
        : `cutover canary: ${percent}% of users to ${canaryGroup}`,
      priority: existing.priority ?? 10,
      condition: canaryCondition(percent, selector),
      actions: [canaryAction(canaryGroup, scopeOf(this.settings))],
    };
    const same = (rule: RoutingRule) =>
      rule.condition === wanted.condition && rule.actions.join('\n') === wanted.actions.join('\n');
    if (same(existing)) return;
    const after = await this.gateway.updateRoutingRule(wanted);
    const written = after.find((rule) => rule.name === ruleName);
    if (!written || !same(written)) {
      throw new IntegrationError(
        `the gateway did not store routing rule ${ruleName} as written (it answered ${written ? `condition ${written.condition}, actions ${written.actions.join('; ')}` : 'without the rule'})`,
        'RoutingRuleNotApplied',
        true,
      );
    }
  }

  private async findRule(): Promise<RoutingRule> {
    const { ruleName, canaryGroup } = this.settings;
    const rules = await this.gateway.getRoutingRules();
    const rule = rules.find((candidate) => candidate.name === ruleName);
    if (!rule) throw ruleNotFound(ruleName, canaryGroup, rules, scopeOf(this.settings));
    return rule;
  }
}

/**
 * The API replaces rules by name and silently ignores unknown names: the rule must exist in the
 * gateway's rules file before a canary can move its weight.
 */
export function ruleNotFound(
  ruleName: string,
  canaryGroup: string,
  rules: RoutingRule[],
  scope?: CanaryScope,
): IntegrationError {
  const highest = Math.max(0, ...rules.filter(assignsRoutingGroup).map((rule) => rule.priority ?? 0));
  return new IntegrationError(
    `routing rule ${ruleName} does not exist in the gateway's rules file (rules: ${rules.map((r) => r.name).join(', ') || 'none'}); ` +
      `add it once with priority ${highest + 10} (after every rule that assigns a routing group), ` +
      `condition '${canaryCondition(0)}' and action '${canaryAction(canaryGroup, scope)}'`,
    'RoutingRuleNotFound',
    false,
  );
}
