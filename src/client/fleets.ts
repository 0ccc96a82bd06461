import {
  WorkflowExecutionAlreadyStartedError,
  type Client,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import type { History } from '@temporalio/common/lib/proto-utils';
import type { FleetPlan } from '../fleet/schema';
import { fleetWorkflowId, type FleetWorkflow } from '../workflows/fleet/messages';
import { TASK_QUEUE } from '../workflows/messages';
import { CutoverFleet, CutoverPhase, CutoverTargetVersion } from '../workflows/search-attributes';
import { RefusedError } from './upgrades';

/**
 * Starts a fleet: the workflow `fleetUpgrade` with id `cutover-fleet-<name>`, which checks the fleet
 * plan again on the worker, resolves its patterns from the gateway and starts each group's upgrade
 * as a child workflow `cutover-<group>`. `document` is the fleet plan as written (the worker
 * validates it); `fleet` is its validated form, for the summary.
 */
export async function startFleet(
  client: Client,
  document: Record<string, unknown>,
  fleet: FleetPlan,
  options: { startedBy?: string; historyLimit?: number } = {},
): Promise<WorkflowHandleWithFirstExecutionRunId<FleetWorkflow>> {
  const workflowId = fleetWorkflowId(fleet.name);
  try {
    return await client.workflow.start<FleetWorkflow>('fleetUpgrade', {
      taskQueue: TASK_QUEUE,
      workflowId,
      args: [{ fleet: document, startedBy: options.startedBy, historyLimit: options.historyLimit }],
      workflowIdConflictPolicy: 'FAIL',
      staticSummary: `fleet ${fleet.name}: ${fleet.groups.length} group entries -> Trino ${fleet.version} in ${fleet.waves.length} waves`,
      staticDetails: [
        `Fleet **${fleet.name}** behind ${fleet.gateway.url}: every group to Trino ${fleet.version}`,
        ...fleet.waves.map(
          (wave, index) =>
            `- ${wave.name ?? `wave-${index + 1}`}: ${wave.groups ? wave.groups.join(', ') : wave.share !== undefined ? `${wave.share}% of the groups` : 'the rest'}, ${wave.maxParallel} at once${wave.approval ? ', approval first' : ''}${wave.soak ? `, soak ${wave.soak}` : ''}`,
        ),
        `- on failure: ${fleet.onFailure}`,
      ].join('\n'),
      typedSearchAttributes: [
        { key: CutoverFleet, value: fleet.name },
        { key: CutoverPhase, value: 'STARTING' },
        { key: CutoverTargetVersion, value: fleet.version },
      ],
    });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError)
      throw new RefusedError(
        `fleet ${fleet.name} is already running as ${workflowId}; watch it with \`cutover fleet watch ${fleet.name}\``,
      );
    throw error;
  }
}

/**
 * The histories of every run of a fleet's workflow, first run first: the fleet continues as new
 * once its history is long (FLEET_HISTORY_LIMIT), so its events are the sum over these.
 */
export async function fleetRunHistories(client: Client, workflowId: string): Promise<History[]> {
  const histories: History[] = [];
  let runId: string | undefined = (await client.workflow.getHandle(workflowId).describe()).runId;
  while (runId) {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    histories.unshift(history);
    runId = history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId ?? undefined;
  }
  return histories;
}
