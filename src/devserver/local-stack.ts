import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import type { Logger } from 'pino';
import { canaryReadyRulesOf } from '../sandbox/canary-rules';
import { PolicyHolder } from '../policy/load';
import { startSandboxFleet, type SandboxFleet, type SandboxFleetOptions } from '../sandbox/fleet';
import { writeSandboxPolicy } from '../sandbox/policy';
import { integrationsFromEnv } from '../worker/integrations';
import { installRuntime } from '../worker/logging';
import { createCutoverWorker } from '../worker/worker';
import { startDevServer } from './dev-server';

export interface LocalStackOptions {
  temporalPort: number;
  uiPort: number;
  gatewayPort: number;
  /** Persist Temporal's state here (survives a restart of `cutover dev`); the worker policy is written beside it. */
  dbFilename?: string;
  /** Blue clusters of the sandbox, each in its routing group. */
  clusters: { name: string; version: string; routingGroup: string }[];
  /** The routing group of the demo's upgrade (the first of the clusters' groups for `cutover dev`'s hints). */
  routingGroup: string;
  healthIntervalMs: number;
  /** Progress lines for the person at the terminal. */
  say: (line: string) => void;
}

/** The embedded default: Temporal dev server with UI, sandbox fleet and a worker, all on 127.0.0.1. */
export interface LocalStack {
  env: TestWorkflowEnvironment;
  fleet: SandboxFleet;
  worker: Worker;
  logger: Logger;
  temporalAddress: string;
  uiUrl: string;
  /** The sandbox worker policy the worker runs with. */
  policyFile: string;
  /** Resolves when the worker stops (Ctrl-C or stop()). */
  running: Promise<void>;
  stop(): Promise<void>;
}

/** How often the sandbox gateway re-reads its rules (the real default is 1 minute; plans say `rulesRefresh`). */
export const SANDBOX_RULES_REFRESH_MS = 2_000;

/**
 * The sandbox fleet of `cutover dev` and `cutover demo`: the clusters in their routing groups, and
 * FILE rules as a real canary-ready gateway has them: the routing-group header, then cutover's
 * canary rule at 0% for each routing group (so a canary of any of them finds its rule).
 */
export function localFleetOptions(
  options: Pick<LocalStackOptions, 'gatewayPort' | 'healthIntervalMs' | 'clusters' | 'routingGroup'>,
): SandboxFleetOptions {
  const groups = [...new Set([options.routingGroup, ...options.clusters.map((cluster) => cluster.routingGroup)])];
  return {
    port: options.gatewayPort,
    healthIntervalMs: options.healthIntervalMs,
    rules: canaryReadyRulesOf(groups),
    rulesRefreshMs: SANDBOX_RULES_REFRESH_MS,
    clusters: options.clusters,
  };
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  // Quiet worker logs: the terminal shows the upgrade, the Temporal UI shows the rest.
  const logger = installRuntime({ level: 'WARN' });
  const { say } = options;
  say(`starting the Temporal dev server on 127.0.0.1:${options.temporalPort} (UI on ${options.uiPort})`);
  const env = await startDevServer({
    port: options.temporalPort,
    uiPort: options.uiPort,
    dbFilename: options.dbFilename,
    log: say,
  });
  let fleet: SandboxFleet | undefined;
  let deps: ReturnType<typeof integrationsFromEnv> | undefined;
  // The state dir: beside the persisted Temporal state, else a temporary one removed at stop.
  const stateDir = options.dbFilename
    ? dirname(resolve(options.dbFilename))
    : mkdtempSync(join(tmpdir(), 'cutover-dev-'));
  const removeStateDir = (): void => {
    if (!options.dbFilename) rmSync(stateDir, { recursive: true, force: true });
  };
  try {
    say(
      `starting the sandbox fleet: gateway on 127.0.0.1:${options.gatewayPort}, ${options.clusters.map((c) => `${c.name} (Trino ${c.version})`).join(', ')}`,
    );
    fleet = await startSandboxFleet(localFleetOptions(options));
    const policyFile = writeSandboxPolicy(stateDir, fleet.gatewayUrl);
    const policy = await PolicyHolder.fromFile(policyFile, logger.child({}, { level: 'warn' }));
    deps = integrationsFromEnv(process.env, policy);
    say(`starting a cutover worker on task queue cutover (worker policy ${policyFile})`);
    const worker = await createCutoverWorker({
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
      deps,
    });
    const running = worker.run();
    const started = fleet;
    const startedDeps = deps;
    let stopped = false;
    return {
      env,
      fleet,
      worker,
      logger,
      temporalAddress: `127.0.0.1:${options.temporalPort}`,
      uiUrl: `http://localhost:${options.uiPort}`,
      policyFile,
      running,
      async stop() {
        if (stopped) return;
        stopped = true;
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await running.catch(() => undefined);
        await startedDeps.close();
        await started.stop();
        await env.teardown();
        removeStateDir();
      },
    };
  } catch (error) {
    await deps?.close();
    await fleet?.stop();
    await env.teardown();
    removeStateDir();
    throw error;
  }
}
