import { condition, defineSignal, setHandler } from '@temporalio/workflow';
import { LEASE_RELEASE_SIGNAL, type LeaseInput } from '../ownership/leases';

/** Ends a lease: the upgrade that holds it has ended. */
export const releaseLeaseSignal = defineSignal<[{ by: string }]>(LEASE_RELEASE_SIGNAL);

/**
 * A routing group or routing rule of a gateway, held by one upgrade: while this workflow runs, its
 * id (src/ownership/leases.ts) cannot be started again, so a second upgrade of the same thing is
 * refused whatever its own workflow id. It waits, with no timer and no activity, until its upgrade
 * releases it as it ends; a lease whose upgrade was terminated is taken over by the next upgrade
 * that finds it (src/activities/leases.ts).
 */
export async function upgradeLease(_input: LeaseInput): Promise<void> {
  let released = false;
  setHandler(releaseLeaseSignal, () => {
    released = true;
  });
  await condition(() => released);
}
