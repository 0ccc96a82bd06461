import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before } from 'node:test';
import type { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { progress, startRealStack, type RealStack, type RealStackOptions } from '../../scripts/real-stack/stack';
import { signRequest } from '../../src/client/signing';
import { TrinoGatewayClient } from '../../src/integrations/gateway/client';
import { validatePolicy } from '../../src/policy/load';
import type { WorkerPolicy } from '../../src/policy/schema';
import { parsePrivateKey } from '../../src/signing/openssh';
import type { ApprovalSignature } from '../../src/signing/payload';
import { integrationsFromEnv } from '../../src/worker/integrations';
import { installRuntime } from '../../src/worker/logging';
import { createCutoverWorker } from '../../src/worker/worker';
import { FIXTURE_KEY } from '../support/keys';
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
export function useRealTestbed(options: RealStackOptions = {}): RealTestbed {
  let stack: RealStack | undefined;
  let env: TestWorkflowEnvironment | undefined;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  let gateway: TrinoGatewayClient | undefined;
  // The worker runs with a policy, as in production: the real gateway's origin, local coordinators,
  // the static provisioner, and alice (the committed test-only key) whose signature every approve
  // and promote needs.
  let policy: WorkerPolicy | undefined;
  const deps = integrationsFromEnv({}, { current: () => policy });
  const coordinatorOf = new Map<string, string>();
  let failed = false;
  const started = Date.now();

  before(async () => {
    try {
      installRuntime({ level: 'WARN' });
      const [real, temporal] = await Promise.allSettled([startRealStack(options), startTestServer()]);
      if (real.status === 'fulfilled') stack = real.value;
      if (temporal.status === 'fulfilled') env = temporal.value;
      for (const outcome of [real, temporal]) if (outcome.status === 'rejected') throw outcome.reason;
      policy = realStackPolicy(stack!.gateway.url);
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

/** The approver of the real-stack runs: the committed test-only key pair (never trusted anywhere real). */
export const REAL_APPROVER = 'alice';

/** The policy the real-stack worker runs with. */
function realStackPolicy(gatewayUrl: string): WorkerPolicy {
  return validatePolicy(
    {
      gateways: [new URL(gatewayUrl).origin],
      coordinators: ['http://127.0.0.1:*'],
      plainHttpHosts: ['127.0.0.1'],
      provisioners: { static: true },
      approvers: [{ name: REAL_APPROVER, publicKey: readFileSync(`${FIXTURE_KEY}.pub`, 'utf8').trim() }],
      requireSignedApprovals: true,
    },
    'real-stack policy',
  );
}

/** The input of a signed approve or promote by REAL_APPROVER, as `cutover approve --key` sends it. */
export async function signedBy(
  client: Client,
  id: string,
  action: 'approve' | 'promote',
): Promise<{ by: string; signature: ApprovalSignature }> {
  const key = parsePrivateKey(readFileSync(FIXTURE_KEY, 'utf8'));
  return { by: REAL_APPROVER, signature: await signRequest(client, id, action, REAL_APPROVER, key, '10m') };
}
