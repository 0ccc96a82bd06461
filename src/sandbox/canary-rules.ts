import type { RoutingRule } from '../integrations/gateway/types';
import {
  canaryAction,
  canaryCondition,
  defaultRuleName,
  GATEWAY_DEFAULT_ROUTING_GROUP,
} from '../integrations/traffic/routing-rule';

/** Honour `X-Trino-Routing-Group`; a later rule overrides it. */
const ROUTING_GROUP_HEADER: RoutingRule = {
  name: 'routing-group-header',
  description: 'honour X-Trino-Routing-Group',
  priority: 0,
  condition: 'request.getHeader("X-Trino-Routing-Group") != null',
  actions: ['result.put("routingGroup", request.getHeader("X-Trino-Routing-Group"))'],
};

/** Cutover's canary rule of `routingGroup` at 0%, named as a plan of that group names it by default. */
function canaryRule(canaryGroup: string, routingGroup: string, defaultRoutingGroup: string): RoutingRule {
  return {
    name: defaultRuleName(routingGroup),
    description: 'cutover canary share',
    priority: 10,
    condition: canaryCondition(0),
    actions: [canaryAction(canaryGroup, { routingGroup, defaultRoutingGroup })],
  };
}

/**
 * The FILE rules of a canary-ready gateway as the sandbox runs them: honour `X-Trino-Routing-Group`
 * first, then cutover's canary rule (at 0%) for `canaryGroup`, which runs after it and takes only
 * requests of `routingGroup` (and, when that is the gateway's default group, those no rule
 * assigned). The rule is named as a plan of `routingGroup` names it by default
 * (`<routingGroup>-canary` is the default canary group).
 */
export function canaryReadyRules(
  canaryGroup: string,
  routingGroup = canaryGroup.replace(/-canary$/, ''),
  defaultRoutingGroup = GATEWAY_DEFAULT_ROUTING_GROUP,
): RoutingRule[] {
  return [ROUTING_GROUP_HEADER, canaryRule(canaryGroup, routingGroup, defaultRoutingGroup)];
}

/** The same for several routing groups: one canary rule at 0% each, to the default canary group `<routingGroup>-canary`. */
export function canaryReadyRulesOf(
  routingGroups: string[],
  defaultRoutingGroup = GATEWAY_DEFAULT_ROUTING_GROUP,
): RoutingRule[] {
  return [
    ROUTING_GROUP_HEADER,
    ...routingGroups.map((group) => canaryRule(`${group}-canary`, group, defaultRoutingGroup)),
  ];
}
