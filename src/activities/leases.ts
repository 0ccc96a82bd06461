import { activityInfo, ApplicationFailure, getClient } from '@temporalio/activity';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { leaseHolder } from '../ownership/holder';
import {
  heldMessage,
  LEASE_RELEASE_SIGNAL,
  LEASE_WORKFLOW_TYPE,
  leasesOf,
  type Claims,
  type Lease,
  type LeaseInput,
  type LeaseOwner,
} from '../ownership/leases';

export interface AcquireLeasesInput {
  owner: LeaseOwner;
  claims: Claims;
}
export interface ReleaseLeasesInput {
  owner: LeaseOwner;
  /** Lease workflow ids acquireLeases returned. */
  leases: string[];
}

/** How often a lease may change hands under one acquire before the attempt gives up (and is retried). */
const MAX_TAKEOVERS = 5;

/**
 * One upgrade per routing group (and per routing rule) of a gateway: the leases of what an upgrade
 * changes (src/ownership/leases.ts), started and ended through the worker's own Temporal client.
 * Both activities are idempotent: a lease this upgrade already holds counts as acquired.
 */
export function leaseActivities() {
  return {
    /** Holds every lease of `claims` for `owner`, or none: refused (non-retryable), naming the running upgrade that holds one. */
    async acquireLeases(input: AcquireLeasesInput): Promise<{ leases: string[] }> {
      const client = getClient();
      const leases = leasesOf(input.claims);
      const taken: string[] = [];
      try {
        for (const lease of leases) {
          await acquire(client, input.owner, lease);
          taken.push(lease.id);
        }
      } catch (error) {
        await releaseAll(client, input.owner, taken).catch(() => undefined);
        throw error;
      }
      return { leases: taken };
    },

    /** Ends the leases `owner` holds; one another upgrade took over (after this one ended) is left alone. */
    async releaseLeases(input: ReleaseLeasesInput): Promise<void> {
      await releaseAll(getClient(), input.owner, input.leases);
    },
  };
}

async function acquire(client: Client, owner: LeaseOwner, lease: Lease): Promise<void> {
  for (let takeovers = 0; takeovers < MAX_TAKEOVERS;) {
    try {
      const input: LeaseInput = { owner, lease };
      await client.workflow.start(LEASE_WORKFLOW_TYPE, {
        taskQueue: activityInfo().taskQueue,
        workflowId: lease.id,
        args: [input],
        memo: { owner },
        workflowIdConflictPolicy: 'FAIL',
        staticSummary: `${lease.kind} ${lease.name} of ${lease.gateway}, held by ${owner.workflowId}`,
      });
      return;
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    }
    const holder = await leaseHolder(client, lease.id);
    if (!holder) continue; // it ended meanwhile: start it again
    if (holder.owner && sameOwner(holder.owner, owner)) return;
    if (holder.ownerRunning || !holder.owner) {
      throw ApplicationFailure.nonRetryable(
        heldMessage(lease, holder.owner?.workflowId ?? `whose owner cannot be read (lease workflow ${lease.id})`),
        'UpgradeAlreadyRunning',
      );
    }
    // Its upgrade ended without releasing it (terminated): end exactly that lease run and take its place.
    takeovers++;
    await client.workflow
      .getHandle(lease.id, holder.leaseRunId)
      .terminate(`its upgrade ${holder.owner.workflowId} has ended; ${owner.workflowId} takes the lease over`)
      .catch(ignoreEnded);
  }
  throw ApplicationFailure.retryable(
    `lease ${lease.id} changed hands ${MAX_TAKEOVERS} times while this upgrade tried to acquire it`,
    'LeaseContended',
  );
}

async function releaseAll(client: Client, owner: LeaseOwner, leases: string[]): Promise<void> {
  for (const id of leases) {
    const holder = await leaseHolder(client, id);
    if (!holder?.owner || !sameOwner(holder.owner, owner)) continue;
    await client.workflow
      .getHandle(id, holder.leaseRunId)
      .signal(LEASE_RELEASE_SIGNAL, { by: owner.workflowId })
      .catch(ignoreEnded);
  }
}

function sameOwner(a: LeaseOwner, b: LeaseOwner): boolean {
  return a.workflowId === b.workflowId && a.firstExecutionRunId === b.firstExecutionRunId;
}

/** A lease that ended between reading and acting on it needs nothing more. */
function ignoreEnded(error: unknown): void {
  if (!(error instanceof WorkflowNotFoundError)) throw error;
}
