import type { ActivityDeps, GatewayTarget } from '../activities/types';
import { gatewayAuthFromEnv, trinoAuthFromEnv } from '../integrations/gateway/credentials';
import { TrinoGatewayClient } from '../integrations/gateway/client';
import { createProvisioner } from '../integrations/provisioners';
import { TrinoHttpClient } from '../integrations/trino/client';
import { webhooksOf } from '../integrations/webhook/client';
import { durationMs } from '../plan/duration';
import { fixedPolicy, type PolicySource } from '../policy/load';
import { credentialsAllowed } from '../policy/origins';
import { compareRuns } from '../shadow/compare';
import { runShadowQuery } from '../shadow/run';
import { isNondeterministic } from '../shadow/sql-shape';

/**
 * The integrations the worker's activities use, with credentials read from the worker's own
 * environment (never from workflow inputs) and sent only where the worker policy allows: gateway
 * credentials to its `gateways`, Trino credentials to its `coordinators`, over HTTPS unless it
 * names the host in `plainHttpHosts`. Without a policy no client gets credentials. Clients are
 * kept per address (and per whether they carry credentials, which a policy reload can change).
 * Webhooks come from the policy in force, their URLs and tokens from it and this environment.
 */
export function integrationsFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  policy: PolicySource = fixedPolicy(undefined),
): ActivityDeps & { close(): Promise<void> } {
  const gatewayAuth = gatewayAuthFromEnv(env);
  const trinoAuth = trinoAuthFromEnv(env);
  const gateways = new Map<string, TrinoGatewayClient>();
  const coordinators = new Map<string, TrinoHttpClient>();
  return {
    shadowEngine: { run: runShadowQuery, compare: compareRuns, isNondeterministic },
    policy: () => policy.current(),
    webhooks: () => webhooksOf(policy.current(), env),
    gateway(target: GatewayTarget) {
      const current = policy.current();
      const authorized = current !== undefined && credentialsAllowed(target.url, current, current.gateways);
      const key = `${target.url} ${target.requestTimeout} ${authorized}`;
      let client = gateways.get(key);
      if (!client) {
        client = new TrinoGatewayClient({
          url: target.url,
          auth: authorized ? gatewayAuth : undefined,
          withheldBecause:
            !authorized && gatewayAuth !== undefined ? withheldBecause(target.url, current === undefined) : undefined,
          requestTimeoutMs: durationMs(target.requestTimeout),
        });
        gateways.set(key, client);
      }
      return client;
    },
    trino(url: string) {
      const current = policy.current();
      const authorized = current !== undefined && credentialsAllowed(url, current, current.coordinators);
      const key = `${url} ${authorized}`;
      let client = coordinators.get(key);
      if (!client) {
        client = new TrinoHttpClient({
          url,
          // X-Trino-User is not a secret: every coordinator gets it.
          user: trinoAuth.user,
          password: authorized ? trinoAuth.password : undefined,
          requestTimeoutMs: 10_000,
          connections: 4,
        });
        coordinators.set(key, client);
      }
      return client;
    },
    provisioner(target, staticUrl, signal) {
      return createProvisioner(target.config, {
        gatewayUrl: target.gatewayUrl,
        staticUrl,
        signal,
        policy: policy.current(),
      });
    },
    async close() {
      await Promise.all([...gateways.values(), ...coordinators.values()].map((client) => client.close()));
    },
  };
}

/** Why the worker keeps its gateway credentials from `url`, for the operator who reads the 401. */
function withheldBecause(url: string, noPolicy: boolean): string {
  return noPolicy
    ? 'the worker runs without a worker policy (CUTOVER_POLICY_FILE), so it sends credentials nowhere'
    : `the worker policy does not allow credentials for ${new URL(url).origin}: list it in gateways (plain http also needs its host in plainHttpHosts)`;
}
