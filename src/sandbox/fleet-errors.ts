/** A cluster of that name exists with another version. */
export class ClusterVersionConflictError extends Error {
  constructor(name: string, existing: string, requested: string) {
    super(
      `cluster ${name} already exists with version ${existing}, not ${requested}; delete it first or use another name`,
    );
    this.name = 'ClusterVersionConflictError';
  }
}

/** A cluster name the fleet does not know. */
export class UnknownClusterError extends Error {
  constructor(name: string) {
    super(`no sandbox cluster named ${name}`);
    this.name = 'UnknownClusterError';
  }
}

/** A gateway replica name the fleet does not know. */
export class UnknownReplicaError extends Error {
  constructor(name: string) {
    super(`no sandbox gateway replica named ${name}`);
    this.name = 'UnknownReplicaError';
  }
}
