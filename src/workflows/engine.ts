import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  ContinueAsNew,
  continueAsNew,
  isCancellation,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Duration } from '@temporalio/common';
import type { UpgradePlan } from '../plan/schema';
import { renderDetails } from './details';
import {
  approveSignal,
  approveUpdate,
  FINAL_PHASES,
  pauseSignal,
  pauseUpdate,
  promoteSignal,
  promoteUpdate,
  resumeSignal,
  resumeUpdate,
  rollbackSignal,
  rollbackUpdate,
  statusQuery,
  type Acknowledgement,
  type AnalysisProgress,
  type ApproveInput,
  type Phase,
  type PromoteInput,
  type RollbackInput,
  type UpgradeResult,
  type UpgradeStatus,
} from './messages';
import { CutoverPhase, CutoverRoutingGroup, CutoverStrategy, CutoverTargetVersion, CutoverTrafficPercent } from './search-attributes';
import { runCompensation, runStep, type Compensation, type StepOutcome } from './step-actions';
import { describeStep, namesWith, type Step } from './steps';

/** Input of every upgrade workflow: the validated plan (no secrets: the worker holds those). */
export interface UpgradeInput {
  plan: UpgradePlan;
  /** Who started it, for the timeline. */
  startedBy?: string;
  /** State carried over by continue-as-new. */
  resume?: EngineSnapshot;
}

/** Everything the engine needs to go on in a new run. */
export interface EngineSnapshot {
  stepIndex: number;
  status: UpgradeStatus;
  facts: RunFacts;
  compensations: Compensation[];
  /** The canary bake under way. */
  bake?: AnalysisProgress;
  promoteAll: boolean;
}

/** Mutable facts the steps learn and the compensations need. */
export interface RunFacts {
  blue: { name: string; proxyTo: string }[];
  greenUrl?: string;
}

/**
 * The one step engine: runs a strategy's list of steps in order, answers messages, records what
 * each step changed, and undoes it in reverse order when the upgrade rolls back.
 */
export class UpgradeEngine {
  readonly facts: RunFacts = { blue: [] };
  readonly status: UpgradeStatus;
  private readonly compensations: Compensation[] = [];
  private rollbackRequest?: RollbackInput;
  private approval?: ApproveInput;
  private promotion?: PromoteInput;
  /** `promote --full`: every remaining gate, bake and partial shift is skipped. */
  promoteAll = false;
  /** Progress of the canary bake under way, for continue-as-new. */
  bakeProgress?: AnalysisProgress;
  private stepScope?: CancellationScope;
  private retiring = false;
  private readonly firstStep: number;

  constructor(
    readonly plan: UpgradePlan,
    readonly steps: Step[],
    private readonly startedBy: string | undefined,
    private readonly resumed?: EngineSnapshot,
  ) {
    this.firstStep = resumed?.stepIndex ?? 0;
    if (resumed) {
      Object.assign(this.facts, resumed.facts);
      this.compensations.push(...resumed.compensations);
      this.bakeProgress = resumed.bake;
      this.promoteAll = resumed.promoteAll;
    }
    this.status = resumed?.status ?? {
      id: workflowInfo().workflowId,
      strategy: plan.strategy,
      phase: 'PROVISIONING',
      paused: false,
      routingGroup: plan.routingGroup,
      blue: plan.blue?.backends ?? [],
      green: { name: plan.green.name, url: plan.green.url, version: plan.green.version },
      trafficPercent: 0,
      step: { index: 0, total: steps.length, description: '' },
      steps: [],
      awaitingApproval: false,
      health: {},
      timeline: [],
    };
    this.refreshStepDescriptions();
    this.installHandlers();
  }

  /** Runs the plan to SUCCEEDED or ROLLED_BACK; throws (phase FAILED) only when even the rollback could not finish. */
  async run(): Promise<UpgradeResult> {
    if (this.resumed) {
      this.note(`continued as a new run (history of the previous run was ${workflowInfo().continuedFromExecutionRunId ?? 'closed'})`);
    } else {
      this.setPhase('PROVISIONING', `upgrade of ${this.plan.routingGroup} to ${this.plan.green.version} started${this.startedBy ? ` by ${this.startedBy}` : ''}`);
      this.status.step.description = `preflight: read routing group ${this.plan.routingGroup} from the gateway`;
      try {
        await this.preflight();
      } catch (error) {
        return this.fail(`preflight failed, nothing was changed: ${messageOf(error)}`, error);
      }
    }
    for (let index = this.firstStep; index < this.steps.length && !this.rollbackRequest; index++) {
      await this.holdWhilePaused();
      if (this.rollbackRequest) break;
      const step = this.steps[index];
      this.status.step = { index, total: this.steps.length, description: this.describe(step) };
      if (step.kind === 'retire') this.retiring = true;
      const outcome = await this.runInStepScope(step);
      if (outcome.kind === 'rollback') this.requestRollback(outcome.request);
    }
    if (this.rollbackRequest) return this.rollBack(this.rollbackRequest);
    this.setPhase('SUCCEEDED', `${this.plan.green.name} (${this.plan.green.version}) serves ${this.plan.routingGroup}`);
    return { outcome: 'SUCCEEDED', status: this.status };
  }

  /** Registers the undo of a change a step is about to make (saga). */
  registerCompensation(compensation: Compensation): void {
    if (!this.compensations.some((existing) => existing.kind === compensation.kind)) this.compensations.push(compensation);
  }

  /** Drops every compensation: after this point the upgrade can only go forward. */
  clearCompensations(): void {
    this.compensations.length = 0;
  }

  setPhase(phase: Phase, message: string): void {
    this.status.phase = phase;
    this.note(message);
    upsertSearchAttributes([
      { key: CutoverPhase, value: phase },
      { key: CutoverTrafficPercent, value: this.status.trafficPercent },
      { key: CutoverRoutingGroup, value: this.plan.routingGroup },
      { key: CutoverStrategy, value: this.plan.strategy },
      { key: CutoverTargetVersion, value: this.plan.green.version },
    ]);
    this.refreshDetails();
  }

  /** Adds a timeline line in the current phase. */
  note(message: string): void {
    this.status.timeline.push({ at: new Date().toISOString(), phase: this.status.phase, message });
    this.refreshDetails();
  }

  setTraffic(percent: number): void {
    this.status.trafficPercent = percent;
    upsertSearchAttributes([{ key: CutoverTrafficPercent, value: percent }]);
    this.refreshDetails();
  }

  /** Waits for approve or rollback, up to the plan's approval timeout. */
  async awaitApproval(): Promise<'approved' | 'rollback' | 'timeout'> {
    this.approval = undefined;
    this.status.awaitingApproval = true;
    this.setPhase('AWAITING_APPROVAL', `${this.plan.green.name} is ready for testing at ${this.facts.greenUrl}; approve with: cutover approve ${this.status.id}`);
    const decided = await condition(() => this.approval !== undefined || this.rollbackRequest !== undefined, this.plan.approval.timeout as Duration, {
      summary: `await approval (${this.plan.approval.timeout})`,
    });
    this.status.awaitingApproval = false;
    this.refreshDetails();
    if (this.rollbackRequest) return 'rollback';
    if (!decided) return 'timeout';
    const approval = this.approval as ApproveInput | undefined;
    this.note(`approved by ${approval?.by}${approval?.comment ? `: ${approval.comment}` : ''}`);
    return 'approved';
  }

  /** Waits out a duration unless a rollback arrives first. */
  async waitUnlessRollback(duration: string, summary: string): Promise<boolean> {
    return !(await condition(() => this.rollbackRequest !== undefined, duration as Duration, { summary }));
  }

  /** A promote request for the bake under way, consumed once. */
  takePromotion(): PromoteInput | undefined {
    const promotion = this.promotion;
    this.promotion = undefined;
    return promotion;
  }

  /** True while a promote waits to end the bake under way. */
  get promotionPending(): boolean {
    return this.promotion !== undefined;
  }

  get rollingBack(): boolean {
    return this.rollbackRequest !== undefined;
  }

  /** Starts a new run with the same state when Temporal suggests it, so long canaries keep a small history. */
  async continueAsNewIfSuggested(): Promise<void> {
    if (!workflowInfo().continueAsNewSuggested || this.rollbackRequest) return;
    await condition(allHandlersFinished);
    const snapshot: EngineSnapshot = {
      stepIndex: this.status.step.index,
      status: this.status,
      facts: this.facts,
      compensations: this.compensations,
      bake: this.bakeProgress,
      promoteAll: this.promoteAll,
    };
    this.note(`continuing as a new run to keep history small (${workflowInfo().historyLength} events)`);
    await continueAsNew<(input: UpgradeInput) => Promise<UpgradeResult>>({ plan: this.plan, startedBy: this.startedBy, resume: snapshot });
  }

  /** Re-reads step descriptions once blue's names are known. */
  refreshStepDescriptions(): void {
    this.status.steps = this.steps.map((step) => this.describe(step));
    this.status.step.description = this.describe(this.steps[this.status.step.index]);
  }

  private describe(step: Step | undefined): string {
    return step ? describeStep(step, { green: this.plan.green.name, blue: this.status.blue }) : 'done';
  }

  /** Reads blue before anything changes; inside the step scope, so a rollback or cancel ends it at once. */
  private async preflight(): Promise<void> {
    const inspected = await this.runInStepScope({ kind: 'inspect' });
    if (inspected.kind === 'rollback') throw new Error(inspected.request.reason);
  }

  private async runInStepScope(step: Step | { kind: 'inspect' }): Promise<StepOutcome> {
    this.stepScope = new CancellationScope();
    try {
      return await this.stepScope.run(() => runStep(this, step));
    } catch (error) {
      if (error instanceof ContinueAsNew) throw error;
      if (isCancellation(error)) {
        // Our own rollback cancelled the step, or someone cancelled the workflow: either way, roll back.
        if (!this.rollbackRequest) this.requestRollback({ by: 'temporal', reason: 'the workflow was cancelled' });
        return { kind: 'continue' };
      }
      const reason = step.kind === 'inspect' ? messageOf(error) : `${this.describe(step)} failed: ${messageOf(error)}`;
      return { kind: 'rollback', request: { by: 'cutover', reason } };
    } finally {
      this.stepScope = undefined;
    }
  }

  private requestRollback(request: RollbackInput): void {
    if (this.rollbackRequest || FINAL_PHASES.has(this.status.phase)) return;
    this.rollbackRequest = request;
    this.note(`rollback requested by ${request.by}: ${request.reason}`);
    this.stepScope?.cancel();
  }

  private async rollBack(request: RollbackInput): Promise<UpgradeResult> {
    this.status.paused = false;
    this.status.awaitingApproval = false;
    this.setPhase('ROLLING_BACK', `rolling back: ${request.reason}`);
    try {
      await CancellationScope.nonCancellable(async () => {
        for (const compensation of [...this.compensations].reverse()) await runCompensation(this, compensation);
      });
    } catch (error) {
      return this.fail(`rollback could not finish: ${messageOf(error)}`, error);
    }
    this.clearCompensations();
    this.setTraffic(0);
    this.setPhase('ROLLED_BACK', `${namesWith(this.status.blue, 'serves', 'serve')} ${this.plan.routingGroup}; ${request.reason}`);
    return { outcome: 'ROLLED_BACK', reason: request.reason, status: this.status };
  }

  private fail(message: string, cause: unknown): never {
    this.status.error = message;
    this.setPhase('FAILED', message);
    throw ApplicationFailure.create({ message, type: 'UpgradeFailed', nonRetryable: true, cause: cause instanceof Error ? cause : undefined });
  }

  private async holdWhilePaused(): Promise<void> {
    if (!this.status.paused) return;
    try {
      await condition(() => !this.status.paused || this.rollbackRequest !== undefined);
    } catch (error) {
      if (!isCancellation(error)) throw error;
      this.requestRollback({ by: 'temporal', reason: 'the workflow was cancelled' });
    }
  }

  /** Re-renders the UI's current details from the status. */
  refreshDetails(): void {
    setCurrentDetails(renderDetails(this.status));
  }

  private installHandlers(): void {
    setHandler(statusQuery, () => this.status);
    setHandler(approveSignal, (input) => void this.approve(input));
    setHandler(rollbackSignal, (input) => void this.rollback(input));
    setHandler(pauseSignal, (input) => void this.pause(input));
    setHandler(resumeSignal, (input) => void this.resume(input));
    setHandler(approveUpdate, (input) => this.approve(input), { validator: (input) => this.validateApprove(input) });
    setHandler(rollbackUpdate, (input) => this.rollback(input), { validator: (input) => this.validateRollback(input) });
    setHandler(pauseUpdate, (input) => this.pause(input), { validator: (_input) => this.validatePause() });
    setHandler(resumeUpdate, (input) => this.resume(input), { validator: (_input) => this.validateResume() });
    setHandler(promoteSignal, (input) => void this.promote(input));
    setHandler(promoteUpdate, (input) => this.promote(input), { validator: (input) => this.validatePromote(input) });
  }

  private approve(input: ApproveInput): Acknowledgement {
    const refusal = this.approvalRefusal(input);
    if (refusal) {
      // A stray approve is recorded and dropped, never carried to a later gate.
      this.note(`approve from ${input?.by ?? 'unknown'} ignored: ${refusal}`);
      return { accepted: true, message: `ignored: ${refusal}` };
    }
    this.approval = input;
    return { accepted: true, message: `approved by ${input.by}; shifting traffic to ${this.plan.green.name}` };
  }

  private approvalRefusal(input: ApproveInput | undefined): string | undefined {
    if (!input || typeof input.by !== 'string' || !input.by) return 'an approval must say who approves ({"by": "name"})';
    if (!this.status.awaitingApproval) return `nothing awaits approval (phase ${this.status.phase})`;
    const approvers = this.plan.approval.approvers;
    if (approvers && !approvers.includes(input.by)) return `${input.by} is not an approver (approvers: ${approvers.join(', ')})`;
    return undefined;
  }

  private validateApprove(input: ApproveInput): void {
    const refusal = this.approvalRefusal(input);
    if (refusal) throw new Error(refusal);
  }

  private rollback(input: RollbackInput): Acknowledgement {
    const refusal = this.rollbackRefusal(input);
    if (refusal) {
      this.note(`rollback from ${input?.by ?? 'unknown'} ignored: ${refusal}`);
      return { accepted: true, message: `ignored: ${refusal}` };
    }
    this.requestRollback({ by: input.by, reason: input.reason || 'no reason given' });
    return { accepted: true, message: `rolling back ${this.plan.routingGroup} to ${this.status.blue.join(', ')}` };
  }

  private rollbackRefusal(input: RollbackInput | undefined): string | undefined {
    if (!input || typeof input.by !== 'string' || !input.by) return 'a rollback must say who asks ({"by": "name", "reason": "..."})';
    if (FINAL_PHASES.has(this.status.phase)) return `the upgrade already ended (${this.status.phase})`;
    if (this.rollbackRequest) return 'a rollback is already under way';
    if (this.retiring) return 'blue is being retired; a rollback is no longer possible, start a new upgrade instead';
    return undefined;
  }

  private validateRollback(input: RollbackInput): void {
    const refusal = this.rollbackRefusal(input);
    if (refusal) throw new Error(refusal);
    if (!input.reason) throw new Error('a rollback needs a reason');
  }

  private pause(input: { by: string }): Acknowledgement {
    if (this.validatePauseMessage()) return { accepted: true, message: `ignored: ${this.validatePauseMessage()}` };
    this.status.paused = true;
    this.note(`paused by ${input?.by ?? 'unknown'}: the next step waits for resume`);
    return { accepted: true, message: `paused before: ${this.status.step.description}` };
  }

  private validatePauseMessage(): string | undefined {
    if (FINAL_PHASES.has(this.status.phase) || this.rollbackRequest) return `the upgrade is ${this.rollbackRequest ? 'rolling back' : 'over'}`;
    if (this.status.paused) return 'already paused';
    return undefined;
  }

  private validatePause(): void {
    const refusal = this.validatePauseMessage();
    if (refusal) throw new Error(refusal);
  }

  private resume(input: { by: string }): Acknowledgement {
    if (!this.status.paused) return { accepted: true, message: 'ignored: not paused' };
    this.status.paused = false;
    this.note(`resumed by ${input?.by ?? 'unknown'}`);
    return { accepted: true, message: `resumed: ${this.status.step.description}` };
  }

  private promote(input: PromoteInput): Acknowledgement {
    const refusal = this.promoteRefusal(input);
    if (refusal) {
      this.note(`promote from ${input?.by ?? 'unknown'} ignored: ${refusal}`);
      return { accepted: true, message: `ignored: ${refusal}` };
    }
    this.promotion = input;
    if (input.full) this.promoteAll = true;
    this.note(`promoted by ${input.by}: ${input.full ? 'skipping every remaining step up to 100%' : 'skipping the current bake'}`);
    return { accepted: true, message: input.full ? 'promoting: green takes 100% next' : 'promoting: the current bake ends now' };
  }

  private promoteRefusal(input: PromoteInput | undefined): string | undefined {
    if (!input || typeof input.by !== 'string' || !input.by) return 'a promote must say who asks ({"by": "name"})';
    if (this.plan.strategy !== 'canary') return 'promote applies to canary upgrades only';
    if (FINAL_PHASES.has(this.status.phase) || this.rollbackRequest) return `the upgrade is ${this.rollbackRequest ? 'rolling back' : 'over'}`;
    if (this.retiring || this.status.phase === 'DRAINING') return 'green already takes all traffic';
    if (!input.full && this.status.phase !== 'BAKING') return `nothing bakes now (phase ${this.status.phase}); use --full to skip the remaining steps`;
    return undefined;
  }

  private validatePromote(input: PromoteInput): void {
    const refusal = this.promoteRefusal(input);
    if (refusal) throw new Error(refusal);
  }

  private validateResume(): void {
    if (!this.status.paused) throw new Error('the upgrade is not paused');
  }
}

export function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  const message = cause instanceof Error && cause.message && cause.message !== error.message ? cause.message : error.message;
  // The last error alone would read like one failure; say that the step kept failing until it gave up.
  return error instanceof ActivityFailure && error.retryState === 'TIMEOUT' ? `${message} (still failing when its retry budget ran out)` : message;
}
