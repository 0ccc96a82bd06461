import { describeSelector } from '../integrations/traffic/selector';
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
import type { RollbackReason } from '../metrics';
import type { UpgradePlan } from '../plan/schema';
import type { UpgradeEventKind } from '../upgrade-events';
import { failedRetireFails, trafficBackBeforeDrain } from './activity-options';
import { gateId } from './approvals';
import { ChangeWindowGate, waitsForWindow } from './change-window';
import { renderDetails } from './details';
import {
  FINAL_PHASES,
  statusQuery,
  TIMELINE_KEPT,
  type AnalysisProgress,
  type ApproveInput,
  type Phase,
  type PromoteInput,
  type RollbackInput,
  type UpgradeResult,
  type UpgradeStatus,
} from './messages';
import type { FleetMembership } from './fleet/messages';
import { MemberReporter } from './fleet/member';
import { installOperatorActions, type OperatorTarget } from './operator-actions';
import { releaseOwnership } from './ownership';
import { stepRollbackReason, UpgradeReporter } from './reporting';
import {
  CutoverPhase,
  CutoverRoutingGroup,
  CutoverStrategy,
  CutoverTargetVersion,
  CutoverTrafficPercent,
} from './search-attributes';
import {
  describeStep,
  preflight,
  rollbackPlan,
  runCompensation,
  runStep,
  type Compensation,
  type RunFacts,
  type Step,
} from './steps';
import { CONTINUE, namesWith, type ApprovalDecision, type StepContext, type StepOutcome } from './steps/context';

/** Input of every upgrade workflow: the validated plan (no secrets: the worker holds those). */
export interface UpgradeInput {
  plan: UpgradePlan;
  /** Who started it, for the timeline. */
  startedBy?: string;
  /** State carried over by continue-as-new. */
  resume?: EngineSnapshot;
  /** Set when a fleet started the upgrade: it reports its progress there (README "Fleet upgrades"). */
  fleet?: FleetMembership;
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
  /** Who asked for `promote --full` (absent in snapshots of older runs). */
  promotedAllBy?: string;
  /** Nonces of signed requests already seen (absent in snapshots of older runs). */
  usedNonces?: string[];
  /** Workflow time the current step started at (absent in snapshots of older runs). */
  stepStartedAt?: number;
}

/**
 * The one step engine: runs a strategy's list of steps in order, answers operator messages,
 * records what each step changed, and undoes it in reverse order when the upgrade rolls back. It
 * knows no step by name: each step's work and undo live in src/workflows/steps/.
 */
export class UpgradeEngine implements StepContext, OperatorTarget {
  readonly facts: RunFacts = { blue: [] };
  readonly status: UpgradeStatus;
  promoteAll = false;
  promotedAllBy?: string;
  bakeProgress?: AnalysisProgress;
  readonly usedNonces = new Set<string>();
  private readonly compensations: Compensation[] = [];
  private rollbackRequest?: RollbackInput;
  private approval?: ApproveInput;
  private promotion?: PromoteInput;
  private stepScope?: CancellationScope;
  private retiring = false;
  private readonly firstStep: number;
  private readonly reporter: UpgradeReporter;
  private stepStartedAt: number;
  private readonly changeWindow = new ChangeWindowGate(this);
  private readonly member: MemberReporter;

  constructor(
    readonly plan: UpgradePlan,
    readonly steps: Step[],
    private readonly startedBy: string | undefined,
    private readonly resumed?: EngineSnapshot,
    private readonly fleet?: FleetMembership,
  ) {
    this.member = new MemberReporter(fleet);
    this.firstStep = resumed?.stepIndex ?? 0;
    if (resumed) {
      Object.assign(this.facts, resumed.facts);
      this.compensations.push(...resumed.compensations);
      this.bakeProgress = resumed.bake;
      this.promoteAll = resumed.promoteAll;
      this.promotedAllBy = resumed.promotedAllBy;
      for (const nonce of resumed.usedNonces ?? []) this.usedNonces.add(nonce);
    }
    this.status = resumed?.status ?? {
      id: workflowInfo().workflowId,
      runId: workflowInfo().firstExecutionRunId,
      strategy: plan.strategy,
      phase: 'PROVISIONING',
      paused: false,
      routingGroup: plan.routingGroup,
      blue: plan.blue?.backends ?? [],
      green: { name: plan.green.name, url: plan.green.url, version: plan.green.version },
      trafficPercent: 0,
      ...(plan.canary?.selector ? { selection: describeSelector(plan.canary.selector) } : {}),
      step: { index: 0, total: steps.length, description: '' },
      gate: gateId(0, steps[0]?.kind),
      steps: [],
      awaitingApproval: false,
      health: {},
      timeline: [],
    };
    // Statuses carried over from runs of older code lack these two.
    this.status.runId = workflowInfo().firstExecutionRunId;
    this.status.gate = gateId(this.status.step.index, this.steps[this.status.step.index]?.kind);
    this.refreshStepDescriptions();
    this.reporter = new UpgradeReporter(this, resumed?.status.phase);
    this.stepStartedAt = resumed?.stepStartedAt ?? Date.now();
    setHandler(statusQuery, () => this.status);
    installOperatorActions(this);
  }

  /** Runs the plan to SUCCEEDED or ROLLED_BACK; throws (phase FAILED) when the rollback or the retire could not finish. */
  async run(): Promise<UpgradeResult> {
    let continuing = false;
    try {
      return await this.runPlan();
    } catch (error) {
      continuing = error instanceof ContinueAsNew;
      throw error;
    } finally {
      // However the upgrade ends, the routing groups and the rule it held are free again.
      if (!continuing) await releaseOwnership(this);
      await this.reporter.settle();
    }
  }

  private async runPlan(): Promise<UpgradeResult> {
    if (this.resumed) {
      this.note(
        `continued as a new run (history of the previous run was ${workflowInfo().continuedFromExecutionRunId ?? 'closed'})`,
      );
      this.changeWindow.resumeCloseTimer();
    } else {
      this.setPhase(
        'PROVISIONING',
        `upgrade of ${this.plan.routingGroup} to ${this.plan.green.version} started${this.startedBy ? ` by ${this.startedBy}` : ''}`,
      );
      this.status.step.description = preflight.describe(this);
      const inspected = await this.runInStepScope(
        () => preflight.run(this),
        (error) => messageOf(error),
      );
      this.reporter.stepEnded('preflight', this.stepStartedAt, inspected.kind === 'rollback' ? 'stopped' : 'completed');
      if (inspected.kind === 'rollback')
        return this.fail(
          `preflight failed, nothing was changed: ${inspected.request.reason}`,
          new Error(inspected.request.reason),
        );
    }
    for (let index = this.firstStep; index < this.steps.length && !this.rollbackRequest; index++) {
      await this.holdWhilePaused();
      if (this.rollbackRequest) break;
      const step = this.steps[index];
      const description = this.describe(step);
      this.status.step = { index, total: this.steps.length, description };
      this.status.gate = gateId(index, step.kind);
      this.member.report(this.status, step.kind);
      // A continued run goes on with the step its predecessor was in, which started back then.
      if (!this.resumed || index !== this.firstStep) this.stepStartedAt = Date.now();
      const outcome = await this.runInStepScope(
        async () => {
          // Steps that move traffic or retire blue run only in the change window (patch `change-windows`).
          if (waitsForWindow(step, this.promoteAll)) {
            await this.changeWindow.awaitOpening(description, step.kind === 'shift' ? 'SHIFTING' : undefined);
            if (this.rollbackRequest) return CONTINUE;
          }
          return runStep(this, step);
        },
        (error) => `${description} failed: ${messageOf(error)}`,
      );
      const stopped = outcome.kind === 'rollback' || this.rollbackRequest !== undefined;
      this.reporter.stepEnded(step.kind, this.stepStartedAt, stopped ? 'stopped' : 'completed');
      if (outcome.kind === 'rollback') {
        // Past the point of no return nothing is undone: a failure there is the upgrade's failure.
        if (this.retiring && failedRetireFails())
          return this.fail(outcome.request.reason, new Error(outcome.request.reason));
        this.requestRollback(outcome.request, stepRollbackReason(outcome.request.by));
      }
    }
    if (this.rollbackRequest) return this.rollBack(this.rollbackRequest);
    this.setPhase('SUCCEEDED', `${this.plan.green.name} (${this.plan.green.version}) serves ${this.plan.routingGroup}`);
    return { outcome: 'SUCCEEDED', status: this.status };
  }

  registerCompensation(compensation: Compensation): void {
    if (!this.compensations.some((existing) => existing.kind === compensation.kind))
      this.compensations.push(compensation);
  }

  pointOfNoReturn(): void {
    this.retiring = true;
    this.compensations.length = 0;
  }

  get pastPointOfNoReturn(): boolean {
    return this.retiring;
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
    this.reporter.phaseSet(phase, message);
    this.member.report(this.status, this.steps[this.status.step.index]?.kind ?? 'preflight', message);
  }

  notify(kind: UpgradeEventKind, message: string): void {
    this.reporter.notify(kind, message);
  }

  note(message: string): void {
    const { timeline } = this.status;
    timeline.push({ at: new Date().toISOString(), phase: this.status.phase, message });
    if (timeline.length > TIMELINE_KEPT) {
      const dropped = timeline.splice(0, timeline.length - TIMELINE_KEPT).length;
      this.status.timelineDropped = (this.status.timelineDropped ?? 0) + dropped;
    }
    this.refreshDetails();
  }

  setTraffic(percent: number): void {
    this.status.trafficPercent = percent;
    upsertSearchAttributes([{ key: CutoverTrafficPercent, value: percent }]);
    this.refreshDetails();
  }

  refreshDetails(): void {
    setCurrentDetails(renderDetails(this.status));
  }

  refreshStepDescriptions(): void {
    this.status.steps = this.steps.map((step) => this.describe(step));
    this.status.step.description = this.describe(this.steps[this.status.step.index]);
  }

  async awaitApproval(timeout: string, summary: string): Promise<ApprovalDecision> {
    this.approval = undefined;
    const decided = await condition(
      () => this.approval !== undefined || this.rollbackRequest !== undefined,
      timeout as Duration,
      { summary },
    );
    this.status.awaitingApproval = false;
    this.refreshDetails();
    if (this.rollbackRequest) return { kind: 'rollback' };
    if (!decided || !this.approval) return { kind: 'timeout' };
    return { kind: 'approved', approval: this.approval };
  }

  async waitUnlessRollback(duration: string, summary: string): Promise<boolean> {
    return !(await condition(() => this.rollbackRequest !== undefined, duration as Duration, { summary }));
  }

  async holdWhilePaused(): Promise<void> {
    if (!this.status.paused) return;
    try {
      await condition(() => !this.status.paused || this.rollbackRequest !== undefined);
    } catch (error) {
      if (!isCancellation(error)) throw error;
      this.requestRollback({ by: 'temporal', reason: 'the workflow was cancelled' }, 'cancelled');
    }
  }

  takePromotion(): PromoteInput | undefined {
    const promotion = this.promotion;
    this.promotion = undefined;
    return promotion;
  }

  get promotionPending(): boolean {
    return this.promotion !== undefined;
  }

  get rollingBack(): boolean {
    return this.rollbackRequest !== undefined;
  }

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
      promotedAllBy: this.promotedAllBy,
      usedNonces: [...this.usedNonces],
      stepStartedAt: this.stepStartedAt,
    };
    this.note(`continuing as a new run to keep history small (${workflowInfo().historyLength} events)`);
    await continueAsNew<(input: UpgradeInput) => Promise<UpgradeResult>>({
      plan: this.plan,
      startedBy: this.startedBy,
      resume: snapshot,
      ...(this.fleet ? { fleet: this.fleet } : {}),
    });
  }

  approve(input: ApproveInput): void {
    this.approval = input;
  }

  promote(input: PromoteInput): void {
    this.promotion = input;
    if (input.full) {
      this.promoteAll = true;
      this.promotedAllBy = input.by;
    }
  }

  useNonce(nonce: string): void {
    this.usedNonces.add(nonce);
  }

  /** `reason` says who decided it, for the metrics: operators (signals, updates) unless the engine says otherwise. */
  requestRollback(request: RollbackInput, reason: RollbackReason = 'operator'): void {
    if (this.rollbackRequest || FINAL_PHASES.has(this.status.phase)) return;
    this.rollbackRequest = request;
    this.reporter.rollbackRequested(reason, this.steps[this.status.step.index]?.kind ?? 'preflight', request.reason);
    this.note(`rollback requested by ${request.by}: ${request.reason}`);
    this.stepScope?.cancel();
  }

  private describe(step: Step | undefined): string {
    return step ? describeStep(step, { green: this.plan.green.name, blue: this.status.blue }) : 'done';
  }

  /**
   * Runs a step in its own cancellation scope, so a rollback (or a cancel of the workflow) ends it
   * at once; a failure becomes a rollback request whose reason `reasonOf` words.
   */
  private async runInStepScope(
    work: () => Promise<StepOutcome>,
    reasonOf: (error: unknown) => string,
  ): Promise<StepOutcome> {
    this.stepScope = new CancellationScope();
    try {
      return await this.stepScope.run(work);
    } catch (error) {
      if (error instanceof ContinueAsNew) throw error;
      if (isCancellation(error)) {
        // Our own rollback cancelled the step, or someone cancelled the workflow: either way, roll back.
        if (!this.rollbackRequest)
          this.requestRollback({ by: 'temporal', reason: 'the workflow was cancelled' }, 'cancelled');
        return { kind: 'continue' };
      }
      return { kind: 'rollback', request: { by: 'cutover', reason: reasonOf(error) } };
    } finally {
      this.stepScope = undefined;
    }
  }

  private async rollBack(request: RollbackInput): Promise<UpgradeResult> {
    this.status.paused = false;
    this.status.awaitingApproval = false;
    // Compensations never wait for a change window: moving traffic back to blue is always allowed.
    this.status.changeWindow = undefined;
    this.setPhase('ROLLING_BACK', `rolling back: ${request.reason}`);
    const undo = rollbackPlan(this.compensations, trafficBackBeforeDrain());
    try {
      await CancellationScope.nonCancellable(async () => {
        for (const compensation of undo) await runCompensation(this, compensation);
      });
    } catch (error) {
      return this.fail(`rollback could not finish: ${messageOf(error)}`, error);
    }
    this.compensations.length = 0;
    this.setTraffic(0);
    this.setPhase(
      'ROLLED_BACK',
      `${namesWith(this.status.blue, 'serves', 'serve')} ${this.plan.routingGroup}; ${request.reason}`,
    );
    return { outcome: 'ROLLED_BACK', reason: request.reason, status: this.status };
  }

  private fail(message: string, cause: unknown): never {
    this.status.error = message;
    this.setPhase('FAILED', message);
    throw ApplicationFailure.create({
      message,
      type: 'UpgradeFailed',
      nonRetryable: true,
      cause: cause instanceof Error ? cause : undefined,
    });
  }
}

export function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  const message =
    cause instanceof Error && cause.message && cause.message !== error.message ? cause.message : error.message;
  // The last error alone would read like one failure; say that the step kept failing until it gave up.
  return error instanceof ActivityFailure && error.retryState === 'TIMEOUT'
    ? `${message} (still failing when its retry budget ran out)`
    : message;
}
