import { NativeConnection } from '@temporalio/worker';
import { integrationsFromEnv } from '../../src/worker/integrations';
import { installRuntime } from '../../src/worker/logging';
import { createCutoverWorker } from '../../src/worker/worker';
import { fakeShadowEngine } from './shadow-engine';

/**
 * A worker process like `cutover worker` (no policy, integrations from the environment) whose
 * activities use the stand-in shadow engine, so a test can kill it with SIGKILL mid-step.
 */
async function main(): Promise<void> {
  installRuntime({ level: 'WARN' });
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS });
  const deps = integrationsFromEnv(process.env);
  deps.shadowEngine = fakeShadowEngine;
  const worker = await createCutoverWorker({ connection, deps });
  process.stderr.write('cutover worker started\n');
  await worker.run();
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
