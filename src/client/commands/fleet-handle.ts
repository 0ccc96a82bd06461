import {
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowExecutionStatusName,
} from '@temporalio/client';
import { fleetStatusQuery, fleetWorkflowId, type FleetStatus } from '../../workflows/fleet/messages';
import { CutoverFleet, CutoverPhase, CutoverTargetVersion } from '../../workflows/search-attributes';
import { UsageError } from '../output';
import { RefusedError } from '../upgrades';
import { askWorker, type UpdateTarget } from './upgrade-handle';

/** The workflow type of a fleet (src/workflows/fleet.ts). */
export const FLEET_WORKFLOW_TYPE = 'fleetUpgrade';

const FLEET_ID_PREFIX = fleetWorkflowId('');
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** A fleet's workflow id from its name (`sandbox-480`) or its id (`cutover-fleet-sandbox-480`). */
export function fleetIdOf(nameOrId: string): string {
  return fleetWorkflowId(fleetNameOf(nameOrId));
}

/** A fleet's name from its name or its id; bad usage when it cannot be a fleet's name (names go into list queries). */
export function fleetNameOf(nameOrId: string): string {
  const name = nameOrId.startsWith(FLEET_ID_PREFIX) ? nameOrId.slice(FLEET_ID_PREFIX.length) : nameOrId;
  if (!NAME.test(name))
    throw new UsageError(
      `${JSON.stringify(nameOrId)} is not a fleet's name or id (a name uses letters, digits, ".", "_" and "-"; an id is cutover-fleet-<name>)`,
    );
  return name;
}

/** Everything the CLI knows about one fleet. */
export interface FleetView {
  id: string;
  runId: string;
  executionStatus: WorkflowExecutionStatusName;
  startTime: string;
  closeTime?: string;
  /** From search attributes: known even when no worker answers. */
  name?: string;
  phase?: string;
  targetVersion?: string;
  /** The `fleetStatus` query's answer, when a worker answered it. */
  status?: FleetStatus;
  /** Why there is no `status`. */
  workerProblem?: string;
  /** False when no worker polls the run's task queue. */
  workerPolling?: boolean;
  /** Attempt of a workflow task that keeps failing (a bug or non-determinism: see the worker's log). */
  failingWorkflowTaskAttempt?: number;
}

export function noSuchFleet(id: string): string {
  const given = id.slice(FLEET_ID_PREFIX.length);
  // `cutover fleet status cutover-adhoc`: a name that is an upgrade's id.
  const upgrade = given.startsWith('cutover-')
    ? `; ${given} looks like an upgrade's id: see \`cutover status ${given}\``
    : '';
  return `no fleet with id ${id}; list them with \`cutover fleet list --all\`${upgrade}`;
}

/**
 * A fleet as `fleet status --json` prints it: the FleetStatus when a worker answered, over what
 * describe knows (execution status, start and close times, phase from search attributes, why no
 * worker answered), in one object either way.
 */
export function fleetJson(view: FleetView): Record<string, unknown> {
  const { status, ...described } = view;
  return { ...described, ...status };
}

/** Describes a fleet; unknown ids and workflows that are not fleets become clear refusals. */
export async function describeFleet(client: Client, id: string): Promise<WorkflowExecutionDescription> {
  let description: WorkflowExecutionDescription;
  try {
    description = await client.workflow.getHandle(id).describe();
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) throw new RefusedError(noSuchFleet(id));
    throw error;
  }
  if (description.type !== FLEET_WORKFLOW_TYPE)
    throw new RefusedError(
      `${id} is a ${description.type} workflow, not a cutover fleet; list fleets with \`cutover fleet list --all\``,
    );
  return description;
}

/** Reads a fleet: describe, then the `fleetStatus` query when a worker polls its task queue (as readUpgrade). */
export async function readFleet(client: Client, id: string, queryTimeoutMs: number): Promise<FleetView> {
  const description = await describeFleet(client, id);
  const attributes = description.typedSearchAttributes;
  const attempt = description.raw.pendingWorkflowTask?.attempt ?? 0;
  const view: FleetView = {
    id: description.workflowId,
    runId: description.runId,
    executionStatus: description.status.name,
    startTime: description.startTime.toISOString(),
    closeTime: description.closeTime?.toISOString(),
    name: attributes.get(CutoverFleet),
    phase: attributes.get(CutoverPhase),
    targetVersion: attributes.get(CutoverTargetVersion),
    failingWorkflowTaskAttempt: attempt > 1 ? attempt : undefined,
  };
  let answer;
  try {
    answer = await askWorker(client, id, description.taskQueue, fleetStatusQuery, queryTimeoutMs);
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) throw new RefusedError(noSuchFleet(id));
    throw error;
  }
  view.workerPolling = answer.workerPolling;
  if ('value' in answer) view.status = answer.value;
  else view.workerProblem = answer.workerProblem;
  return view;
}

/** The fleet verbs' target for sendUpdate. */
export const FLEET_TARGET: UpdateTarget = {
  noun: 'fleet',
  statusCommand: 'cutover fleet status',
  describe: describeFleet,
};
