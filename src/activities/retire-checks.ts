import { ApplicationFailure } from '@temporalio/activity';
import { IntegrationError } from '../integrations/errors';
import type { GatewayApi } from '../integrations/gateway/types';
import {
  activeOf,
  describeActive,
  isUnreachable,
  readCoordinatorQueries,
  type CoordinatorQueries,
} from './coordinator-queries';
import { withProvisioner } from './provisioning';
import type { ActivityDeps, BackendRef, ProvisionerTarget } from './types';

/** What the retire checks before it deletes blue's clusters: nothing else uses them, nothing runs there. */

/**
 * Refuses the teardown when another backend of the gateway, in any routing group, proxies to
 * the coordinator of a blue backend: deleting that cluster would take the other backend down.
 */
export async function refuseSharedClusters(gateway: GatewayApi, blue: BackendRef[]): Promise<void> {
  const retiring = new Set(blue.map((backend) => backend.name));
  const others = (await gateway.listBackends()).filter((backend) => !retiring.has(backend.name));
  const shared = blue.flatMap((backend) =>
    others
      .filter((other) => sameCoordinator(other.proxyTo, backend.proxyTo))
      .map(
        (other) =>
          `${other.name} (routing group ${other.routingGroup}) proxies to ${backend.name}'s ${backend.proxyTo}`,
      ),
  );
  if (shared.length > 0) {
    throw ApplicationFailure.nonRetryable(
      `refusing to delete the clusters of ${blue.map((backend) => backend.name).join(', ')}: ${shared.join('; ')}. ` +
        'Deleting the cluster would take that backend down; nothing was removed (retire.teardown: false retires blue from the gateway only)',
      'BlueClusterShared',
    );
  }
}

/**
 * Right before blue's cluster is deleted: no query of any user may run or wait there (someone may
 * have started one on the coordinator itself since the drain). Retryable, so the retire waits for
 * them until `retire.timeout`. A coordinator that cannot be reached is asked about through the
 * provisioner: a cluster already gone (an earlier attempt deleted it) has nothing left to wait for.
 */
export async function ensureNoQueryRuns(
  deps: ActivityDeps,
  provisioner: ProvisionerTarget,
  backend: BackendRef,
): Promise<void> {
  const trino = deps.trino(backend.proxyTo);
  let queries: CoordinatorQueries;
  try {
    queries = await readCoordinatorQueries(trino);
  } catch (error) {
    if (!isUnreachable(error)) throw error;
    const presence = await withProvisioner(deps, provisioner, backend.proxyTo, (p) => p.describeCluster(backend.name));
    if (presence.state === 'absent') return;
    throw new IntegrationError(
      `cannot reach ${backend.name}'s coordinator at ${backend.proxyTo} to make sure no query runs there before its cluster is deleted: ${error.message}`,
      'BlueUnreachable',
      true,
    );
  }
  if (activeOf(queries) > 0) {
    throw ApplicationFailure.retryable(
      `${backend.name} still runs ${describeActive(queries, trino.user)} queries: its cluster is deleted only once they end`,
      'BlueNotDrained',
    );
  }
}

/** Whether two `proxyTo` URLs name one coordinator (the gateway strips a trailing `/`; host case and default ports do not matter). */
function sameCoordinator(a: string, b: string): boolean {
  return normalized(a) === normalized(b);
}

function normalized(url: string): string {
  const parsed = URL.parse(url);
  return (parsed ? parsed.href : url).replace(/\/+$/, '');
}
