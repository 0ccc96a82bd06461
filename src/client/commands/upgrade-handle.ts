import {
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  isGrpcDeadlineError,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowExecutionStatusName,
} from '@temporalio/client';
import type { UpdateDefinition } from '@temporalio/common';
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
 * Reads an upgrade: describe, then the `status` query when a worker polls the task queue. A closed
 * run still answers the query while a worker runs; without one the view says so.
 */
export async function readUpgrade(client: Client, id: string, queryTimeoutMs: number): Promise<UpgradeView> {
  const description = await describeUpgrade(client, id);
  const view = viewOfDescription(description);
  view.workerPolling = await hasWorker(client, description.taskQueue);
  if (!view.workerPolling) {
    view.workerProblem = `no worker polls task queue ${description.taskQueue}`;
    return view;
  }
  const answer = await queryStatus(client, id, queryTimeoutMs);
  if ('status' in answer) view.status = answer.status;
  else view.workerProblem = answer.problem;
  view.liveSample = liveSample(view.pendingActivity, view.status);
  return view;
}

/** The `status` query with a deadline: a missing worker must not hang the CLI. */
export async function queryStatus(
  client: Client,
  id: string,
  timeoutMs: number,
): Promise<{ status: UpgradeStatus } | { problem: string }> {
  try {
    const status = await client.connection.withDeadline(Date.now() + timeoutMs, () =>
      client.workflow.getHandle(id).query(statusQuery),
    );
    return { status };
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) throw new WorkflowNotFoundError(error.message, id, undefined);
    if (isGrpcDeadlineError(error))
      return { problem: `no worker answered the status query within ${Math.round(timeoutMs / 1000)} s` };
    const cause = (error as { cause?: Error }).cause;
    return { problem: `the status query failed: ${cause?.message ?? (error as Error).message}` };
  }
}

async function hasWorker(client: Client, taskQueue: string): Promise<boolean> {
  try {
    const { pollers } = await client.workflowService.describeTaskQueue({
      namespace: client.options.namespace,
      taskQueue: { name: taskQueue },
      taskQueueType: WORKFLOW_TASK_QUEUE_TYPE,
    });
    return (pollers?.length ?? 0) > 0;
  } catch {
    // Not allowed to describe task queues: let the query decide.
    return true;
  }
}

/**
 * Sends one of the operator updates (approve, rollback, pause, resume) and returns the workflow's
 * acknowledgement; a validator's refusal, a finished run or a silent worker become RefusedErrors.
 */
export async function sendUpdate<Input>(
  client: Client,
  id: string,
  update: UpdateDefinition<Acknowledgement, [Input]>,
  input: Input,
): Promise<Acknowledgement> {
  const description = await describeUpgrade(client, id);
  if (description.status.name !== 'RUNNING') throw endedRefusal(id, update.name, description);
  try {
    return await client.connection.withDeadline(Date.now() + UPDATE_TIMEOUT_MS, () =>
      client.workflow.getHandle(id).executeUpdate(update, { args: [input] }),
    );
  } catch (error) {
    if (error instanceof WorkflowUpdateFailedError) {
      throw new RefusedError(
        `${update.name} refused by ${id}: ${error.cause?.message ?? error.message}; see \`cutover status ${id}\``,
      );
    }
    if (error instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isGrpcDeadlineError(error)) {
      throw new RefusedError(
        `${id} did not acknowledge the ${update.name} within ${UPDATE_TIMEOUT_MS / 1000} s: is a worker running? start one with \`cutover worker\`; ` +
          `the request may still be applied when a worker picks it up, so check \`cutover status ${id}\` before sending it again`,
      );
    }
    if (error instanceof WorkflowNotFoundError) {
      // The run closed between describe and update.
      throw endedRefusal(id, update.name, await describeUpgrade(client, id));
    }
    throw error;
  }
}

function endedRefusal(id: string, verb: string, description: WorkflowExecutionDescription): RefusedError {
  const phase = description.typedSearchAttributes.get(CutoverPhase);
  return new RefusedError(
    `upgrade ${id} already ended (${description.status.name}${phase ? `, phase ${phase}` : ''}); there is nothing to ${verb === 'rollback' ? 'roll back' : verb}. See \`cutover status ${id}\``,
  );
}
