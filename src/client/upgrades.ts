import {
  WorkflowExecutionAlreadyStartedError,
  type Client,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import { leaseHolder } from '../ownership/holder';
import { claimsOf, heldMessage, leasesOf } from '../ownership/leases';
import type { UpgradePlan } from '../plan/schema';
import type { blueGreenUpgrade } from '../workflows/blue-green';
import { TASK_QUEUE } from '../workflows/messages';
import {
  CutoverPhase,
  CutoverRoutingGroup,
  CutoverStrategy,
  CutoverTargetVersion,
  CutoverTrafficPercent,
} from '../workflows/search-attributes';

/** One upgrade per routing group at a time: the default workflow id. */
export function defaultWorkflowId(plan: UpgradePlan): string {
  return `cutover-${plan.routingGroup}`;
}

/** A refusal the CLI reports with exit code 1. */
export class RefusedError extends Error {}

/** Starts an upgrade of the plan's routing group; refuses clearly when one is already running. */
export async function startUpgrade(
  client: Client,
  plan: UpgradePlan,
  options: { workflowId?: string; startedBy?: string } = {},
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof blueGreenUpgrade>> {
  const workflowId = options.workflowId ?? defaultWorkflowId(plan);
  const blue = plan.blue?.backends.join(', ') ?? 'active backends';
  await refuseIfHeld(client, plan, workflowId);
  try {
    return await client.workflow.start<typeof blueGreenUpgrade>(
      plan.strategy === 'canary' ? 'canaryUpgrade' : 'blueGreenUpgrade',
      {
        taskQueue: TASK_QUEUE,
        workflowId,
        args: [{ plan, startedBy: options.startedBy }],
        workflowIdConflictPolicy: 'FAIL',
        staticSummary: `${plan.strategy} ${plan.routingGroup}: ${blue} -> ${plan.green.name} ${plan.green.version}`,
        staticDetails: [
          `Upgrade of routing group **${plan.routingGroup}** behind ${plan.gateway.url}`,
          `- green: ${plan.green.name}, Trino ${plan.green.version}, ${plan.green.provisioner.type} provisioner`,
          `- approval: ${plan.approval.required ? `required (timeout ${plan.approval.timeout}, then ${plan.approval.onTimeout})` : 'not required'}`,
          ...(plan.canary
            ? [
                `- canary (${plan.canary.traffic}): ${plan.canary.steps.map((step) => (step.approval ? 'approval' : `${step.weight}%`)).join(' -> ')}, analysis every ${plan.canary.analysis.interval}`,
              ]
            : []),
          `- bake ${plan.bake}, drain timeout ${plan.drain.timeout} (${plan.drain.onTimeout}), keep blue warm ${plan.retire.keepBlueFor}`,
        ].join('\n'),
        typedSearchAttributes: [
          { key: CutoverPhase, value: 'PROVISIONING' },
          { key: CutoverRoutingGroup, value: plan.routingGroup },
          { key: CutoverStrategy, value: plan.strategy },
          { key: CutoverTargetVersion, value: plan.green.version },
          { key: CutoverTrafficPercent, value: 0 },
        ],
      },
    );
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) {
      throw new RefusedError(
        `routing group ${plan.routingGroup} already has a running upgrade ${workflowId}; watch it with \`cutover watch ${workflowId}\`, or roll it back with \`cutover rollback ${workflowId} --reason ...\``,
      );
    }
    throw error;
  }
}

/**
 * One upgrade per routing group and per routing rule of a gateway, whatever the workflow id: a
 * start that would collide with a running upgrade is refused before anything starts. The worker
 * checks it again, race-free, in the preflight (src/workflows/ownership.ts).
 */
async function refuseIfHeld(client: Client, plan: UpgradePlan, workflowId: string): Promise<void> {
  for (const lease of leasesOf(claimsOf(plan))) {
    const holder = await leaseHolder(client, lease.id);
    // The same workflow id is refused by Temporal itself, with the message below.
    if (holder?.ownerRunning && holder.owner?.workflowId !== workflowId) {
      throw new RefusedError(
        heldMessage(lease, holder.owner?.workflowId ?? `whose owner cannot be read (lease workflow ${lease.id})`),
      );
    }
  }
}
