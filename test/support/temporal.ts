import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { startDevServer } from '../../src/devserver/dev-server';
import { WORKFLOWS_PATH } from '../../src/worker/worker';
import { historyToJson } from './history-json';

/** One real Temporal dev server per test file, shared by its tests. */
export async function startTestServer(
  options: { dbFilename?: string; port?: number; extraArgs?: string[] } = {},
): Promise<TestWorkflowEnvironment> {
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

/** Where recorded histories live; test/replay.test.ts replays every file there. */
export const HISTORIES_DIR = join(__dirname, '..', 'fixtures', 'histories');

/**
 * Replays a finished run's history with the current workflow code: a nondeterministic workflow fails here.
 * With CUTOVER_RECORD_HISTORIES=<set> it also writes the history to test/fixtures/histories/<set>/<name>.json
 * (default name: workflow type + workflow id); a set holds the histories of one version of the workflow code.
 */
export async function assertReplays(handle: WorkflowHandle, name?: string): Promise<void> {
  const history = await handle.fetchHistory();
  await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, handle.workflowId);
  const set = process.env.CUTOVER_RECORD_HISTORIES;
  if (set) {
    if (!/^[a-z0-9][a-z0-9.-]*$/.test(set))
      throw new Error(
        `CUTOVER_RECORD_HISTORIES names a folder of test/fixtures/histories (such as "step-names"), not ${JSON.stringify(set)}`,
      );
    const type = history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? 'workflow';
    const dir = join(HISTORIES_DIR, set);
    const file = join(dir, `${(name ?? `${type}-${handle.workflowId}`).replace(/[^A-Za-z0-9._-]+/g, '_')}.json`);
    await mkdir(dir, { recursive: true });
    await writeFile(file, `${historyToJson(history)}\n`);
    process.stderr.write(`recorded ${history.events?.length ?? 0} history events to ${file}\n`);
  }
}
