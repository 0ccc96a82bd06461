import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { LeaseOwner } from './leases';

/** A lease workflow that is running, and whether the upgrade holding it still runs. */
export interface LeaseHolder {
  /** The run of the lease workflow, to end exactly that one. */
  leaseRunId: string;
  /** Undefined when the lease's memo could not be read: then it counts as held by a running upgrade. */
  owner?: LeaseOwner;
  ownerRunning: boolean;
}

/** Who holds the lease `leaseId` now; undefined when it is free (never started, or ended). */
export async function leaseHolder(client: Client, leaseId: string): Promise<LeaseHolder | undefined> {
  const lease = await describeOrUndefined(client, leaseId);
  if (!lease || lease.status.name !== 'RUNNING') return undefined;
  const owner = ownerOf(lease.memo);
  return { leaseRunId: lease.runId, owner, ownerRunning: owner ? await isRunning(client, owner) : true };
}

/** True while the owner's continue-as-new chain runs (a later upgrade reusing its workflow id is another owner). */
async function isRunning(client: Client, owner: LeaseOwner): Promise<boolean> {
  const latest = await describeOrUndefined(client, owner.workflowId);
  if (!latest || latest.status.name !== 'RUNNING') return false;
  const firstRunId = latest.raw.workflowExecutionInfo?.firstRunId;
  return !firstRunId || firstRunId === owner.firstExecutionRunId;
}

async function describeOrUndefined(client: Client, workflowId: string) {
  try {
    return await client.workflow.getHandle(workflowId).describe();
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return undefined;
    throw error;
  }
}

function ownerOf(memo: Record<string, unknown> | undefined): LeaseOwner | undefined {
  const owner = memo?.owner as Partial<LeaseOwner> | undefined;
  return typeof owner?.workflowId === 'string' && typeof owner.firstExecutionRunId === 'string'
    ? { workflowId: owner.workflowId, firstExecutionRunId: owner.firstExecutionRunId }
    : undefined;
}
