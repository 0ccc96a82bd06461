import type { UpgradePlan } from '../../plan/schema';
import type { UpgradeEventKind } from '../../upgrade-events';
import type { AnalysisProgress, ApproveInput, Phase, PromoteInput, RollbackInput, UpgradeStatus } from '../messages';

/** Mutable facts the steps learn and the compensations need. */
export interface RunFacts {
  blue: { name: string; proxyTo: string }[];
  greenUrl?: string;
  /** The lease workflows this upgrade holds (src/workflows/ownership.ts); absent in upgrades from before leases. */
  leases?: string[];
  /** The canary routing rule this upgrade rewrites, fixed at the preflight; absent before leases (then `cutover-canary`). */
  ruleName?: string;
}

/**
 * The undo of a change, recorded as data so it survives replays and continue-as-new. Each kind is
 * implemented by the step that registers it (src/workflows/steps/<step>.ts). `drainGreen` is never
 * registered: a rollback runs it after the compensations that move traffic (steps/index.ts).
 */
export type Compensation = {
  kind: 'teardownGreen' | 'removeGreenBackend' | 'removeCanaryEntry' | 'restoreBlue' | 'resetCanary' | 'drainGreen';
};
export type CompensationKind = Compensation['kind'];

/** What the engine does after a step. */
export type StepOutcome = { kind: 'continue' } | { kind: 'rollback'; request: RollbackInput };

/** How an approval gate ended. */
export type ApprovalDecision =
  { kind: 'approved'; approval: ApproveInput } | { kind: 'rollback' } | { kind: 'timeout' };

/**
 * What a step may see and do: the plan, the facts learnt so far, the status operators read, and
 * the engine's few services. Steps get this narrow view, never the engine.
 */
export interface StepContext {
  readonly plan: UpgradePlan;
  readonly facts: RunFacts;
  readonly status: UpgradeStatus;
  /** `promote --full`: every remaining gate, bake and partial shift is skipped. */
  readonly promoteAll: boolean;
  /** Who asked for `promote --full`, as the timeline names them. */
  readonly promotedAllBy?: string;
  /** True once a rollback was asked for; the step in flight is being cancelled. */
  readonly rollingBack: boolean;
  /** True while a promote waits to end the bake under way. */
  readonly promotionPending: boolean;
  /** Progress of the canary bake under way, carried over by continue-as-new. */
  bakeProgress?: AnalysisProgress;

  setPhase(phase: Phase, message: string): void;
  /** Adds a timeline line in the current phase. */
  note(message: string): void;
  /** Tells the worker's webhooks (fire and forget: the upgrade never waits for it). */
  notify(kind: UpgradeEventKind, message: string): void;
  setTraffic(percent: number): void;
  /** Re-renders the UI's current details from the status. */
  refreshDetails(): void;
  /** Re-reads step descriptions once blue's names are known. */
  refreshStepDescriptions(): void;

  /** Registers the undo of a change the step is about to make (saga). */
  registerCompensation(compensation: Compensation): void;
  /** From here on the upgrade only goes forward: compensations are dropped and rollbacks refused. */
  pointOfNoReturn(): void;

  /** Waits for an approve (or a rollback) up to `timeout`. */
  awaitApproval(timeout: string, summary: string): Promise<ApprovalDecision>;
  /** Waits out a duration on a timer; false when a rollback ended it early. */
  waitUnlessRollback(duration: string, summary: string): Promise<boolean>;
  /** Waits while the upgrade is paused (unless a rollback comes). */
  holdWhilePaused(): Promise<void>;
  /** A promote request for the bake under way, consumed once. */
  takePromotion(): PromoteInput | undefined;
  /** Starts a new run with the same state when Temporal suggests it, so long bakes keep a small history. */
  continueAsNewIfSuggested(): Promise<void>;
}

/** One kind of step: how it reads, how it runs, and the compensations it registers. */
export interface StepKind<S extends { kind: string }, C extends CompensationKind = never> {
  describe(step: S, names: StepNames): string;
  run(ctx: StepContext, step: S): Promise<StepOutcome>;
  /** The undo of each change this step registers, retried until it works. */
  compensations: Record<C, (ctx: StepContext) => Promise<void>>;
}

/** The names a step description uses. */
export interface StepNames {
  green: string;
  blue: string[];
}

export const CONTINUE: StepOutcome = { kind: 'continue' };

/** A rollback cutover decides on its own. */
export function automaticRollback(reason: string, by = 'cutover (automatic)'): StepOutcome {
  return { kind: 'rollback', request: { by, reason } };
}

/** A gate, bake or partial shift passed over by `promote --full`. */
export function skipped(ctx: StepContext, what: string): StepOutcome {
  ctx.note(`${what} skipped (promoted with --full)${ctx.promotedAllBy ? ` by ${ctx.promotedAllBy}` : ''}`);
  return CONTINUE;
}

/** "trino-blue serves" / "blue-a, blue-b serve": names with a verb that agrees. */
export function namesWith(names: string[], singular: string, plural: string): string {
  return `${names.join(', ') || 'blue'} ${names.length === 1 ? singular : plural}`;
}
