import { IntegrationError } from '../errors';
import type { ClusterPresence, ClusterSpec, ProvisionedCluster, Provisioner } from './types';

/** A cluster that already runs at the plan's `green.url`: cutover neither creates nor deletes it. */
export class StaticProvisioner implements Provisioner {
  /** `url` is the plan's `green.url`. */
  constructor(private readonly url?: string) {}

  /** Returns the existing cluster at `spec.url` (or the configured url). */
  async ensureCluster(spec: ClusterSpec, onProgress?: (message: string) => void): Promise<ProvisionedCluster> {
    const url = spec.url ?? this.url;
    if (url === undefined) {
      throw new IntegrationError(
        `the static provisioner needs green.url: cluster ${spec.name} is expected to run there already`,
        'ProvisionerConfigInvalid',
        false,
      );
    }
    onProgress?.(`static: using the existing cluster ${spec.name} at ${url}`);
    return { name: spec.name, url, created: false };
  }

  /** Present at the configured url. */
  async describeCluster(): Promise<ClusterPresence> {
    return this.url === undefined ? { state: 'absent' } : { state: 'present', url: this.url };
  }

  /** Deletes nothing: the operator owns the cluster. */
  async deleteCluster(name: string, onProgress?: (message: string) => void): Promise<boolean> {
    onProgress?.(`static: cluster ${name} was not created by cutover and is left running; the operator removes it`);
    return false;
  }

  /** Nothing to release. */
  async close(): Promise<void> {}
}
