import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';

/** A Temporal client from @temporalio/envconfig: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TLS, profiles. */
export async function connectFromEnv(): Promise<{
  client: Client;
  address: string;
  namespace: string;
  close(): Promise<void>;
}> {
  const { connectionOptions, namespace } = loadClientConnectConfig();
  const address = connectionOptions.address ?? 'localhost:7233';
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...connectionOptions, connectTimeout: '5s' });
  } catch (error) {
    throw new Error(
      `cannot reach Temporal at ${address} (${(error as Error).message}); start one with \`cutover dev\`, or set TEMPORAL_ADDRESS / a profile`,
    );
  }
  const ns = namespace ?? 'default';
  return { client: new Client({ connection, namespace: ns }), address, namespace: ns, close: () => connection.close() };
}

/** Link to a run in the Temporal UI (TEMPORAL_UI_URL, default the dev server's http://localhost:8233). */
export function uiLink(namespace: string, workflowId: string, runId?: string): string {
  const base = (process.env.TEMPORAL_UI_URL ?? 'http://localhost:8233').replace(/\/+$/, '');
  const id = encodeURIComponent(workflowId);
  return runId
    ? `${base}/namespaces/${namespace}/workflows/${id}/${runId}/history`
    : `${base}/namespaces/${namespace}/workflows/${id}`;
}
