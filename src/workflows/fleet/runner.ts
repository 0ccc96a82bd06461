import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowFailure,
  condition,
  continueAsNew,
  isCancellation,
  ParentClosePolicy,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
  type SignalDefinition,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError, type Duration, type UpdateDefinition } from '@temporalio/common';
import type { CutoverActivities } from '../../activities';
import type { FleetGatewayGroups, MemberAction } from '../../activities/fleet';
import { expandFleet, type FleetGroup } from '../../fleet/expand';
import type { FleetPlan } from '../../fleet/schema';
import { durationMs } from '../../plan/duration';
import type { UpgradePlan } from '../../plan/schema';
import { bindingMismatch, parseApprovalPayload, signatureShapeProblem } from '../../signing/payload';
import { FINAL_PHASES, TIMELINE_KEPT, type Acknowledgement, type ApproveInput } from '../messages';
import {
  CutoverFleet,
  CutoverPhase,
  CutoverRoutingGroup,
  CutoverStrategy,
  CutoverTargetVersion,
  CutoverTrafficPercent,
} from '../search-attributes';
import { memberCounts, renderFleetDetails } from './details';
import {
  FAILED_MEMBER_STATES,
  FINAL_FLEET_PHASES,
  FINAL_MEMBER_STATES,
  fleetApproveSignal,
  fleetApproveUpdate,
  fleetPauseSignal,
  fleetPauseUpdate,
  fleetResumeSignal,
  fleetResumeUpdate,
  fleetRollbackSignal,
  fleetRollbackUpdate,
  fleetStatusQuery,
  memberReportSignal,
  upgradeWorkflowId,
  type FleetInput,
  type FleetMemberStatus,
  type FleetPhase,
  type FleetResult,
  type FleetSnapshot,
  type FleetStatus,
  type FleetWorkflow,
  type MemberReport,
} from './messages';

/** History events after which a fleet continues as new at its next safe point (before it starts a group). */
export const FLEET_HISTORY_LIMIT = 2_000;
/** The lowest limit a fleet input may set: a run must have room for a few groups. */
const MIN_HISTORY_LIMIT = 100;

const fleetQuick = proxyActivities<CutoverActivities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
});

/** Waits for upgrades started by an earlier run: as long as they may run, noticed dead within a minute. */
const fleetWatch = proxyActivities<CutoverActivities>({
  startToCloseTimeout: '30d',
  heartbeatTimeout: '1m',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1m' },
});

/** How the fleet stops: rolled back by an operator, one wave rolled back by `onFailure: rollback-wave`, or cancelled. */
interface Stop {
  kind: 'rollback' | 'rollback-wave' | 'cancel';
  by: string;
  reason: string;
  wave?: number;
}

/** The worker's refusal of a fleet: every problem named, nothing started. */
export function refuseFleet(problems: string[]): never {
  const message = `the worker refused this fleet; no upgrade was started:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`;
  upsertSearchAttributes([{ key: CutoverPhase, value: 'FAILED' }]);
  setCurrentDetails(
    `### Fleet refused by the worker\n\nNo upgrade was started.\n\n${problems.map((problem) => `- ${problem}`).join('\n')}`,
  );
  throw ApplicationFailure.create({ message, type: 'PlanRefused', nonRetryable: true, details: [problems] });
}

/**
 * Runs a fleet: its waves in order, each group's upgrade as a child workflow `cutover-<group>`
 * (the id of a single upgrade of the group, so a group already upgrading blocks), at most
 * `maxParallel` at once per wave, an approval before a wave and a soak after it where the plan
 * asks. A group counts done for its wave once green serves it and blue is kept warm (its upgrade
 * runs on until it retires blue). The failure policy decides what a ROLLED_BACK, FAILED or BLOCKED
 * group does to the rest. History stays bounded: groups report by signal, and the fleet continues
 * as new before it starts a group once FLEET_HISTORY_LIMIT events are reached.
 */
export class FleetRunner {
  readonly status: FleetStatus;
  private readonly plans = new Map<string, UpgradePlan>();
  private readonly byWorkflowId = new Map<string, FleetMemberStatus>();
  private readonly resolvedGroups: string[];
  private stop?: Stop;
  private gateApproval?: ApproveInput;
  private readonly usedNonces = new Set<string>();
  private readonly carried: Set<string>;

  constructor(
    private readonly fleet: FleetPlan,
    private readonly input: FleetInput,
  ) {
    const resume = input.resume;
    this.resolvedGroups = resume?.resolvedGroups ?? [];
    this.carried = new Set(resume?.carried ?? []);
    this.status = resume?.status ?? {
      id: workflowInfo().workflowId,
      runId: workflowInfo().firstExecutionRunId,
      name: fleet.name,
      version: fleet.version,
      gateway: fleet.gateway.url,
      onFailure: fleet.onFailure,
      phase: 'STARTING',
      paused: false,
      wave: 0,
      waves: [],
      members: [],
      awaitingApproval: false,
      gate: 'none',
      runs: 1,
      startedBy: input.startedBy,
      timeline: [],
    };
    if (resume) {
      this.status.runs += 1;
      this.expand(this.resolvedGroups);
    }
    setHandler(fleetStatusQuery, () => this.status);
    setHandler(memberReportSignal, (report) => this.onReport(report));
    this.installVerbs();
  }

  async run(): Promise<FleetResult> {
    try {
      if (this.input.resume) {
        this.note(`continued as a new run (run ${this.status.runs}) to keep history small`);
        this.watchCarried();
      } else await this.prepare();
      for (let index = this.status.wave; index < this.status.waves.length && !this.stop; index++) {
        this.status.wave = index;
        if (!(await this.runWave(index))) break;
      }
    } catch (error) {
      if (!isCancellation(error)) throw error;
      this.requestStop({ kind: 'cancel', by: 'temporal', reason: 'the fleet was cancelled' });
    }
    return CancellationScope.nonCancellable(() => this.finish());
  }

  /** Reads the gateway's routing groups, builds and checks every group's plan: nothing starts unless all pass. */
  private async prepare(): Promise<void> {
    this.setPhase(
      'STARTING',
      `fleet ${this.fleet.name} to Trino ${this.fleet.version} started${this.input.startedBy ? ` by ${this.input.startedBy}` : ''}`,
    );
    let gateway: FleetGatewayGroups;
    try {
      gateway = await fleetQuick.fleetGatewayGroups({
        gateway: {
          url: this.fleet.gateway.url,
          requestTimeout: this.fleet.gateway.requestTimeout,
          ...(this.fleet.gateway.replicas ? { replicas: this.fleet.gateway.replicas } : {}),
        },
      });
    } catch (error) {
      this.refuse([`gateway: its routing groups could not be read: ${failureMessage(error)}`]);
    }
    const problems = this.expand(gateway.groups);
    if (problems.length > 0) this.refuse(problems);
    this.resolvedGroups.push(...gateway.groups);
    this.markUpToDate(gateway.active);
    const checked = await fleetQuick.checkFleetRuns({
      plans: this.status.members
        .filter((member) => member.state === 'PENDING')
        .map((member) => this.plans.get(member.routingGroup)!),
    });
    if (checked.problems.length > 0) this.refuse(checked.problems);
    this.note(
      `${this.status.members.length} routing groups in ${this.status.waves.length} waves: ${this.status.waves.map((wave) => `${wave.name} (${wave.groups.join(', ')})`).join('; ')}`,
    );
  }

  /**
   * A group whose green is already its only active backend is where this fleet would leave it (a
   * fleet run again after a halt finds its earlier waves so): nothing is started for it, and it
   * counts as done. Read once, at the fleet's start.
   */
  private markUpToDate(active: Record<string, string[]>): void {
    for (const member of this.status.members) {
      const serving = active[member.routingGroup] ?? [];
      if (serving.length !== 1 || serving[0] !== member.green.name) continue;
      member.state = 'UP_TO_DATE';
      member.trafficPercent = 100;
      member.reason = `already on Trino ${member.green.version}: ${member.green.name} is its only active backend; nothing started`;
      this.note(`${member.routingGroup}: ${member.reason}`);
    }
  }

  /** Every group's plan from the gateway's groups, deterministically; the status's waves and members on the first run. */
  private expand(groups: readonly string[]): string[] {
    const expansion = expandFleet(this.fleet, groups);
    if (!expansion.ok) return expansion.problems;
    const fresh = this.status.members.length === 0;
    expansion.waves.forEach((wave, index) => {
      for (const group of wave.groups) this.plans.set(group.routingGroup, group.plan);
      if (!fresh) return;
      this.status.waves.push({
        name: wave.name,
        maxParallel: wave.maxParallel,
        approval: wave.approval,
        ...(wave.soak ? { soak: wave.soak } : {}),
        state: 'PENDING',
        groups: wave.groups.map((group) => group.routingGroup),
      });
      for (const group of wave.groups) this.status.members.push(memberOf(group, index));
    });
    for (const member of this.status.members) this.byWorkflowId.set(member.workflowId, member);
    return [];
  }

  private refuse(problems: string[]): never {
    this.status.error = problems.join('; ');
    this.status.phase = 'FAILED';
    refuseFleet(problems);
  }

  /** One wave: its approval, its groups at most maxParallel at once, then its soak. False: the fleet stops here. */
  private async runWave(index: number): Promise<boolean> {
    const wave = this.status.waves[index];
    if (wave.state === 'DONE') return true;
    const members = this.status.members.filter((member) => member.wave === index);
    if (members.every((member) => member.state === 'UP_TO_DATE')) {
      wave.state = 'DONE';
      wave.endedAt = new Date().toISOString();
      this.note(`${wave.name} done: every group already on Trino ${this.fleet.version}, nothing to approve or soak`);
      return true;
    }
    if (wave.approval && !wave.approvedBy) {
      wave.state = 'AWAITING_APPROVAL';
      this.status.awaitingApproval = true;
      this.status.gate = `${index}:approval`;
      this.setPhase(
        'AWAITING_APPROVAL',
        `${wave.name} waits for an approval: cutover fleet approve ${this.fleet.name}`,
      );
      this.gateApproval = undefined;
      await condition(() => this.gateApproval !== undefined || this.stop !== undefined);
      this.status.awaitingApproval = false;
      this.status.gate = `${index}:wave`;
      if (this.stop) return false;
      wave.approvedBy = this.gateApproval!.by;
      this.note(`${wave.name} approved by ${wave.approvedBy}`);
    }
    this.status.gate = `${index}:wave`;
    if (wave.state !== 'RUNNING') {
      wave.state = 'RUNNING';
      wave.startedAt = new Date().toISOString();
      this.setPhase('RUNNING', `${wave.name} started: ${wave.groups.join(', ')} (${wave.maxParallel} at once)`);
    }
    for (const member of members) {
      if (member.state !== 'PENDING') continue;
      if (!(await this.holdForStart(members, wave.maxParallel))) break;
      await this.continueAsNewIfDue();
      this.startMember(member);
    }
    await condition(() => this.stop !== undefined || members.every(settled));
    if (this.stop || !(await this.holdWhileHalted())) return false;
    if (wave.soak) {
      wave.state = 'SOAKING';
      wave.soakUntil = new Date(Date.now() + durationMs(wave.soak)).toISOString();
      this.setPhase('SOAKING', `${wave.name} soaks ${wave.soak}`);
      await condition(() => this.stop !== undefined || this.status.halted !== undefined, wave.soak as Duration);
      if (this.stop || !(await this.holdWhileHalted())) return false;
    }
    wave.state = 'DONE';
    wave.endedAt = new Date().toISOString();
    this.note(`${wave.name} done: ${memberCounts(members)}`);
    return true;
  }

  /** Waits until a group of the wave may start: not paused, not halted, fewer than maxParallel running. False: stopping. */
  private async holdForStart(members: FleetMemberStatus[], maxParallel: number): Promise<boolean> {
    await condition(
      () =>
        this.stop !== undefined ||
        (!this.status.paused &&
          this.status.halted === undefined &&
          members.filter((member) => member.state === 'RUNNING').length < maxParallel),
    );
    return this.stop === undefined;
  }

  /** A halted fleet waits for the operator: resume (true) or rollback / cancel (false). */
  private async holdWhileHalted(): Promise<boolean> {
    await condition(() => this.stop !== undefined || (this.status.halted === undefined && !this.status.paused));
    return this.stop === undefined;
  }

  private startMember(member: FleetMemberStatus): void {
    const plan = this.plans.get(member.routingGroup)!;
    member.state = 'RUNNING';
    member.phase = 'PROVISIONING';
    member.startedAt = new Date().toISOString();
    this.refreshDetails();
    void CancellationScope.nonCancellable(async () => {
      try {
        const child = await startChild<
          (input: unknown) => Promise<{ outcome: 'SUCCEEDED' | 'ROLLED_BACK'; reason?: string }>
        >(plan.strategy === 'canary' ? 'canaryUpgrade' : 'blueGreenUpgrade', {
          workflowId: member.workflowId,
          args: [
            {
              plan,
              startedBy: `fleet ${this.fleet.name}${this.input.startedBy ? ` (${this.input.startedBy})` : ''}`,
              fleet: { workflowId: this.status.id, name: this.fleet.name },
            },
          ],
          // The fleet may continue as new (or end) while a group's upgrade keeps blue warm: never end it then.
          parentClosePolicy: ParentClosePolicy.ABANDON,
          staticSummary: `${plan.strategy} ${plan.routingGroup} -> ${plan.green.name} ${plan.green.version} (fleet ${this.fleet.name})`,
          typedSearchAttributes: [
            { key: CutoverFleet, value: this.fleet.name },
            { key: CutoverPhase, value: 'PROVISIONING' },
            { key: CutoverRoutingGroup, value: plan.routingGroup },
            { key: CutoverStrategy, value: plan.strategy },
            { key: CutoverTargetVersion, value: plan.green.version },
            { key: CutoverTrafficPercent, value: 0 },
          ],
        });
        this.note(`${member.routingGroup}: upgrade ${member.workflowId} started`);
        const result = await child.result();
        this.memberEnded(member, result.outcome, result.reason);
      } catch (error) {
        if (error instanceof WorkflowExecutionAlreadyStartedError)
          this.memberEnded(
            member,
            'BLOCKED',
            `another upgrade of ${member.routingGroup} is running (${member.workflowId}): nothing was started`,
          );
        else this.memberEnded(member, 'FAILED', failureMessage(error));
      }
    });
  }

  /** A report from a group's upgrade: its phase, traffic and step; its end; whether blue is kept warm. */
  private onReport(report: MemberReport): void {
    const member = this.byWorkflowId.get(report.workflowId);
    if (!member || member.routingGroup !== report.routingGroup || FINAL_MEMBER_STATES.has(member.state)) return;
    if (member.state === 'PENDING') return;
    member.phase = report.phase;
    member.trafficPercent = report.trafficPercent;
    member.step = report.step;
    if (FINAL_PHASES.has(report.phase)) {
      this.memberEnded(member, report.phase as 'SUCCEEDED' | 'ROLLED_BACK' | 'FAILED', report.reason);
      return;
    }
    const warm = (report.stepKind === 'keepWarm' || report.stepKind === 'retire') && report.phase !== 'ROLLING_BACK';
    if (warm && member.state === 'RUNNING') {
      member.state = 'WARM';
      this.note(`${member.routingGroup}: green serves it, blue is kept warm`);
    } else if (!warm && member.state === 'WARM') member.state = 'RUNNING';
    this.refreshDetails();
  }

  private memberEnded(
    member: FleetMemberStatus,
    outcome: 'SUCCEEDED' | 'ROLLED_BACK' | 'FAILED' | 'BLOCKED',
    reason: string | undefined,
  ): void {
    if (FINAL_MEMBER_STATES.has(member.state)) return;
    member.state = outcome;
    member.phase = outcome === 'BLOCKED' ? undefined : outcome;
    if (outcome === 'SUCCEEDED') member.trafficPercent = 100;
    if (outcome === 'ROLLED_BACK') member.trafficPercent = 0;
    member.reason = reason?.slice(0, 300);
    member.endedAt = new Date().toISOString();
    this.carried.delete(member.workflowId);
    this.note(`${member.routingGroup}: ${outcome}${reason ? `: ${reason}` : ''}`);
    if (!FAILED_MEMBER_STATES.has(outcome) || this.stop) return;
    switch (this.fleet.onFailure) {
      case 'halt':
        if (!this.status.halted) {
          this.status.halted = {
            routingGroup: member.routingGroup,
            reason: `${outcome}${reason ? `: ${reason}` : ''}`,
          };
          this.setPhase(
            'HALTED',
            `halted: ${member.routingGroup} ${outcome}; no new group starts, running ones finish; cutover fleet resume|rollback|cancel ${this.fleet.name}`,
          );
        }
        break;
      case 'continue':
        this.note(`${member.routingGroup} ${outcome}: the fleet continues (onFailure: continue)`);
        break;
      case 'rollback-wave':
        this.requestStop({
          kind: 'rollback-wave',
          by: 'cutover',
          reason: `${member.routingGroup} ${outcome}: rolling back ${this.status.waves[member.wave].name} (onFailure: rollback-wave)`,
          wave: member.wave,
        });
        break;
    }
  }

  private requestStop(stop: Stop): void {
    if (this.stop) return;
    this.stop = stop;
    this.setPhase(
      'ROLLING_BACK',
      `${stop.kind === 'cancel' ? 'cancelling' : 'rolling back'}: ${stop.reason} (by ${stop.by})`,
    );
  }

  /** Undoes what the stop asks, waits for every started group to end, and says how the fleet ended. */
  private async finish(): Promise<FleetResult> {
    const stop = this.stop;
    if (stop) {
      const targets = this.status.members.filter(
        (member) =>
          (member.state === 'RUNNING' || (member.state === 'WARM' && stop.kind !== 'cancel')) &&
          (stop.wave === undefined || member.wave === stop.wave),
      );
      if (targets.length > 0)
        await this.forward(stop.kind === 'cancel' ? 'cancel' : 'rollback', targets, {
          by: `${stop.by} (fleet ${this.fleet.name})`,
          reason: stop.reason,
        });
    }
    for (const member of this.status.members)
      if (member.state === 'PENDING') {
        member.state = 'SKIPPED';
        member.reason = stop ? `the fleet stopped before its turn: ${stop.reason}` : 'the fleet ended before its turn';
      }
    for (const wave of this.status.waves)
      if (wave.state !== 'DONE') wave.state = wave.state === 'PENDING' ? 'PENDING' : 'STOPPED';
    if (this.status.members.some((member) => !FINAL_MEMBER_STATES.has(member.state)))
      this.note(
        'waiting for the upgrades still running to end (those keeping blue warm retire it when their time is up)',
      );
    this.watchCarried();
    await condition(() => this.status.members.every((member) => FINAL_MEMBER_STATES.has(member.state)));
    const outcome: FleetPhase = stop
      ? stop.kind === 'cancel'
        ? 'CANCELLED'
        : 'ROLLED_BACK'
      : this.status.members.every((member) => member.state === 'SUCCEEDED' || member.state === 'UP_TO_DATE')
        ? 'SUCCEEDED'
        : 'COMPLETED_WITH_FAILURES';
    this.status.halted = undefined;
    this.setPhase(outcome, `fleet ${this.fleet.name} ${outcome}: ${memberCounts(this.status.members)}`);
    await condition(allHandlersFinished);
    return { outcome, status: this.status };
  }

  /** Upgrades started by an earlier run are watched through Temporal too: one that ended without reporting is noticed. */
  private watchCarried(): void {
    const ids = [...this.carried].filter((id) => {
      const member = this.byWorkflowId.get(id);
      return member !== undefined && !FINAL_MEMBER_STATES.has(member.state);
    });
    if (ids.length === 0) return;
    this.carried.clear();
    void CancellationScope.nonCancellable(async () => {
      let watched = ids;
      while (watched.length > 0) {
        const closed = await fleetWatch.awaitMembersClosed({ workflowIds: watched });
        for (const entry of closed) {
          const member = this.byWorkflowId.get(entry.workflowId);
          if (member) this.memberEnded(member, entry.outcome, entry.reason);
        }
        watched = watched.filter((id) => !FINAL_MEMBER_STATES.has(this.byWorkflowId.get(id)!.state));
      }
    });
  }

  /** Continues as new before starting a group once the history is long: groups still running go on reporting by signal. */
  private async continueAsNewIfDue(): Promise<void> {
    const info = workflowInfo();
    const limit = Math.max(MIN_HISTORY_LIMIT, this.input.historyLimit ?? FLEET_HISTORY_LIMIT);
    if (!info.continueAsNewSuggested && info.historyLength < limit) return;
    await condition(allHandlersFinished);
    const carried = this.status.members
      .filter((member) => member.state === 'RUNNING' || member.state === 'WARM')
      .map((member) => member.workflowId);
    this.note(`continuing as a new run to keep history small (${info.historyLength} events)`);
    const snapshot: FleetSnapshot = { status: this.status, resolvedGroups: this.resolvedGroups, carried };
    await continueAsNew<FleetWorkflow>({
      fleet: this.input.fleet,
      startedBy: this.input.startedBy,
      ...(this.input.historyLimit !== undefined ? { historyLimit: this.input.historyLimit } : {}),
      resume: snapshot,
    });
  }

  /** Sends a verb to groups' upgrades (one activity for all of them) and notes what they answered. */
  private async forward(
    action: MemberAction,
    members: FleetMemberStatus[],
    input: Record<string, unknown>,
  ): Promise<string> {
    const { answers } = await fleetQuick.forwardToMembers({
      action,
      workflowIds: members.map((member) => member.workflowId),
      input,
    });
    const text = answers.map((answer) => `${answer.workflowId}: ${answer.message}`).join('; ');
    this.note(`${action} sent to ${members.length} group${members.length === 1 ? '' : 's'}: ${text}`);
    return text;
  }

  private installVerbs(): void {
    this.install(
      fleetApproveSignal,
      fleetApproveUpdate,
      (input) => this.approveRefusal(input),
      (input) => this.approve(input),
    );
    this.install(
      fleetPauseSignal,
      fleetPauseUpdate,
      (input) => this.whoRefusal(input) ?? (this.status.paused ? 'the fleet is already paused' : this.overRefusal()),
      async (input) => {
        this.status.paused = true;
        this.setPhase('PAUSED', `paused by ${input.by}: no new group starts`);
        const running = this.active(false);
        if (running.length > 0) await this.forward('pause', running, { by: `${input.by} (fleet ${this.fleet.name})` });
        return `fleet paused; ${running.length} running upgrade(s) asked to pause`;
      },
    );
    this.install(
      fleetResumeSignal,
      fleetResumeUpdate,
      (input) =>
        this.whoRefusal(input) ??
        this.overRefusal() ??
        (!this.status.paused && !this.status.halted ? 'the fleet is neither paused nor halted' : undefined),
      async (input) => {
        const wasPaused = this.status.paused;
        const halted = this.status.halted;
        this.status.paused = false;
        this.status.halted = undefined;
        this.setPhase(
          'RUNNING',
          `resumed by ${input.by}${halted ? ` after the halt on ${halted.routingGroup}` : ''}: groups not started yet go on`,
        );
        const running = this.active(false);
        if (wasPaused && running.length > 0)
          await this.forward('resume', running, { by: `${input.by} (fleet ${this.fleet.name})` });
        return `fleet resumed${halted ? ` after the halt on ${halted.routingGroup}` : ''}`;
      },
    );
    this.install(
      fleetRollbackSignal,
      fleetRollbackUpdate,
      (input) =>
        this.whoRefusal(input) ??
        this.overRefusal() ??
        (typeof input?.reason !== 'string' || !input.reason
          ? 'a rollback must say why ({"by": "name", "reason": "..."})'
          : undefined),
      (input) => {
        const targets = this.active(true).length;
        this.requestStop({ kind: 'rollback', by: input.by, reason: input.reason });
        return `rolling back the fleet: ${targets} upgrade(s) still running or keeping blue warm roll back; no new group starts`;
      },
    );
  }

  private install<I>(
    signal: SignalDefinition<[I]>,
    update: UpdateDefinition<Acknowledgement, [I]>,
    refusal: (input: I | undefined) => string | undefined,
    apply: (input: I) => string | Promise<string>,
  ): void {
    const handle = async (input: I, via: 'signal' | 'update'): Promise<Acknowledgement> => {
      const refused = refusal(input);
      if (refused) {
        if (via === 'update') throw ApplicationFailure.create({ message: refused, nonRetryable: true });
        this.note(`${update.name} ignored: ${refused}`);
        return { accepted: true, message: `ignored: ${refused}` };
      }
      try {
        return { accepted: true, message: await apply(input) };
      } catch (error) {
        const message = failureMessage(error);
        this.note(`${update.name} refused: ${message}`);
        if (via === 'update') throw ApplicationFailure.create({ message, type: 'ApprovalRefused', nonRetryable: true });
        return { accepted: true, message: `refused: ${message}` };
      }
    };
    setHandler(signal, (input: I) => void handle(input, 'signal').catch(() => undefined));
    setHandler(update, (input: I) => handle(input, 'update'), {
      validator: (input: I) => {
        const refused = refusal(input);
        if (refused) throw new Error(refused);
      },
    });
  }

  private whoRefusal(input: { by?: unknown } | undefined): string | undefined {
    return !input || typeof input.by !== 'string' || !input.by ? 'say who asks ({"by": "name"})' : undefined;
  }

  private overRefusal(): string | undefined {
    if (FINAL_FLEET_PHASES.has(this.status.phase)) return `the fleet already ended (${this.status.phase})`;
    return this.stop ? `the fleet is ${this.stop.kind === 'cancel' ? 'being cancelled' : 'rolling back'}` : undefined;
  }

  private approveRefusal(input: ApproveInput | undefined): string | undefined {
    const who = this.whoRefusal(input) ?? this.overRefusal();
    if (who) return who;
    if (!this.status.awaitingApproval && this.awaitingMembers().length === 0)
      return `nothing awaits approval (fleet ${this.status.phase}, no group's upgrade waits at its approval)`;
    if (input!.signature !== undefined && this.status.awaitingApproval) return this.signatureRefusal(input!);
    return undefined;
  }

  private signatureRefusal(input: ApproveInput): string | undefined {
    const shape = signatureShapeProblem(input.signature);
    if (shape) return shape;
    try {
      return bindingMismatch(
        parseApprovalPayload(input.signature!.payload),
        {
          workflowId: this.status.id,
          runId: this.status.runId,
          action: 'approve',
          gate: this.status.gate,
          approver: input.by,
        },
        this.usedNonces,
      );
    } catch (error) {
      return failureMessage(error);
    }
  }

  /**
   * Approves the fleet's gate (checked by the worker for every group of the wave, as a single
   * upgrade's approval is) and the groups whose own upgrade waits at its approval (as `cutover
   * approve` would, unsigned: a worker that requires signatures refuses those, and says so).
   */
  private async approve(input: ApproveInput): Promise<string> {
    const answers: string[] = [];
    if (this.status.awaitingApproval) {
      const wave = this.status.waves[this.status.wave];
      if (input.signature) this.usedNonces.add(parseApprovalPayload(input.signature.payload).nonce);
      const verified = await fleetQuick.verifyFleetApproval({
        workflowId: this.status.id,
        runId: this.status.runId,
        action: 'approve',
        gate: this.status.gate,
        by: input.by,
        routingGroup: wave.groups[0] ?? this.fleet.name,
        routingGroups: wave.groups,
        signature: input.signature,
      });
      const by = verified.fingerprint
        ? `${verified.approver} (signature verified, key ${verified.fingerprint})`
        : verified.approver;
      if (!this.status.awaitingApproval)
        throw new Error('the gate was already approved or the fleet stopped meanwhile');
      this.gateApproval = { by, comment: input.comment };
      answers.push(`${wave.name} approved by ${by}`);
    }
    const waiting = this.awaitingMembers();
    if (waiting.length > 0)
      answers.push(
        await this.forward('approve', waiting, { by: input.by, ...(input.comment ? { comment: input.comment } : {}) }),
      );
    return answers.join('; ');
  }

  private awaitingMembers(): FleetMemberStatus[] {
    return this.status.members.filter((member) => member.state === 'RUNNING' && member.phase === 'AWAITING_APPROVAL');
  }

  /** Upgrades still running (and with `warm`, those keeping blue warm too). */
  private active(warm: boolean): FleetMemberStatus[] {
    return this.status.members.filter((member) => member.state === 'RUNNING' || (warm && member.state === 'WARM'));
  }

  private setPhase(phase: FleetPhase, message: string): void {
    this.status.phase = phase;
    upsertSearchAttributes([
      { key: CutoverPhase, value: phase },
      { key: CutoverFleet, value: this.fleet.name },
      { key: CutoverTargetVersion, value: this.fleet.version },
    ]);
    this.note(message);
  }

  private note(message: string): void {
    const { timeline } = this.status;
    timeline.push({ at: new Date().toISOString(), message });
    if (timeline.length > TIMELINE_KEPT) {
      const dropped = timeline.splice(0, timeline.length - TIMELINE_KEPT).length;
      this.status.timelineDropped = (this.status.timelineDropped ?? 0) + dropped;
    }
    this.refreshDetails();
  }

  private refreshDetails(): void {
    setCurrentDetails(renderFleetDetails(this.status));
  }
}

function memberOf(group: FleetGroup, wave: number): FleetMemberStatus {
  return {
    routingGroup: group.routingGroup,
    wave,
    workflowId: upgradeWorkflowId(group.routingGroup),
    strategy: group.plan.strategy,
    green: { name: group.plan.green.name, version: group.plan.green.version },
    state: 'PENDING',
    trafficPercent: 0,
  };
}

/** Done for its wave: ended, or green serves it and blue is kept warm. */
function settled(member: FleetMemberStatus): boolean {
  return member.state === 'WARM' || FINAL_MEMBER_STATES.has(member.state);
}

function failureMessage(error: unknown): string {
  let current: unknown = error;
  while (
    (current instanceof ActivityFailure || current instanceof ChildWorkflowFailure) &&
    (current as { cause?: unknown }).cause
  )
    current = (current as { cause?: unknown }).cause;
  return current instanceof Error ? current.message : String(current);
}
