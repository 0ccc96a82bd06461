import { CancellationScope, log, workflowInfo } from '@temporalio/workflow';
import { claimsOf, type LeaseOwner } from '../ownership/leases';
import { holdsLeases, quick } from './activity-options';
import type { StepContext } from './steps/context';

/** How long taking or giving back the leases retries an unreachable Temporal before it gives up. */
const LEASE_BUDGET = '1m';

/** This upgrade as a lease owner: its workflow id and the first run of its continue-as-new chain. */
function owner(): LeaseOwner {
  const { workflowId, firstExecutionRunId } = workflowInfo();
  return { workflowId, firstExecutionRunId };
}

/**
 * One upgrade per routing group and per routing rule of a gateway, whatever the workflow id: takes
 * the leases of what this upgrade changes before anything changes (the preflight), or fails naming
 * the running upgrade that holds one. Also fixes the canary rule's name for the whole upgrade.
 */
export async function claimOwnership(ctx: StepContext): Promise<void> {
  if (!holdsLeases()) return;
  const claims = claimsOf(ctx.plan);
  if (claims.ruleName) ctx.facts.ruleName = claims.ruleName;
  const held = await quick.acquireLeases.executeWithOptions(
    {
      summary: `hold ${[...claims.routingGroups.map((group) => `group ${group}`), ...(claims.ruleName ? [`rule ${claims.ruleName}`] : [])].join(', ')}`,
      scheduleToCloseTimeout: LEASE_BUDGET,
    },
    [{ owner: owner(), claims }],
  );
  ctx.facts.leases = held.leases;
}

/**
 * Gives the leases back as the upgrade ends (never when it continues as new: the next run holds
 * them). A lease left behind (Temporal unreachable, the upgrade terminated) is taken over by the
 * next upgrade that finds its owner ended.
 */
export async function releaseOwnership(ctx: StepContext): Promise<void> {
  const leases = ctx.facts.leases;
  if (!leases?.length) return;
  await CancellationScope.nonCancellable(() =>
    quick.releaseLeases.executeWithOptions({ summary: 'release the leases', scheduleToCloseTimeout: LEASE_BUDGET }, [
      { owner: owner(), leases },
    ]),
  ).catch((error: unknown) => log.warn('leases not released; the next upgrade takes them over', { leases, error }));
}
