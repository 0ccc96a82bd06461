import type { ActivityDeps, GatewayTarget } from '../activities/types';
import { gatewayAuthFromEnv, trinoAuthFromEnv } from '../integrations/gateway/credentials';
import { TrinoGatewayClient } from '../integrations/gateway/client';
import { createProvisioner } from '../integrations/provisioners';
import { TrinoHttpClient } from '../integrations/trino/client';
import { durationMs } from '../plan/duration';

/**
 * The integrations the worker's activities use, with credentials read from the worker's own
 * environment (never from workflow inputs). Clients are kept per address and reused.
 */
export function integrationsFromEnv(env: NodeJS.ProcessEnv = process.env): ActivityDeps & { close(): Promise<void> } {
  const gatewayAuth = gatewayAuthFromEnv(env);
  const trinoAuth = trinoAuthFromEnv(env);
  const gateways = new Map<string, TrinoGatewayClient>();
  const coordinators = new Map<string, TrinoHttpClient>();
  return {
    gateway(target: GatewayTarget) {
      const key = `${target.url} ${target.requestTimeout}`;
      let client = gateways.get(key);
      if (!client) {
        client = new TrinoGatewayClient({
          url: target.url,
          auth: gatewayAuth,
          requestTimeoutMs: durationMs(target.requestTimeout),
        });
        gateways.set(key, client);
      }
      return client;
    },
    trino(url: string) {
      let client = coordinators.get(url);
      if (!client) {
        client = new TrinoHttpClient({
          url,
          user: trinoAuth.user,
          password: trinoAuth.password,
          requestTimeoutMs: 10_000,
          connections: 4,
        });
        coordinators.set(url, client);
      }
      return client;
    },
    provisioner(target, staticUrl, signal) {
      return createProvisioner(target.config, { gatewayUrl: target.gatewayUrl, staticUrl, signal });
    },
    policy: () => undefined,
    async close() {
      await Promise.all([...gateways.values(), ...coordinators.values()].map((client) => client.close()));
    },
  };
}
