import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { progress, startRealStack, type RealStack } from '../../scripts/real-stack/stack';
import { TrinoGatewayClient } from '../../src/integrations/gateway/client';
import { integrationsFromEnv } from '../../src/worker/integrations';
import { installRuntime } from '../../src/worker/logging';
import { createCutoverWorker } from '../../src/worker/worker';
import { startTestServer, workflowBundle } from '../support/temporal';
import { BLUE, coordinatorIdOf, GREEN, versionThrough, warmUp } from './support';

/** What the tests of one real-stack file share. */
export interface RealTestbed {
  readonly stack: RealStack;
  readonly env: TestWorkflowEnvironment;
  readonly gateway: TrinoGatewayClient;
  /** Coordinator id (query-id suffix) → blue or green: tells where a query ran without asking the gateway. */
  readonly coordinatorOf: Map<string, string>;
  /** Keeps the stack's temp dir (its logs) after the file. */
  markFailed(): void;
}

/**
 * Registers before/after hooks (call it inside `describe`): the real stack and a Temporal dev
 * server start in parallel, then a worker with the real integrations; both coordinators are
 * checked and warmed up. Everything started is stopped afterwards, also when start-up failed.
 */
export function useRealTestbed(): RealTestbed {
  let stack: RealStack | undefined;
  let env: TestWorkflowEnvironment | undefined;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  let gateway: TrinoGatewayClient | undefined;
  const deps = integrationsFromEnv({});
  const coordinatorOf = new Map<string, string>();
  let failed = false;
  const started = Date.now();

  before(async () => {
    try {
      installRuntime({ level: 'WARN' });
      const [real, temporal] = await Promise.allSettled([startRealStack(), startTestServer()]);
      if (real.status === 'fulfilled') stack = real.value;
      if (temporal.status === 'fulfilled') env = temporal.value;
      for (const outcome of [real, temporal]) if (outcome.status === 'rejected') throw outcome.reason;
      worker = await createCutoverWorker({
        connection: env!.nativeConnection,
        deps,
        workflowBundle: await workflowBundle(),
      });
      running = worker.run();
      gateway = new TrinoGatewayClient({ url: stack!.gateway.url });
      for (const [name, component] of [
        [BLUE, stack!.blue],
        [GREEN, stack!.green],
      ] as const) {
        const { version, queryId } = await versionThrough(component.url);
        assert.equal(version, component.version, `${name} runs Trino ${component.version}`);
        coordinatorOf.set(coordinatorIdOf(queryId), name);
      }
      // Warm both coordinators up (JIT) so that query times under load are representative.
      await Promise.all([stack!.blue.url, stack!.green.url].map((url) => warmUp(url)));
    } catch (error) {
      failed = true;
      throw error;
    }
  });

  after(async () => {
    if (worker) {
      worker.shutdown();
      await running?.catch(() => undefined);
    }
    await deps.close();
    await gateway?.close();
    await env?.teardown().catch(() => undefined);
    await stack?.stop({ keepDir: failed });
    progress(`test file done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });

  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`the real stack's ${what} starts in before()`);
    return value;
  };
  return {
    get stack() {
      return ready(stack, 'stack');
    },
    get env() {
      return ready(env, 'Temporal dev server');
    },
    get gateway() {
      return ready(gateway, 'gateway client');
    },
    coordinatorOf,
    markFailed: () => {
      failed = true;
    },
  };
}
