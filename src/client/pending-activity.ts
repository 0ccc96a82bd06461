/** Reads an upgrade's running activity from `describe()`: what it is, its retries, and its last heartbeat (a canary's live sample). */
import type { WorkflowExecutionDescription } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { formatSeconds } from '../observations';
import { counted } from '../plural';
import type { AnalysisProgress, CanaryMeasurement, UpgradeStatus } from '../workflows/messages';

/** The activity an upgrade is running now, as `describe()` reports it. */
export interface PendingActivityView {
  type: string;
  attempt: number;
  /** One line of what the last heartbeat says. */
  summary?: string;
  lastHeartbeat?: string;
  /** Why the previous attempt failed, while it is retried. */
  lastFailure?: string;
  /** The last heartbeat's details, decoded. */
  heartbeat?: unknown;
}

type Payload = Parameters<typeof defaultPayloadConverter.fromPayload>[0];

/**
 * The pending activity worth showing: one that is retrying, else the first. Deliveries of events to
 * webhooks (`notify`) run beside the steps and are left out: a receiver that is down shows in the
 * worker's log and, once given up, in the timeline, never in place of what the upgrade is doing.
 */
export function pendingActivityOf(description: WorkflowExecutionDescription): PendingActivityView | undefined {
  const pending = (description.raw.pendingActivities ?? []).filter(
    (activity) => activity.activityType?.name !== 'notify',
  );
  const shown = pending.find((activity) => (activity.attempt ?? 1) > 1) ?? pending[0];
  if (!shown) return undefined;
  const seconds = shown.lastHeartbeatTime?.seconds;
  const heartbeat = decode(shown.heartbeatDetails?.payloads?.[0]);
  return {
    type: shown.activityType?.name ?? 'activity',
    attempt: shown.attempt ?? 1,
    summary: summaryOf(heartbeat),
    lastHeartbeat: seconds == null ? undefined : new Date(Number(seconds) * 1000).toISOString(),
    lastFailure: shown.lastFailure?.message ?? undefined,
    heartbeat,
  };
}

/** A canary sample read from the analysis activity's heartbeat, with the bake's sample count. */
export type LiveSample = CanaryMeasurement & { samples: number };

/** The canary analysis's latest sample from its heartbeat, when it is newer than the one the workflow recorded. */
export function liveSample(
  activity: PendingActivityView | undefined,
  status: UpgradeStatus | undefined,
): LiveSample | undefined {
  const progress = analysisProgress(activity);
  const sample = progress?.last;
  if (!progress || !sample) return undefined;
  const recorded = status?.analysis?.last?.at;
  return recorded && recorded >= sample.at ? undefined : { ...sample, samples: progress.samples };
}

/** `retrying: <what>, attempt N: <last failure>` for an activity past its first attempt. */
export function retryText(
  activity: PendingActivityView | undefined,
  status: UpgradeStatus | undefined,
): string | undefined {
  if (!activity || activity.attempt <= 1) return undefined;
  const what = status ? `${activity.type} (${status.step.description})` : activity.type;
  return `retrying: ${what}, attempt ${activity.attempt}${activity.lastFailure ? `: ${activity.lastFailure}` : ''}`;
}

function analysisProgress(activity: PendingActivityView | undefined): AnalysisProgress | undefined {
  if (activity?.type !== 'analyseCanary') return undefined;
  const progress = activity.heartbeat as AnalysisProgress | undefined;
  return progress && typeof progress.elapsedMs === 'number' ? progress : undefined;
}

function decode(payload: Payload | undefined): unknown {
  if (!payload) return undefined;
  try {
    return defaultPayloadConverter.fromPayload<unknown>(payload) ?? undefined;
  } catch {
    return undefined;
  }
}

/**
 * One plain line for a heartbeat: polls send `{observation}`, provisioning `{message}`, the canary
 * analysis its progress, the flip `{stage, backend}`, the retire `{retired}`. Anything else is not
 * summarised (raw JSON is no sentence); `--json` still carries it as `heartbeat`.
 */
function summaryOf(details: unknown): string | undefined {
  if (typeof details === 'string') return details;
  if (typeof details !== 'object' || details === null) return undefined;
  const { observation, message, elapsedMs, samples, unwatchedMs, inconclusiveMs, stage, backend, retired } =
    details as Record<string, unknown>;
  if (typeof observation === 'string') return observation;
  if (typeof message === 'string') return message;
  if (typeof elapsedMs === 'number') {
    const unwatched =
      typeof unwatchedMs === 'number' && unwatchedMs > 0 ? `, ${formatSeconds(unwatchedMs)} unwatched (made up)` : '';
    const held =
      typeof inconclusiveMs === 'number' && inconclusiveMs > 0
        ? `; inconclusive for ${formatSeconds(inconclusiveMs)} (too little traffic on green): the clock holds`
        : '';
    return `${Math.round(elapsedMs / 1000)} s of the bake analysed${typeof samples === 'number' ? `, ${counted(samples, 'sample')}` : ''}${unwatched}${held}`;
  }
  if (stage === 'activated' && typeof backend === 'string')
    return `${backend} activated; waiting until the gateway lists it active and HEALTHY`;
  if (typeof retired === 'string') return `${retired} retired`;
  return undefined;
}
