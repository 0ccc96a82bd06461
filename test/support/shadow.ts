import { TrinoHttpClient } from '../../src/integrations/trino/client';
import type { QuerySummary } from '../../src/integrations/trino/types';
import type { SandboxFleet } from '../../src/sandbox/fleet';

/**
 * Queries the group's users run through the gateway, one after the other, from the `dashboards`
 * source: what the gateway's history then holds for shadow validation to sample.
 */
export async function runThroughGateway(
  fleet: SandboxFleet,
  group: string,
  queries: { sql: string; user: string }[],
): Promise<void> {
  const client = new TrinoHttpClient({ url: fleet.gatewayUrl, connections: 1 });
  try {
    for (const query of queries)
      await client.execute(query.sql, {
        user: query.user,
        headers: { 'X-Trino-Routing-Group': group, 'X-Trino-Source': 'dashboards' },
      });
  } finally {
    await client.close();
  }
}

/** Every query a coordinator ran, as its `/v1/query` lists them. */
export async function queriesOn(url: string): Promise<QuerySummary[]> {
  const client = new TrinoHttpClient({ url, connections: 1 });
  try {
    return await client.listQueries();
  } finally {
    await client.close();
  }
}
