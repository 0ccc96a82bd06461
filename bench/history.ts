import type { Client } from '@temporalio/client';

type Event = {
  eventId?: unknown;
  eventTime?: { seconds?: unknown; nanos?: number | null } | null;
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string | null } | null } | null;
  activityTaskStartedEventAttributes?: { scheduledEventId?: unknown } | null;
  activityTaskCompletedEventAttributes?: { scheduledEventId?: unknown } | null;
  activityTaskFailedEventAttributes?: { scheduledEventId?: unknown } | null;
  activityTaskTimedOutEventAttributes?: { scheduledEventId?: unknown } | null;
  activityTaskCanceledEventAttributes?: { scheduledEventId?: unknown } | null;
  timerStartedEventAttributes?: unknown;
  timerFiredEventAttributes?: { startedEventId?: unknown } | null;
  timerCanceledEventAttributes?: { startedEventId?: unknown } | null;
  workflowExecutionStartedEventAttributes?: unknown;
};

function ms(event: Event): number {
  const time = event.eventTime;
  return Number(time?.seconds ?? 0) * 1000 + Math.floor((time?.nanos ?? 0) / 1e6);
}

const id = (value: unknown): string => String(value);

/**
 * Activities that wait on something external the plan configured: cluster start-up (provision +
 * readiness), gateway health convergence (register, flip), the bake, the drain, and the canary's
 * rules-refresh waits. Their started→closed time is "external wait"; everything else
 * (workflow tasks, queueing of tasks, quick gateway calls) is orchestration overhead.
 */
export const WAIT_ACTIVITIES = new Set([
  'provisionGreen',
  'verifyGreen',
  'waitForGatewayHealthy',
  'shiftTraffic',
  'bakeGreen',
  'analyseCanary',
  'drainBackends',
  'shiftCanary',
  'resetCanary',
]);

export interface HistoryBreakdown {
  events: number;
  /** WorkflowExecutionStarted → last event (close), ms. */
  totalMs: number;
  /** Started→closed of the waiting activities plus started→fired of timers (keep-warm, bakes), ms. */
  waitMs: number;
  /** Started→closed of the other (quick) activities, ms. */
  quickActivityMs: number;
  /** Per waiting activity type, ms. */
  waits: Record<string, number>;
}

/** Each activity task that closed in `events`: its type, when it was scheduled, started (if it was) and closed. */
function* closedActivities(
  events: Event[],
): Generator<{ type: string; scheduledMs: number; startedMs?: number; closedMs: number }> {
  const scheduled = new Map<string, { type: string; at: number }>();
  const startedAt = new Map<string, number>();
  for (const event of events) {
    const type = event.activityTaskScheduledEventAttributes?.activityType?.name;
    if (event.activityTaskScheduledEventAttributes)
      scheduled.set(id(event.eventId), { type: type ?? '?', at: ms(event) });
    if (event.activityTaskStartedEventAttributes)
      startedAt.set(id(event.activityTaskStartedEventAttributes.scheduledEventId), ms(event));
    const closed =
      event.activityTaskCompletedEventAttributes ??
      event.activityTaskFailedEventAttributes ??
      event.activityTaskTimedOutEventAttributes ??
      event.activityTaskCanceledEventAttributes;
    if (!closed) continue;
    const scheduledId = id(closed.scheduledEventId);
    const task = scheduled.get(scheduledId);
    yield {
      type: task?.type ?? '?',
      scheduledMs: task?.at ?? ms(event),
      ...(startedAt.has(scheduledId) ? { startedMs: startedAt.get(scheduledId) } : {}),
      closedMs: ms(event),
    };
  }
}

/** Reads a run's history and splits its wall time into external waits and the rest. */
export async function analyseHistory(client: Client, workflowId: string, runId?: string): Promise<HistoryBreakdown> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  const events = (history.events ?? []) as Event[];
  const byId = new Map<string, Event>();
  for (const event of events) byId.set(id(event.eventId), event);
  const waits: Record<string, number> = {};
  let waitMs = 0;
  let quickActivityMs = 0;
  for (const activity of closedActivities(events)) {
    const took = activity.closedMs - (activity.startedMs ?? activity.scheduledMs);
    if (WAIT_ACTIVITIES.has(activity.type)) {
      waitMs += took;
      waits[activity.type] = (waits[activity.type] ?? 0) + took;
    } else {
      quickActivityMs += took;
    }
  }
  for (const event of events) {
    const timerEnd = event.timerFiredEventAttributes ?? event.timerCanceledEventAttributes;
    if (timerEnd) {
      const took = ms(event) - ms(byId.get(id(timerEnd.startedEventId))!);
      waitMs += took;
      waits.timers = (waits.timers ?? 0) + took;
    }
  }
  return {
    events: events.length,
    totalMs: ms(events[events.length - 1]) - ms(events[0]),
    waitMs,
    quickActivityMs,
    waits,
  };
}

/** Every run of a workflow id (continue-as-new makes several), oldest first, with its event count. */
export async function runsOf(client: Client, workflowId: string): Promise<{ runId: string; events: number }[]> {
  const runs: { runId: string; start: number }[] = [];
  for await (const run of client.workflow.list({ query: `WorkflowId = '${workflowId}'` }))
    runs.push({ runId: run.runId, start: run.startTime.getTime() });
  runs.sort((a, b) => a.start - b.start);
  const out: { runId: string; events: number }[] = [];
  for (const run of runs) {
    const history = await client.workflow.getHandle(workflowId, run.runId).fetchHistory();
    out.push({ runId: run.runId, events: history.events?.length ?? 0 });
  }
  return out;
}

/** A run's events, wall time, and started→closed time of each activity type (summed over its attempts and calls). */
export async function activityTimes(
  client: Client,
  workflowId: string,
): Promise<{ events: number; totalMs: number; activities: Record<string, number> }> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const events = (history.events ?? []) as Event[];
  const activities: Record<string, number> = {};
  for (const { type, startedMs, closedMs } of closedActivities(events))
    if (startedMs !== undefined) activities[type] = (activities[type] ?? 0) + closedMs - startedMs;
  return { events: events.length, totalMs: ms(events[events.length - 1]) - ms(events[0]), activities };
}
