import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { AnalysisProgress, CanaryMeasurement, ClusterWindow, HealthSnapshot } from '../observations';
import type { ShadowReport } from '../shadow-report';
import type { ApprovalSignature } from '../signing/payload';

/** Task queue every cutover worker polls. */
export const TASK_QUEUE = 'cutover';

export type Phase =
  | 'PROVISIONING'
  | 'VERIFYING'
  | 'SHADOWING'
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
  /** `cutover approve --key`: proves who `by` is (README "Signed approvals"); the worker verifies it. */
  signature?: ApprovalSignature;
}
export interface RollbackInput {
  by: string;
  reason: string;
  signature?: ApprovalSignature;
}
export interface PauseInput {
  by: string;
}
export interface ResumeInput {
  by: string;
}
/** Skip the current bake; with `full`, every remaining step up to 100%. */
export interface PromoteInput {
  by: string;
  full?: boolean;
  signature?: ApprovalSignature;
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
  /** The upgrade's first run id: unchanged by continue-as-new, so signed approvals bind it. */
  runId: string;
  strategy: 'blue-green' | 'canary';
  phase: Phase;
  paused: boolean;
  routingGroup: string;
  blue: string[];
  blueVersion?: string;
  green: { name: string; url?: string; version: string };
  trafficPercent: number;
  /** The canary's selected traffic in words (plan `canary.selector`): green's share is of these queries only. */
  selection?: string;
  step: { index: number; total: number; description: string };
  /** The step operator actions answer now, `<index>:<kind>` (e.g. `3:approval`): signed approvals bind it. */
  gate: string;
  steps: string[];
  awaitingApproval: boolean;
  health: HealthSnapshot;
  /** Canary analysis: the last sample and how many failed in a row. */
  analysis?: {
    last?: CanaryMeasurement;
    samples: number;
    consecutiveFailures: number;
    /** Inconclusive samples in a row (too little traffic on green to judge it): the bake clock holds meanwhile. */
    inconclusiveSamples?: number;
  };
  /** Shadow validation (plan `shadow`): the report, what a mismatch does, and who acknowledged it (`block`). */
  shadow?: { report: ShadowReport; onMismatch: 'block' | 'rollback' | 'warn'; acknowledgedBy?: string };
  /** The change window as last checked (README "Change windows"); absent when no schedule or freeze concerns the upgrade. */
  changeWindow?: ChangeWindowStatus;
  /** The latest TIMELINE_KEPT entries; older ones are counted in `timelineDropped`. */
  timeline: TimelineEntry[];
  /** Entries dropped from the front of `timeline` to keep it bounded (absent: none). */
  timelineDropped?: number;
  error?: string;
}

/** What a step waits for, or until when it may move traffic. */
export interface ChangeWindowStatus {
  /** `waiting`: `step` waits for the next opening; `open`: traffic may move (until `closesAtText`, when set). */
  state: 'waiting' | 'open';
  /** What waits or may go ahead: "shift 25% to trino-green", or "resume" for an upgrade the window's close paused. */
  step: string;
  /** Waiting: why ("outside the change window mon 22:00-06:00 Europe/Berlin", "frozen by the worker policy: ..."). */
  reason?: string;
  frozen?: boolean;
  /** Waiting: "Tue 22:00 Europe/Berlin" (absent: no opening within a year). */
  opensAtText?: string;
  /** Waiting: when the wait's timer fires and the window is checked again (workflow clock, ISO). */
  until?: string;
  /** Open: when it closes, "Tue 06:00 Europe/Berlin". */
  closesAtText?: string;
  /** Open: when it closes (workflow clock, ISO). */
  closesBy?: string;
  /** Open: what the close does (`schedule.onWindowClose`). */
  onClose?: 'finish-step' | 'pause';
}

/** Timeline entries the status keeps: signal spam cannot grow it (or a continue-as-new snapshot) without limit. */
export const TIMELINE_KEPT = 200;

/** What a finished upgrade returns. */
export interface UpgradeResult {
  outcome: 'SUCCEEDED' | 'ROLLED_BACK';
  reason?: string;
  status: UpgradeStatus;
}

/** One operator action's messages: a signal (fire and forget, e.g. from the Temporal UI) and its validated, acknowledged update twin of the same name. */
function operatorMessage<I>(name: string) {
  return { signal: defineSignal<[I]>(name), update: defineUpdate<Acknowledgement, [I]>(name) };
}

/** The input of each operator action, by the action's message name. */
export interface OperatorInputs {
  approve: ApproveInput;
  rollback: RollbackInput;
  pause: PauseInput;
  resume: ResumeInput;
  promote: PromoteInput;
}
export type OperatorActionName = keyof OperatorInputs;

/** Every operator action's messages; the workflow installs one handler pair per entry (operator-actions.ts). */
export const OPERATOR_MESSAGES: { [K in OperatorActionName]: ReturnType<typeof operatorMessage<OperatorInputs[K]>> } = {
  approve: operatorMessage<ApproveInput>('approve'),
  rollback: operatorMessage<RollbackInput>('rollback'),
  pause: operatorMessage<PauseInput>('pause'),
  resume: operatorMessage<ResumeInput>('resume'),
  promote: operatorMessage<PromoteInput>('promote'),
};

export const approveSignal = OPERATOR_MESSAGES.approve.signal;
export const rollbackSignal = OPERATOR_MESSAGES.rollback.signal;
export const pauseSignal = OPERATOR_MESSAGES.pause.signal;
export const resumeSignal = OPERATOR_MESSAGES.resume.signal;
export const promoteSignal = OPERATOR_MESSAGES.promote.signal;
export const approveUpdate = OPERATOR_MESSAGES.approve.update;
export const rollbackUpdate = OPERATOR_MESSAGES.rollback.update;
export const pauseUpdate = OPERATOR_MESSAGES.pause.update;
export const resumeUpdate = OPERATOR_MESSAGES.resume.update;
export const promoteUpdate = OPERATOR_MESSAGES.promote.update;

export const statusQuery = defineQuery<UpgradeStatus>('status');

export type { AnalysisProgress, ApprovalSignature, CanaryMeasurement, ClusterWindow, HealthSnapshot };
