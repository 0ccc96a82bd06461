import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { startDevServer } from '../../src/devserver/dev-server';
import { WORKFLOWS_PATH } from '../../src/worker/worker';

/** One real Temporal dev server per test file, shared by its tests. */
export async function startTestServer(options: { dbFilename?: string; port?: number; extraArgs?: string[] } = {}): Promise<TestWorkflowEnvironment> {
  return startDevServer({ ...options, log: (line) => process.stderr.write(`${line}\n`) });
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** The workflow bundle, built once per test process (bundling takes seconds). */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietLogger });
  return bundle;
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => process.stderr.write(`bundler: ${message}\n`),
  error: (message: string) => process.stderr.write(`bundler: ${message}\n`),
};

/** Replays a finished run's history with the current workflow code: a nondeterministic workflow fails here. */
export async function assertReplays(handle: WorkflowHandle): Promise<void> {
  const history = await handle.fetchHistory();
  await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, handle.workflowId);
}
