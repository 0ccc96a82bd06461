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

/** A rules file write failed (a read-only file, full disk): the real resource answers 500. */
export class RulesFileWriteError extends Error {
  constructor(replica: string | undefined) {
    super(`Failed to update the routing rules file${replica ? ` of ${replica}` : ''}: read-only file system`);
    this.name = 'RulesFileWriteError';
  }
}

/** The FILE rules as written: one per replica, or one several replicas share on shared storage. */
export class RulesFile {
  rules: RoutingRule[];
  compiled: CompiledRoutingRule[];

  constructor(rules: readonly RoutingRule[]) {
    this.rules = rules.map((rule) => compileRoutingRule(rule).rule);
    this.compiled = compileRoutingRules(this.rules);
  }

  /** Replaces the rule of the same name; false when the file has none (the real gateway ignores it). */
  replace(rule: RoutingRule): boolean {
    const index = this.rules.findIndex((existing) => existing.name === rule.name);
    if (index < 0) return false;
    this.rules = this.rules.map((existing, i) => (i === index ? rule : existing));
    this.compiled = compileRoutingRules(this.rules);
    return true;
  }
}

/** Fault switches of one replica's rules file. */
export interface RulesFaults {
  /** Updates are acknowledged but reach this replica's file only once the switch is off (a lagging replica). */
  staleRules?: boolean;
  /** Updates fail with HTTP 500 (the file cannot be written). */
  refuseRuleUpdates?: boolean;
}

/** How the router chooses. */
export interface RouterOptions {
  defaultRoutingGroup: string;
  /** FILE rules; the rules engine is enabled when given. */
  rules?: readonly RoutingRule[];
  /** A rules file shared with other replicas (shared storage); `rules` is ignored then. */
  rulesFile?: RulesFile;
  /** Query owners shared with other replicas (the real ones share the query history table). */
  owners?: Map<string, QueryOwner>;
  /** This replica's name in the journal, when the gateway has several. */
  replica?: string;
  /** The router sees a rules update only this long after it last read them (the real `rulesRefreshPeriod`). */
  rulesRefreshMs: number;
  /** Query ids remembered for stickiness (the real cache holds 10,000 for 30 min, backed by the history table). */
  maxQueryOwners: number;
}

/**
 * Routing decisions: which group a new query belongs to, which backend serves it, and which
 * backend owns a query id (sticky regardless of active flag and health, which is what makes
 * draining work).
 */
export class GatewayRouter {
  private readonly file?: RulesFile;
  private routerView?: { compiled: CompiledRoutingRule[]; loadedAt: number };
  private readonly owners: Map<string, QueryOwner>;
  private faults: RulesFaults = {};
  /** Updates acknowledged while the file was stale, applied once it is not. */
  private pending: RoutingRule[] = [];

  constructor(
    private readonly store: BackendStore,
    private readonly journal: Journal,
    private readonly options: RouterOptions,
  ) {
    this.file = options.rulesFile ?? (options.rules ? new RulesFile(options.rules) : undefined);
    this.owners = options.owners ?? new Map<string, QueryOwner>();
  }

  /** Sets this replica's rules faults; turning `staleRules` off writes the updates it held back. */
  setRulesFaults(faults: RulesFaults): void {
    this.faults = { ...this.faults, ...faults };
    if (this.faults.staleRules) return;
    const held = this.pending;
    this.pending = [];
    for (const rule of held) this.write(rule);
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
    if (this.faults.refuseRuleUpdates) throw new RulesFileWriteError(this.options.replica);
    if (this.faults.staleRules) {
      // Acknowledged with the rules as they will be, but the file shows it only later.
      this.pending = [...this.pending.filter((rule) => rule.name !== compiled.rule.name), compiled.rule];
      return this.file.rules.map((rule) => (rule.name === compiled.rule.name ? { ...compiled.rule } : { ...rule }));
    }
    this.write(compiled.rule);
    return this.routingRules();
  }

  private write(rule: RoutingRule): void {
    if (!this.file?.replace(rule)) return;
    this.journal.append('rule.updated', {
      name: rule.name,
      detail: `${rule.condition} => ${rule.actions.join('; ')}`,
      ...(this.options.replica === undefined ? {} : { replica: this.options.replica }),
    });
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
