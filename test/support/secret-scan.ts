import type { Client } from '@temporalio/client';
import { historyToJson } from './history-json';

/**
 * The credentials the test workers hold (gateway basic auth, Trino password): recognisable
 * strings that must never appear in a workflow history (inputs, results, failures, heartbeats).
 */
export const TEST_SECRETS = {
  CUTOVER_GATEWAY_USER: 'cutover-admin',
  CUTOVER_GATEWAY_PASSWORD: 'gw-pass-5d1e9a3c7b',
  CUTOVER_TRINO_USER: 'cutover',
  CUTOVER_TRINO_PASSWORD: 'trino-pass-8c2f6b0e4a',
} as const;

/** What must never be in a history: the passwords, and the Basic credentials built from them. */
export const SECRET_STRINGS: string[] = [
  TEST_SECRETS.CUTOVER_GATEWAY_PASSWORD,
  TEST_SECRETS.CUTOVER_TRINO_PASSWORD,
  Buffer.from(`${TEST_SECRETS.CUTOVER_GATEWAY_USER}:${TEST_SECRETS.CUTOVER_GATEWAY_PASSWORD}`).toString('base64'),
  Buffer.from(`${TEST_SECRETS.CUTOVER_TRINO_USER}:${TEST_SECRETS.CUTOVER_TRINO_PASSWORD}`).toString('base64'),
];

/**
 * Reads every workflow history on the server (each run) and fails naming the workflow and the
 * secret when one appears, in the history's text or inside a payload (payloads are base64 there).
 */
export async function assertNoSecretsInHistories(client: Client, secrets: string[] = SECRET_STRINGS): Promise<void> {
  let histories = 0;
  let bytes = 0;
  const found: string[] = [];
  for await (const execution of client.workflow.list()) {
    const history = await client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory();
    const json = historyToJson(history);
    const decoded = [...json.matchAll(/"data": "([A-Za-z0-9+/=]+)"/g)].map((match) =>
      Buffer.from(match[1], 'base64').toString('utf8'),
    );
    const text = `${json}\n${decoded.join('\n')}`;
    histories += 1;
    bytes += text.length;
    for (const secret of secrets) {
      if (text.includes(secret))
        found.push(`${execution.workflowId} (${execution.runId}) holds ${secret.slice(0, 6)}...`);
    }
  }
  process.stderr.write(
    `secret scan: ${histories} histories, ${Math.round(bytes / 1024)} KiB scanned, ${found.length} secrets found\n`,
  );
  if (found.length > 0) throw new Error(`secrets in workflow histories:\n${found.join('\n')}`);
}
