import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Acknowledgement, ApproveInput, PauseInput, Phase, ResumeInput, RollbackInput } from '../messages';

/** The workflow id of a fleet: one fleet of a name runs at a time. */
export function fleetWorkflowId(name: string): string {
  return `cutover-fleet-${name}`;
}

/** The workflow id of a group's upgrade, whether started alone or by a fleet: one upgrade per group. */
export function upgradeWorkflowId(routingGroup: string): string {
  return `cutover-${routingGroup}`;
}

/**
 * Where a fleet stands. HALTED: a group failed under `onFailure: halt` and the fleet waits for the
 * operator (resume goes on with the groups not started, rollback undoes the warm ones, cancel ends it).
 */
export type FleetPhase =
  | 'STARTING'
  | 'RUNNING'
  | 'AWAITING_APPROVAL'
  | 'SOAKING'
  | 'PAUSED'
  | 'HALTED'
  | 'ROLLING_BACK'
  | 'SUCCEEDED'
  | 'COMPLETED_WITH_FAILURES'
  | 'ROLLED_BACK'
  | 'CANCELLED'
  | 'FAILED';

export const FINAL_FLEET_PHASES: ReadonlySet<FleetPhase> = new Set([
  'SUCCEEDED',
  'COMPLETED_WITH_FAILURES',
  'ROLLED_BACK',
  'CANCELLED',
  'FAILED',
]);

/**
 * A group's place in its fleet. WARM: green serves it and blue is kept warm (its upgrade still runs
 * and can roll back at once): the wave counts it done. UP_TO_DATE: at the fleet's start the group's
 * green (`<group>-<version>` unless named) was already its only active backend, as an earlier run
 * of the fleet leaves it: nothing is started for it. BLOCKED: another upgrade of the group was
 * running, nothing was started. SKIPPED: the fleet ended before the group's turn.
 */
export type MemberState =
  'PENDING' | 'RUNNING' | 'WARM' | 'SUCCEEDED' | 'UP_TO_DATE' | 'ROLLED_BACK' | 'FAILED' | 'BLOCKED' | 'SKIPPED';

/** Member states after which the group's upgrade runs no more. */
export const FINAL_MEMBER_STATES: ReadonlySet<MemberState> = new Set([
  'SUCCEEDED',
  'UP_TO_DATE',
  'ROLLED_BACK',
  'FAILED',
  'BLOCKED',
  'SKIPPED',
]);

/** Member states that count against the fleet (`onFailure`). */
export const FAILED_MEMBER_STATES: ReadonlySet<MemberState> = new Set(['ROLLED_BACK', 'FAILED', 'BLOCKED']);

export interface FleetMemberStatus {
  routingGroup: string;
  /** Index of its wave in `waves`. */
  wave: number;
  /** Its upgrade's workflow id, `cutover-<routingGroup>` like a single upgrade's. */
  workflowId: string;
  strategy: 'blue-green' | 'canary';
  green: { name: string; version: string };
  state: MemberState;
  /** The upgrade's phase as it last reported it. */
  phase?: Phase;
  trafficPercent: number;
  /** The upgrade's current step, in words. */
  step?: string;
  /** Why it ended as it did (rollback reason, failure, the upgrade that blocked it). */
  reason?: string;
  startedAt?: string;
  endedAt?: string;
}

export type WaveState = 'PENDING' | 'AWAITING_APPROVAL' | 'RUNNING' | 'SOAKING' | 'DONE' | 'STOPPED';

export interface FleetWaveStatus {
  name: string;
  maxParallel: number;
  approval: boolean;
  soak?: string;
  state: WaveState;
  /** Its routing groups, in start order. */
  groups: string[];
  approvedBy?: string;
  startedAt?: string;
  endedAt?: string;
  /** SOAKING: when the soak ends (workflow clock, ISO). */
  soakUntil?: string;
}

export interface FleetTimelineEntry {
  at: string;
  message: string;
}

/** The `fleetStatus` query: what `cutover fleet status` and the UI show. */
export interface FleetStatus {
  /** The fleet's workflow id, `cutover-fleet-<name>`. */
  id: string;
  /** Its first run id (unchanged by continue-as-new). */
  runId: string;
  name: string;
  version: string;
  gateway: string;
  onFailure: 'halt' | 'continue' | 'rollback-wave';
  phase: FleetPhase;
  paused: boolean;
  /** Index of the wave under way (or last run) in `waves`. */
  wave: number;
  waves: FleetWaveStatus[];
  members: FleetMemberStatus[];
  /** Why the fleet halted: the group and what happened to it. */
  halted?: { routingGroup: string; reason: string };
  /** True while the fleet's own gate (approval before a wave) waits. */
  awaitingApproval: boolean;
  /**
   * The gate operator actions answer now, `<wave index>:<kind>` (0-based like `wave`), e.g.
   * `2:approval` while the approval before the third wave waits, `2:wave` while it runs: signed
   * approvals bind it (the signed payload's gate format, src/signing/payload.ts).
   */
  gate: string;
  /** Runs of the fleet's workflow so far (1 + continue-as-new count). */
  runs: number;
  startedBy?: string;
  timeline: FleetTimelineEntry[];
  timelineDropped?: number;
  error?: string;
}

/** Input of `fleetUpgrade`: the fleet plan as written (the worker validates it), no secrets. */
export interface FleetInput {
  fleet: unknown;
  startedBy?: string;
  /**
   * History events after which the fleet continues as new, at its next start of a group (default
   * 2,000; at least 100). Lower it to keep each run's history small when groups report often.
   */
  historyLimit?: number;
  /** State carried over by continue-as-new (refused in a new start). */
  resume?: FleetSnapshot;
}

/** What a fleet's next run needs: the status (members, waves, timeline) and the plans of its groups. */
export interface FleetSnapshot {
  status: FleetStatus;
  /** Routing groups the patterns resolved to when the fleet started: never resolved again. */
  resolvedGroups: string[];
  /** Members whose upgrades started in an earlier run and may still run. */
  carried: string[];
}

export type FleetWorkflow = (input: FleetInput) => Promise<FleetResult>;

/** What a fleet returns when it ends. */
export interface FleetResult {
  outcome: FleetPhase;
  status: FleetStatus;
}

/**
 * What an upgrade that belongs to a fleet reports to its fleet on every change of phase, step or
 * traffic (a signal to the fleet's workflow id, so it reaches the fleet's current run).
 */
export interface MemberReport {
  routingGroup: string;
  workflowId: string;
  phase: Phase;
  trafficPercent: number;
  /** The step's kind (`keepWarm`: green serves, blue is warm) and its words. */
  stepKind: string;
  step: string;
  reason?: string;
}

/** Set on an upgrade started by a fleet: where to report. */
export interface FleetMembership {
  /** The fleet's workflow id. */
  workflowId: string;
  name: string;
}

export const memberReportSignal = defineSignal<[MemberReport]>('fleetMemberReport');

export const fleetStatusQuery = defineQuery<FleetStatus>('fleetStatus');

/**
 * Fleet verbs: the same names and inputs as a single upgrade's (so the Temporal UI sends them the
 * same way), each a signal and an acknowledged update. `cancel` is Temporal's own cancellation.
 */
export const fleetApproveSignal = defineSignal<[ApproveInput]>('approve');
export const fleetApproveUpdate = defineUpdate<Acknowledgement, [ApproveInput]>('approve');
export const fleetPauseSignal = defineSignal<[PauseInput]>('pause');
export const fleetPauseUpdate = defineUpdate<Acknowledgement, [PauseInput]>('pause');
export const fleetResumeSignal = defineSignal<[ResumeInput]>('resume');
export const fleetResumeUpdate = defineUpdate<Acknowledgement, [ResumeInput]>('resume');
export const fleetRollbackSignal = defineSignal<[RollbackInput]>('rollback');
export const fleetRollbackUpdate = defineUpdate<Acknowledgement, [RollbackInput]>('rollback');
