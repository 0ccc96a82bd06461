import { createServer, type AddressInfo } from 'node:net';
import { after, before } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import type { ShadowEngine } from '../../src/activities/types';
import type { WorkerPolicy } from '../../src/policy/schema';
import { untilHealthy } from '../../src/devserver/wait';
import { canaryReadyRules } from '../../src/sandbox/canary-rules';
import { startSandboxFleet, type SandboxFleet, type SandboxFleetOptions } from '../../src/sandbox/fleet';
import { fixedPolicy } from '../../src/policy/load';
import { integrationsFromEnv } from '../../src/worker/integrations';
import { installRuntime } from '../../src/worker/logging';
import { createCutoverWorker } from '../../src/worker/worker';
import { TEST_POLICY } from './policy';
import { assertNoSecretsInHistories, SECRET_STRINGS, TEST_SECRETS } from './secret-scan';
import { startTestServer, workflowBundle } from './temporal';

/** What the workflow tests of one file share: a real dev server, the real worker, and the fleets they started. */
export interface Testbed {
  readonly env: TestWorkflowEnvironment;
  /** Where the worker serves Prometheus metrics (with `metrics: true`). */
  readonly metricsUrl: string;
  /** A sandbox fleet stopped after the file's tests. */
  fleet(options: SandboxFleetOptions): Promise<SandboxFleet>;
  /** A fleet whose routing group `group` is served by `<group>-blue` (Trino 470), HEALTHY in the gateway. */
  fleetWithBlue(group: string): Promise<SandboxFleet>;
  /** The same, with a canary-ready rules file (`canaryReadyRules`) the gateway reloads every 200 ms. */
  canaryFleetWithBlue(group: string): Promise<SandboxFleet>;
}

/** What the worker of a testbed runs with. */
export interface TestWorker {
  /** The worker policy its activities see (ActivityDeps.policy()); a function is asked at each use, as a reloaded policy would be. */
  policy?: WorkerPolicy | (() => WorkerPolicy | undefined);
  /** Whether the worker holds the test credentials (TEST_SECRETS); default true. */
  credentials?: boolean;
  /** More of the worker's environment (e.g. a webhook token). */
  env?: Record<string, string>;
  /** More strings no history may hold (the values of `env` that are secrets). */
  secrets?: string[];
  /** The worker's clock for change windows (ActivityDeps.now), asked at each check; default the real one. */
  now?: () => number;
  /** The shadow-validation engine of the worker's activities (ActivityDeps.shadowEngine). */
  shadowEngine?: ShadowEngine;
  /** Serve the worker's Prometheus metrics at `metricsUrl` (the runtime is installed once per test process: the first testbed's choice holds). */
  metrics?: boolean;
}

/**
 * Registers before/after hooks (call it inside `describe`) that start one Temporal dev server and
 * a worker with the real activities and the test worker policy for the whole file, and stop
 * everything afterwards.
 */
export function useTestbed(server: { extraArgs?: string[] } = {}, options: TestWorker = {}): Testbed {
  let env: TestWorkflowEnvironment | undefined;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  const { policy = TEST_POLICY, credentials = true, env: extraEnv = {}, secrets = [], metrics = false, now } = options;
  // The worker holds real-looking credentials (sent only where its policy allows): every history
  // of the file is scanned for them afterwards.
  const deps = integrationsFromEnv(
    { ...(credentials ? TEST_SECRETS : {}), ...extraEnv },
    typeof policy === 'function' ? { current: policy } : fixedPolicy(policy),
  );
  if (now) deps.now = now;
  if (options.shadowEngine) deps.shadowEngine = options.shadowEngine;
  const fleets: SandboxFleet[] = [];
  let metricsAddress: string | undefined;

  before(async () => {
    metricsAddress = metrics ? `127.0.0.1:${await freePort()}` : undefined;
    installRuntime({ level: 'WARN', metricsAddress });
    env = await startTestServer(server);
    worker = await createCutoverWorker({
      connection: env.nativeConnection,
      deps,
      workflowBundle: await workflowBundle(),
    });
    running = worker.run();
  });

  after(async () => {
    worker?.shutdown();
    await running;
    await deps.close();
    await Promise.all(fleets.map((fleet) => fleet.stop()));
    try {
      if (env) await assertNoSecretsInHistories(env.client, [...SECRET_STRINGS, ...secrets]);
    } finally {
      await env?.teardown();
    }
  });

  return {
    get env() {
      if (!env) throw new Error('the testbed starts in before()');
      return env;
    },
    get metricsUrl() {
      if (!metricsAddress) throw new Error('the testbed serves metrics only with { metrics: true }, from before()');
      return `http://${metricsAddress}/metrics`;
    },
    async fleet(options) {
      const fleet = await startSandboxFleet(options);
      fleets.push(fleet);
      return fleet;
    },
    async fleetWithBlue(group) {
      const fleet = await this.fleet({
        healthIntervalMs: 100,
        clusters: [{ name: `${group}-blue`, version: '470', routingGroup: group }],
      });
      await untilHealthy(fleet, `${group}-blue`);
      return fleet;
    },
    async canaryFleetWithBlue(group) {
      const fleet = await this.fleet({
        healthIntervalMs: 100,
        rulesRefreshMs: 200,
        rules: canaryReadyRules(`${group}-canary`),
        clusters: [{ name: `${group}-blue`, version: '470', routingGroup: group }],
      });
      await untilHealthy(fleet, `${group}-blue`);
      return fleet;
    },
  };
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
