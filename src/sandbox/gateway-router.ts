import type { RoutingRule } from '../integrations/gateway/types';
import type { BackendStore, StoredBackend } from './gateway-backends';
import type { Journal } from './journal';
import {
  compileRoutingRule,
  compileRoutingRules,
  selectRoutingGroup,
  type CompiledRoutingRule,
  type RuleRequest,
} from './routing-rules';

/** The real gateway's IllegalStateException when neither the group nor the default group can serve. */
export class NoActiveBackendError extends Error {
  constructor() {
    super('Number of active backends found zero');
    this.name = 'NoActiveBackendError';
  }
}

/** Where a query lives, remembered from the POST that created it. */
export interface QueryOwner {
  proxyTo: string;
  routingGroup: string;
  externalUrl: string;
}

/** How the router chooses. */
export interface RouterOptions {
  defaultRoutingGroup: string;
  /** FILE rules; the rules engine is enabled when given. */
  rules?: readonly RoutingRule[];
  /** The router sees a rules update only this long after it last read them (the real `rulesRefreshPeriod`). */
  rulesRefreshMs: number;
  /** Query ids remembered for stickiness (the real cache holds 10,000 for 30 min, backed by the history table). */
  maxQueryOwners: number;
}

/** The "rules file" and the router's memoized view of it. */
interface RulesFile {
  rules: RoutingRule[];
  compiled: CompiledRoutingRule[];
}

/**
 * Routing decisions: which group a new query belongs to, which backend serves it, and which
 * backend owns a query id (sticky regardless of active flag and health, which is what makes
 * draining work).
 */
export class GatewayRouter {
  private file?: RulesFile;
  private routerView?: { compiled: CompiledRoutingRule[]; loadedAt: number };
  private readonly owners = new Map<string, QueryOwner>();

  constructor(
    private readonly store: BackendStore,
    private readonly journal: Journal,
    private readonly options: RouterOptions,
  ) {
    if (options.rules) {
      const rules = options.rules.map((rule) => compileRoutingRule(rule).rule);
      this.file = { rules, compiled: compileRoutingRules(rules) };
    }
  }

  /** True when routing rules decide the group (the header is then ignored unless a rule reads it). */
  get rulesEnabled(): boolean {
    return this.file !== undefined;
  }

  /** The rules as `/webapp/getRoutingRules` returns them, in file order. */
  routingRules(): RoutingRule[] | undefined {
    return this.file?.rules.map((rule) => ({ ...rule }));
  }

  /**
   * `/webapp/updateRoutingRules`: replaces the rule of that name; a new name is silently ignored
   * like the real gateway. Throws UnsupportedRoutingRuleError for an expression the sandbox cannot evaluate.
   */
  updateRoutingRule(value: unknown): RoutingRule[] | undefined {
    const compiled = compileRoutingRule(value);
    if (!this.file) return undefined;
    const index = this.file.rules.findIndex((rule) => rule.name === compiled.rule.name);
    if (index >= 0) {
      const rules = this.file.rules.map((rule, i) => (i === index ? compiled.rule : rule));
      this.file = { rules, compiled: compileRoutingRules(rules) };
      this.journal.append('rule.updated', {
        name: compiled.rule.name,
        detail: `${compiled.rule.condition} => ${compiled.rule.actions.join('; ')}`,
      });
    }
    return this.routingRules();
  }

  /**
   * The routing group of a request without a query id; the default group when rules or header give
   * none. Throws RuleEvaluationError when a rule reads what the gateway does not provide.
   */
  routingGroupFor(request: RuleRequest): string {
    const group = this.file
      ? selectRoutingGroup(this.rulesForRouter(), request)
      : request.header('X-Trino-Routing-Group');
    return group ? group : this.options.defaultRoutingGroup;
  }

  /** A uniformly random active HEALTHY backend of the group, else of the default group. */
  pickBackend(routingGroup: string): StoredBackend {
    let candidates = this.store.routable(routingGroup);
    if (candidates.length === 0) candidates = this.store.routable(this.options.defaultRoutingGroup);
    if (candidates.length === 0) throw new NoActiveBackendError();
    return candidates[Math.floor(Math.random() * candidates.length)];
  }

  /** Remembers which backend owns a query id. */
  remember(queryId: string, owner: QueryOwner): void {
    this.owners.delete(queryId);
    this.owners.set(queryId, owner);
    if (this.owners.size > this.options.maxQueryOwners) {
      const oldest = this.owners.keys().next().value;
      if (oldest !== undefined) this.owners.delete(oldest);
    }
  }

  /** The backend that owns a query id, if the gateway routed or found it. */
  owner(queryId: string): QueryOwner | undefined {
    return this.owners.get(queryId);
  }

  /** Like Suppliers.memoizeWithExpiration: an update reaches the router only after the refresh period. */
  private rulesForRouter(): CompiledRoutingRule[] {
    const now = Date.now();
    if (!this.routerView || now - this.routerView.loadedAt >= this.options.rulesRefreshMs) {
      this.routerView = { compiled: this.file?.compiled ?? [], loadedAt: now };
    }
    return this.routerView.compiled;
  }
}
