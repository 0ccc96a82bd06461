import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Step } from './steps';

/** Task queue every cutover worker polls. */
export const TASK_QUEUE = 'cutover';

export type Phase =
  | 'PROVISIONING'
  | 'VERIFYING'
  | 'AWAITING_APPROVAL'
  | 'SHIFTING'
  | 'BAKING'
  | 'DRAINING'
  | 'RETIRING'
  | 'SUCCEEDED'
  | 'ROLLING_BACK'
  | 'ROLLED_BACK'
  | 'FAILED';

export const FINAL_PHASES: ReadonlySet<Phase> = new Set(['SUCCEEDED', 'ROLLED_BACK', 'FAILED']);

export interface ApproveInput {
  by: string;
  comment?: string;
}
export interface RollbackInput {
  by: string;
  reason: string;
}
export interface PauseInput {
  by: string;
}
/** Skip the current bake; with `full`, every remaining step up to 100%. */
export interface PromoteInput {
  by: string;
  full?: boolean;
}

/** One analysis sample of green during a canary bake. */
export interface CanaryMeasurement {
  at: string;
  gatewayStatus?: string;
  version?: string;
  /** Queries green finished (and failed) since the previous sample. */
  finished: number;
  failed: number;
  errorRate: number;
  queued: number;
  /** Why this sample counts as a failure; undefined when green looked healthy. */
  problem?: string;
}

/**
 * Progress of a canary bake's analysis: the analysis activity heartbeats it after every sample
 * (so a retry resumes and the CLI and UI see the live sample), returns it to the workflow, and
 * continue-as-new carries it.
 */
export interface AnalysisProgress {
  /** Bake time analysed so far; the clock stops while paused. */
  elapsedMs: number;
  /** Bad samples in a row. */
  failures: number;
  /** Start of the current analysis window (epoch ms). */
  since: number;
  previousQueued?: number;
  samples: number;
  last?: CanaryMeasurement;
}

/** Answer of an update: what the workflow did with the request. */
export interface Acknowledgement {
  accepted: true;
  message: string;
}

export interface TimelineEntry {
  /** ISO time of the workflow clock. */
  at: string;
  phase: Phase;
  message: string;
}

/** Last health observation of green (and of blue while draining). */
export interface HealthSnapshot {
  gatewayStatus?: string;
  version?: string;
  activeWorkers?: number;
  runningQueries?: number;
  queuedQueries?: number;
  message?: string;
  checkedAt?: string;
}

/** The `status` query: everything `cutover status` and the UI show. */
export interface UpgradeStatus {
  id: string;
  strategy: 'blue-green' | 'canary';
  phase: Phase;
  paused: boolean;
  routingGroup: string;
  blue: string[];
  blueVersion?: string;
  green: { name: string; url?: string; version: string };
  trafficPercent: number;
  step: { index: number; total: number; description: string };
  steps: string[];
  awaitingApproval: boolean;
  health: HealthSnapshot;
  /** Canary analysis: the last sample and how many failed in a row. */
  analysis?: { last?: CanaryMeasurement; samples: number; consecutiveFailures: number };
  timeline: TimelineEntry[];
  error?: string;
}

/** What a finished upgrade returns. */
export interface UpgradeResult {
  outcome: 'SUCCEEDED' | 'ROLLED_BACK';
  reason?: string;
  status: UpgradeStatus;
}

export const approveSignal = defineSignal<[ApproveInput]>('approve');
export const rollbackSignal = defineSignal<[RollbackInput]>('rollback');
export const pauseSignal = defineSignal<[PauseInput]>('pause');
export const resumeSignal = defineSignal<[PauseInput]>('resume');

/** Update twins of the signals: same names, validated, acknowledged. */
export const approveUpdate = defineUpdate<Acknowledgement, [ApproveInput]>('approve');
export const rollbackUpdate = defineUpdate<Acknowledgement, [RollbackInput]>('rollback');
export const pauseUpdate = defineUpdate<Acknowledgement, [PauseInput]>('pause');
export const resumeUpdate = defineUpdate<Acknowledgement, [PauseInput]>('resume');

export const promoteSignal = defineSignal<[PromoteInput]>('promote');
export const promoteUpdate = defineUpdate<Acknowledgement, [PromoteInput]>('promote');

export const statusQuery = defineQuery<UpgradeStatus>('status');

export type { Step };
