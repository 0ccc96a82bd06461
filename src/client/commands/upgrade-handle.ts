import {
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  isGrpcCancelledError,
  isGrpcDeadlineError,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowExecutionStatusName,
} from '@temporalio/client';
import type { QueryDefinition, UpdateDefinition } from '@temporalio/common';
import { routingView, type RoutingView } from '../../analysis/routing-view';
import { statusQuery, type Acknowledgement, type UpgradeStatus } from '../../workflows/messages';
import { CutoverPhase, CutoverTrafficPercent } from '../../workflows/search-attributes';
import { liveSample, pendingActivityOf, type LiveSample, type PendingActivityView } from '../pending-activity';
import { RefusedError } from '../upgrades';

/** Workflow types that are cutover upgrades. */
export const UPGRADE_WORKFLOW_TYPES = ['blueGreenUpgrade', 'canaryUpgrade'] as const;

/** How long an operator waits for the workflow to acknowledge approve/rollback/pause/resume. */
const UPDATE_TIMEOUT_MS = 20_000;
/** `describeTaskQueue`'s TASK_QUEUE_TYPE_WORKFLOW: pollers of workflow tasks answer queries. */
const WORKFLOW_TASK_QUEUE_TYPE = 1;

/** Everything the CLI knows about one upgrade. */
export interface UpgradeView {
  id: string;
  runId: string;
  workflowType: string;
  executionStatus: WorkflowExecutionStatusName;
  startTime: string;
  closeTime?: string;
  /** From search attributes: known even when no worker answers. */
  phase?: string;
  trafficPercent?: number;
  /** The `status` query's answer, when a worker answered it. */
  status?: UpgradeStatus;
  /** Why there is no `status`. */
  workerProblem?: string;
  /** False when no worker polls the run's task queue. */
  workerPolling?: boolean;
  /** Attempt of a workflow task that keeps failing (a bug or non-determinism: see the worker's log). */
  failingWorkflowTaskAttempt?: number;
  /** The activity running now (heartbeat, retries), from describe. */
  pendingActivity?: PendingActivityView;
  /** The canary analysis's latest sample from its heartbeat, when newer than `status.analysis.last`. */
  liveSample?: LiveSample;
  /**
   * Routing in the latest analysis sample: per cluster the queries routed, running, queued,
   * finished, failed and the p95, and green's share of new queries against the share intended. From
   * the running analysis's heartbeat, else the workflow's last recorded sample.
   */
  analysis?: RoutingView;
}

/** Describes an upgrade; unknown ids and workflows that are not upgrades become clear refusals. */
export async function describeUpgrade(client: Client, id: string): Promise<WorkflowExecutionDescription> {
  let description: WorkflowExecutionDescription;
  try {
    description = await client.workflow.getHandle(id).describe();
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) throw new WorkflowNotFoundError(error.message, id, undefined);
    throw error;
  }
  if (!(UPGRADE_WORKFLOW_TYPES as readonly string[]).includes(description.type)) {
    throw new RefusedError(
      `${id} is a ${description.type} workflow, not a cutover upgrade; list upgrades with \`cutover list --all\``,
    );
  }
  return description;
}

/** Phase, traffic and pending activity from a description, without asking a worker. */
export function viewOfDescription(description: WorkflowExecutionDescription): UpgradeView {
  return {
    id: description.workflowId,
    runId: description.runId,
    workflowType: description.type,
    executionStatus: description.status.name,
    startTime: description.startTime.toISOString(),
    closeTime: description.closeTime?.toISOString(),
    phase: description.typedSearchAttributes.get(CutoverPhase),
    trafficPercent: description.typedSearchAttributes.get(CutoverTrafficPercent),
    pendingActivity: pendingActivityOf(description),
    failingWorkflowTaskAttempt: failingWorkflowTaskAttempt(description),
  };
}

function failingWorkflowTaskAttempt(description: WorkflowExecutionDescription): number | undefined {
  const attempt = description.raw.pendingWorkflowTask?.attempt ?? 0;
  return attempt > 1 ? attempt : undefined;
}

/**
 * How long the `status` query may go unanswered before the CLI checks whether any worker took it.
 * A worker that polls answers in milliseconds; one that stopped may still be listed as a poller of
 * the task queue for a while (the server keeps pollers it saw in the last minutes). A query to a
 * run a worker has cached goes to that worker's own sticky queue, which describe does not list:
 * a live worker slower than this to answer it would read as absent.
 */
const QUERY_PROBE_MS = 1_000;

/**
 * Reads an upgrade: describe, then the `status` query when a worker polls the task queue. A closed
 * run still answers the query while a worker runs; without one the view says so, within about a
 * second: a query nobody takes would otherwise wait for its whole deadline.
 */
export async function readUpgrade(client: Client, id: string, queryTimeoutMs: number): Promise<UpgradeView> {
  const description = await describeUpgrade(client, id);
  const view = viewOfDescription(description);
  const answer = await askWorker(client, id, description.taskQueue, statusQuery, queryTimeoutMs);
  view.workerPolling = answer.workerPolling;
  if ('value' in answer) view.status = answer.value;
  else view.workerProblem = answer.workerProblem;
  if (!answer.workerPolling) return view;
  view.liveSample = liveSample(view.pendingActivity, view.status);
  view.analysis = analysisOf(view);
  return view;
}

/** A query's answer from a worker, or why there is none and whether any worker polls. */
export type WorkerAnswer<T> = { value: T; workerPolling: true } | { workerPolling: boolean; workerProblem: string };

/**
 * Asks a workflow's worker a query (an upgrade's `status`, a fleet's `fleetStatus`) when one polls
 * its task queue; says within about a second when none does (see QUERY_PROBE_MS).
 */
export async function askWorker<T>(
  client: Client,
  id: string,
  taskQueue: string,
  query: QueryDefinition<T>,
  queryTimeoutMs: number,
): Promise<WorkerAnswer<T>> {
  const noWorker = { workerPolling: false, workerProblem: `no worker is polling task queue ${taskQueue}` };
  const before = await lastPolls(client, taskQueue);
  if (before?.size === 0) return noWorker;
  const probeMs = before ? Math.min(QUERY_PROBE_MS, queryTimeoutMs) : queryTimeoutMs;
  let answer = await queryWithDeadline(client, id, query, probeMs);
  if ('unanswered' in answer && before) {
    // Unanswered: a worker that polls would have taken the query and polled again since.
    const after = await lastPolls(client, taskQueue);
    if (after && !polledSince(before, after)) return noWorker;
    if (queryTimeoutMs > probeMs) answer = await queryWithDeadline(client, id, query, queryTimeoutMs - probeMs);
    if ('unanswered' in answer)
      answer = {
        problem: `a worker polls task queue ${taskQueue} but did not answer the ${query.name} query within ${Math.round(queryTimeoutMs / 1000)} s (busy, or stuck: see its log)`,
      };
  }
  return 'value' in answer
    ? { value: answer.value, workerPolling: true }
    : { workerPolling: true, workerProblem: answer.problem };
}

function analysisOf(view: UpgradeView): RoutingView | undefined {
  if (view.liveSample) return routingView(view.liveSample, 'live');
  const recorded = view.status?.analysis?.last;
  return recorded && routingView(recorded, 'recorded');
}

/** A query with a deadline: a missing worker must not hang the CLI. */
async function queryWithDeadline<T>(
  client: Client,
  id: string,
  query: QueryDefinition<T>,
  timeoutMs: number,
): Promise<{ value: T } | { problem: string; unanswered?: true }> {
  try {
    const value = await client.connection.withDeadline(Date.now() + timeoutMs, () =>
      client.workflow.getHandle(id).query(query),
    );
    return { value };
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) throw new WorkflowNotFoundError(error.message, id, undefined);
    // Past the deadline the call ends as DEADLINE_EXCEEDED, or CANCELLED when the server gave up first.
    if (isGrpcDeadlineError(error) || isGrpcCancelledError(error) || isGrpcDeadlineError(causeOf(error)))
      return {
        problem: `no worker answered the ${query.name} query within ${Math.round(timeoutMs / 1000)} s`,
        unanswered: true,
      };
    return { problem: `the ${query.name} query failed: ${causeOf(error)?.message ?? (error as Error).message}` };
  }
}

function causeOf(error: unknown): Error | undefined {
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? cause : undefined;
}

/**
 * When each worker (by identity) last polled the task queue for workflow tasks, in the server's
 * clock; undefined when the caller may not describe task queues (the query then decides alone).
 */
async function lastPolls(client: Client, taskQueue: string): Promise<Map<string, number> | undefined> {
  try {
    const { pollers } = await client.workflowService.describeTaskQueue({
      namespace: client.options.namespace,
      taskQueue: { name: taskQueue },
      taskQueueType: WORKFLOW_TASK_QUEUE_TYPE,
    });
    return new Map(
      (pollers ?? []).map((poller) => [
        poller.identity ?? '',
        Number(poller.lastAccessTime?.seconds ?? 0) * 1000 + Math.floor((poller.lastAccessTime?.nanos ?? 0) / 1e6),
      ]),
    );
  } catch {
    return undefined;
  }
}

/** True when a worker polled between the two readings (a poller that is new, or that polled again). */
function polledSince(before: Map<string, number>, after: Map<string, number>): boolean {
  return [...after].some(([identity, at]) => at > (before.get(identity) ?? -1));
}

/** What `sendUpdate` acts on: an upgrade, or a fleet (the same verbs, another workflow type). */
export interface UpdateTarget {
  /** `upgrade` or `fleet`, in messages. */
  noun: string;
  /** The command that shows it, e.g. `cutover status`. */
  statusCommand: string;
  /** Describes the workflow; refuses one of another type. */
  describe(client: Client, id: string): Promise<WorkflowExecutionDescription>;
}

const UPGRADE_TARGET: UpdateTarget = { noun: 'upgrade', statusCommand: 'cutover status', describe: describeUpgrade };

/**
 * Sends one of the operator updates (approve, rollback, pause, resume) and returns the workflow's
 * acknowledgement; a validator's refusal, a finished run or a silent worker become RefusedErrors.
 */
export async function sendUpdate<Input>(
  client: Client,
  id: string,
  update: UpdateDefinition<Acknowledgement, [Input]>,
  input: Input,
  target: UpdateTarget = UPGRADE_TARGET,
): Promise<Acknowledgement> {
  const description = await target.describe(client, id);
  if (description.status.name !== 'RUNNING') throw endedRefusal(id, update.name, description, target);
  try {
    return await client.connection.withDeadline(Date.now() + UPDATE_TIMEOUT_MS, () =>
      client.workflow.getHandle(id).executeUpdate(update, { args: [input] }),
    );
  } catch (error) {
    if (error instanceof WorkflowUpdateFailedError) {
      throw new RefusedError(
        `${update.name} refused by ${id}: ${error.cause?.message ?? error.message}; see \`${target.statusCommand} ${id}\``,
      );
    }
    if (error instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isGrpcDeadlineError(error)) {
      throw new RefusedError(
        `${id} did not acknowledge the ${update.name} within ${UPDATE_TIMEOUT_MS / 1000} s: is a worker running? start one with \`cutover worker\`; ` +
          `the request may still be applied when a worker picks it up, so check \`${target.statusCommand} ${id}\` before sending it again`,
      );
    }
    if (error instanceof WorkflowNotFoundError) {
      // The run closed between describe and update.
      throw endedRefusal(id, update.name, await target.describe(client, id), target);
    }
    throw error;
  }
}

/** The refusal of a verb sent to a run that already ended. */
export function endedRefusal(
  id: string,
  verb: string,
  description: WorkflowExecutionDescription,
  target: UpdateTarget = UPGRADE_TARGET,
): RefusedError {
  const phase = description.typedSearchAttributes.get(CutoverPhase);
  return new RefusedError(
    `${target.noun} ${id} already ended (${description.status.name}${phase ? `, phase ${phase}` : ''}); there is nothing to ${verb === 'rollback' ? 'roll back' : verb}. See \`${target.statusCommand} ${id}\``,
  );
}
