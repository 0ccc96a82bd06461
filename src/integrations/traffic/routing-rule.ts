import { IntegrationError } from '../errors';
import type { GatewayApi, RoutingRule } from '../gateway/types';

/**
 * Canary share through one FILE routing rule of Trino Gateway: users whose
 * `Math.floorMod(X-Trino-User.hashCode(), 100)` is below the weight go to the canary group. The
 * share is sticky per user, and String.hashCode is the same on every gateway replica.
 */
export function canaryCondition(percent: number): string {
  return `request.getHeader("X-Trino-User") != null && Math.floorMod(request.getHeader("X-Trino-User").hashCode(), 100) < ${percent}`;
}

export function canaryAction(canaryGroup: string): string {
  return `result.put("routingGroup", "${canaryGroup}")`;
}

/** The weight a canary rule currently sends, or undefined when the rule is not of cutover's shape. */
export function weightOfRule(rule: RoutingRule): number | undefined {
  const match = /Math\.floorMod\(request\.getHeader\("X-Trino-User"\)\.hashCode\(\), 100\) < (\d+)$/.exec(rule.condition.trim());
  return match ? Number(match[1]) : undefined;
}

/** Rewrites the canary rule through `/webapp/updateRoutingRules` and checks that the write took. */
export class RoutingRuleShifter {
  constructor(
    private readonly gateway: GatewayApi,
    private readonly options: { ruleName: string; canaryGroup: string },
  ) {}

  /** The weight the rule sends now. */
  async currentWeight(): Promise<number> {
    const rule = await this.findRule();
    return weightOfRule(rule) ?? 0;
  }

  /** Sets the rule's weight; a no-op when it already has it. */
  async setWeight(percent: number): Promise<void> {
    const existing = await this.findRule();
    const wanted: RoutingRule = {
      name: this.options.ruleName,
      description: `cutover canary: ${percent}% of users to ${this.options.canaryGroup}`,
      priority: existing.priority ?? 10,
      condition: canaryCondition(percent),
      actions: [canaryAction(this.options.canaryGroup)],
    };
    if (existing.condition === wanted.condition && existing.actions.join('\n') === wanted.actions.join('\n')) return;
    const after = await this.gateway.updateRoutingRule(wanted);
    const written = after.find((rule) => rule.name === this.options.ruleName);
    if (!written || written.condition !== wanted.condition) {
      throw new IntegrationError(
        `the gateway did not store routing rule ${this.options.ruleName} as written (it answered ${written ? `condition ${written.condition}` : 'without the rule'})`,
        'RoutingRuleNotApplied',
        true,
      );
    }
  }

  private async findRule(): Promise<RoutingRule> {
    const rules = await this.gateway.getRoutingRules();
    const rule = rules.find((candidate) => candidate.name === this.options.ruleName);
    if (!rule) {
      // The API replaces rules by name and silently ignores unknown names: the rule must exist in the file.
      throw new IntegrationError(
        `routing rule ${this.options.ruleName} does not exist in the gateway's rules file (rules: ${rules.map((r) => r.name).join(', ') || 'none'}); ` +
          `add it once with condition '${canaryCondition(0)}' and action '${canaryAction(this.options.canaryGroup)}'`,
        'RoutingRuleNotFound',
        false,
      );
    }
    return rule;
  }
}

/**
 * The FILE rules of a canary-ready gateway as the sandbox runs them: honour `X-Trino-Routing-Group`
 * first, then cutover's canary rule (at 0%) for `canaryGroup`, which a later rule overrides.
 */
export function canaryReadyRules(canaryGroup: string): RoutingRule[] {
  return [
    {
      name: 'routing-group-header',
      description: 'honour X-Trino-Routing-Group',
      priority: 0,
      condition: 'request.getHeader("X-Trino-Routing-Group") != null',
      actions: ['result.put("routingGroup", request.getHeader("X-Trino-Routing-Group"))'],
    },
    { name: 'cutover-canary', description: 'cutover canary share', priority: 10, condition: canaryCondition(0), actions: [canaryAction(canaryGroup)] },
  ];
}
