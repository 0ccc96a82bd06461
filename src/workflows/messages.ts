import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { AnalysisProgress, CanaryMeasurement, HealthSnapshot } from '../observations';
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

export type { AnalysisProgress, CanaryMeasurement, HealthSnapshot, Step };
