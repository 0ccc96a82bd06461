import { loadClientConnectConfig } from '@temporalio/envconfig';
import { NativeConnection, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import { PolicyHolder } from '../policy/load';
import { TASK_QUEUE } from '../workflows/messages';
import { integrationsFromEnv } from './integrations';
import { installRuntime, rootLogger } from './logging';

export interface CutoverWorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  /** Integrations for the activities; default: real HTTP clients with credentials from the environment. */
  deps?: ActivityDeps;
  /** A pre-built workflow bundle (tests share one); default: bundle src/workflows at start. */
  workflowBundle?: WorkflowBundleOption;
  identity?: string;
}

/** Path of the workflow module the worker bundles (TypeScript sources under tsx, JavaScript in dist/). */
export const WORKFLOWS_PATH = require.resolve('../workflows');

/** A worker on task queue `cutover` running every cutover workflow and activity. */
export async function createCutoverWorker(options: CutoverWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace ?? 'default',
    taskQueue: TASK_QUEUE,
    ...(options.identity ? { identity: options.identity } : {}),
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    activities: createActivities(options.deps ?? integrationsFromEnv()),
    // Polling activities mostly sleep: many can share the 2 cores.
    maxConcurrentActivityTaskExecutions: 200,
    // A cancel reaches an activity only in a heartbeat's reply: send heartbeats promptly (polls heartbeat about once an interval anyway), so pause, promote and rollback stop a bake within a second.
    maxHeartbeatThrottleInterval: '1s',
  });
}

/**
 * `cutover worker`: reads the worker policy (CUTOVER_POLICY_FILE; a bad one throws PolicyError
 * before anything connects; SIGHUP reads it again), connects with @temporalio/envconfig
 * (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TLS, profiles) and runs until SIGINT/SIGTERM.
 */
export async function runWorkerFromEnv(): Promise<void> {
  // Before the runtime is installed: a worker refused for its policy exits at once.
  const policy = await PolicyHolder.fromEnv(process.env, rootLogger());
  const logger = installRuntime();
  const { connectionOptions, namespace } = loadClientConnectConfig();
  const connection = await NativeConnection.connect(connectionOptions);
  const deps = integrationsFromEnv(process.env, policy);
  const stopReloading = policy.reloadOnSighup();
  try {
    const worker = await createCutoverWorker({ connection, namespace, deps });
    logger.info(
      {
        address: connectionOptions.address ?? 'localhost:7233',
        namespace: namespace ?? 'default',
        taskQueue: TASK_QUEUE,
      },
      'cutover worker started',
    );
    await worker.run();
  } finally {
    stopReloading();
    await deps.close();
    await connection.close();
  }
}
