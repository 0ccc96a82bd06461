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

/** The page of a run (or of a workflow id's latest run) in the Temporal UI at `base`. */
export function runPage(base: string, namespace: string, workflowId: string, runId?: string): string {
  const root = base.replace(/\/+$/, '');
  const id = encodeURIComponent(workflowId);
  return runId
    ? `${root}/namespaces/${namespace}/workflows/${id}/${runId}/history`
    : `${root}/namespaces/${namespace}/workflows/${id}`;
}

/** A link to a run in the Temporal UI, or why there is none and how to get one. */
export type UiLink = { url: string } | { hint: string };

/** How long the CLI waits for a Temporal UI it guessed to answer. */
const UI_PROBE_MS = 1_000;

/**
 * Where a run is in the Temporal UI. TEMPORAL_UI_URL when set; else, for a Temporal on this
 * machine, the UI at its gRPC port + 1000 (`temporal server start-dev`'s default, and where
 * `cutover dev` and the Compose stack put it), but only once that UI shows this very run. A remote
 * Temporal says nothing about its UI: then the link needs TEMPORAL_UI_URL.
 */
export async function findUiLink(
  temporal: { address: string; namespace: string },
  workflowId: string,
  runId: string,
): Promise<UiLink> {
  const configured = process.env.TEMPORAL_UI_URL?.trim();
  if (configured) return { url: runPage(configured, temporal.namespace, workflowId, runId) };
  const beside = uiBesideLocalTemporal(temporal.address);
  if (beside && (await uiShowsRun(beside, temporal.namespace, workflowId, runId)))
    return { url: runPage(beside, temporal.namespace, workflowId, runId) };
  return {
    hint: `no Temporal UI found for ${temporal.address}; for a link, set TEMPORAL_UI_URL to the address of its UI (e.g. export TEMPORAL_UI_URL=https://temporal.example.com)`,
  };
}

function uiBesideLocalTemporal(address: string): string | undefined {
  const match = /^(localhost|127\.0\.0\.1|\[::1\]):(\d+)$/.exec(address);
  const port = match ? Number(match[2]) + 1000 : undefined;
  return match && port !== undefined && port <= 65535 ? `http://${match[1]}:${port}` : undefined;
}

/** True when the Temporal UI at `base` describes this run (so it serves the Temporal the CLI talks to). */
async function uiShowsRun(base: string, namespace: string, workflowId: string, runId: string): Promise<boolean> {
  const url = `${base}/api/v1/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}?execution.runId=${encodeURIComponent(runId)}`;
  // Our own timer: Node's AbortSignal.timeout holds its signal only weakly, and a fetch whose
  // signal was collected waits for an answer that never comes.
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), UI_PROBE_MS);
  try {
    const response = await fetch(url, { signal: controller.signal, redirect: 'error' });
    if (!response.ok) return false;
    const body = (await response.json()) as { workflowExecutionInfo?: { execution?: { runId?: string } } };
    return body.workflowExecutionInfo?.execution?.runId === runId;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
