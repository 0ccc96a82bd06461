/** What a provisioner is asked to create. */
export interface ClusterSpec {
  /** Backend/cluster name, e.g. `trino-green`. */
  name: string;
  /** Trino version the new cluster must run. */
  version: string;
  /** Address when the plan fixes it. */
  url?: string;
  routingGroup: string;
}

export interface ProvisionedCluster {
  name: string;
  url: string;
  /** True when this call (or an earlier attempt of the same run) created the cluster. */
  created: boolean;
}

export type ClusterPresence = { state: 'absent' } | { state: 'present'; url: string };

/** Creates and deletes Trino clusters. Every method is idempotent. */
export interface Provisioner {
  /** Returns the cluster, creating it only when it does not exist yet. */
  ensureCluster(spec: ClusterSpec, onProgress?: (message: string) => void): Promise<ProvisionedCluster>;
  /** Whether the cluster exists and where. */
  describeCluster(name: string): Promise<ClusterPresence>;
  /** Deletes the cluster; deleting an absent one is not an error. Returns false when it was absent. */
  deleteCluster(name: string, onProgress?: (message: string) => void): Promise<boolean>;
}
