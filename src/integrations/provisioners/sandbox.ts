import { IntegrationError } from '../errors';
import { excerpt, HttpClient, segment, type HttpRequest } from '../http';
import type { ClusterPresence, ClusterSpec, ProvisionedCluster, Provisioner } from './types';

/** Where the sandbox fleet's control API is and how slowly its new coordinators start. */
export interface SandboxProvisionerOptions {
  controlUrl: string;
  startupDelayMs: number;
  requestTimeoutMs?: number;
  signal?: AbortSignal;
}

/** A cluster as the control API describes it. */
interface SandboxCluster {
  name: string;
  version: string;
  url: string;
  created?: boolean;
}

/** Asks the local sandbox fleet (`/sandbox/v1/clusters`) for simulated clusters. */
export class SandboxProvisioner implements Provisioner {
  private readonly http: HttpClient;

  constructor(private readonly options: SandboxProvisionerOptions) {
    this.http = new HttpClient({
      baseUrl: options.controlUrl,
      service: 'Sandbox fleet',
      errorPrefix: 'Sandbox',
      requestTimeoutMs: options.requestTimeoutMs,
    });
  }

  /** `PUT /sandbox/v1/clusters/{name}`: creates the cluster or returns the existing one of the same version. */
  async ensureCluster(spec: ClusterSpec, onProgress?: (message: string) => void): Promise<ProvisionedCluster> {
    onProgress?.(`sandbox: asking for cluster ${spec.name} running Trino ${spec.version}`);
    const req: HttpRequest = {
      method: 'PUT',
      path: this.clusterPath(spec.name),
      json: { version: spec.version, startupDelayMs: this.options.startupDelayMs },
      signal: this.options.signal,
      accept: [409],
    };
    const response = await this.http.send(req);
    if (response.status === 409) {
      const reason = excerpt(response.body);
      throw new IntegrationError(
        `sandbox cluster ${spec.name} already exists with another Trino version than ${spec.version}${reason ? ` (${reason})` : ''}: ` +
          'delete it or choose another green.name',
        'ClusterVersionConflict',
        false,
        409,
      );
    }
    const cluster = this.cluster(response.status, this.http.parse<SandboxCluster>(req, response));
    const created = cluster.created ?? response.status === 201;
    onProgress?.(`sandbox: cluster ${spec.name} ${created ? 'created' : 'already exists'} at ${cluster.url}`);
    return { name: spec.name, url: cluster.url, created };
  }

  /** `GET /sandbox/v1/clusters/{name}` (404 means absent). */
  async describeCluster(name: string): Promise<ClusterPresence> {
    const { status, data } = await this.http.json<SandboxCluster>({
      method: 'GET',
      path: this.clusterPath(name),
      signal: this.options.signal,
      accept: [404],
    });
    if (status === 404) return { state: 'absent' };
    return { state: 'present', url: this.cluster(status, data).url };
  }

  /** `DELETE /sandbox/v1/clusters/{name}`; false when it was absent. */
  async deleteCluster(name: string, onProgress?: (message: string) => void): Promise<boolean> {
    const { status, data } = await this.http.json<{ deleted?: boolean }>({
      method: 'DELETE',
      path: this.clusterPath(name),
      signal: this.options.signal,
      accept: [404],
    });
    const deleted = status !== 404 && data?.deleted === true;
    onProgress?.(`sandbox: cluster ${name} ${deleted ? 'deleted' : 'was already absent'}`);
    return deleted;
  }

  /** Closes the pooled connections. */
  async close(): Promise<void> {
    await this.http.close();
  }

  private clusterPath(name: string): string {
    return `/sandbox/v1/clusters/${segment(name)}`;
  }

  private cluster(status: number, data: SandboxCluster | undefined): SandboxCluster {
    if (typeof data?.url !== 'string') {
      throw new IntegrationError(
        `the sandbox fleet answered with HTTP ${status} but no cluster url`,
        'SandboxInvalidResponse',
        false,
        status,
      );
    }
    return data;
  }
}
