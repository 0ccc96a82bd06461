import { cancellationSignal, heartbeat, log } from '@temporalio/activity';
import type { Provisioner, ProvisionedCluster } from '../integrations/provisioners/types';
import type { ActivityDeps, InspectGreenInput, ProvisionerTarget, ProvisionGreenInput, TeardownInput } from './types';

/** Heartbeats while a provisioner works quietly (a terraform apply can print nothing for minutes). */
const HEARTBEAT_EVERY_MS = 10_000;

/** Runs `use` with a provisioner for this call, heartbeating meanwhile, and closes it. */
export async function withProvisioner<T>(
  deps: ActivityDeps,
  target: ProvisionerTarget,
  url: string | undefined,
  use: (provisioner: Provisioner) => Promise<T>,
): Promise<T> {
  const provisioner = deps.provisioner(target, url, cancellationSignal());
  const ticker = setInterval(() => heartbeat(), HEARTBEAT_EVERY_MS);
  try {
    return await use(provisioner);
  } finally {
    clearInterval(ticker);
    await provisioner.close();
  }
}

/** Activities that create and delete clusters through the plan's provisioner. */
export function provisioningActivities(deps: ActivityDeps) {
  return {
    /** Whether green exists before this run touches it (a pre-existing green is never torn down by a rollback). */
    async inspectGreen(input: InspectGreenInput): Promise<{ present: boolean; url?: string }> {
      const presence = await withProvisioner(deps, input.provisioner, input.url, (provisioner) =>
        provisioner.describeCluster(input.name),
      );
      return presence.state === 'present' ? { present: true, url: presence.url } : { present: false };
    },

    /** Creates green unless it exists; idempotent, so a retry after a crash creates nothing twice. */
    async provisionGreen(input: ProvisionGreenInput): Promise<ProvisionedCluster> {
      const cluster = await withProvisioner(deps, input.provisioner, input.url, (provisioner) =>
        provisioner.ensureCluster(
          { name: input.name, version: input.version, url: input.url, routingGroup: input.routingGroup },
          progressFor(input.name),
        ),
      );
      log.info(cluster.created ? 'green cluster created' : 'green cluster already existed', {
        cluster: cluster.name,
        url: cluster.url,
      });
      return cluster;
    },

    /** Deletes a cluster through the provisioner; deleting an absent one is not an error. */
    async teardownCluster(input: TeardownInput): Promise<{ deleted: boolean }> {
      const deleted = await withProvisioner(deps, input.provisioner, input.url, (provisioner) =>
        provisioner.deleteCluster(input.name, progressFor(input.name)),
      );
      return { deleted };
    },
  };
}

/** Streams a provisioner's progress lines to the logs and the heartbeat. */
export function progressFor(cluster: string): (message: string) => void {
  return (message) => {
    log.info(message, { cluster });
    heartbeat({ message });
  };
}
