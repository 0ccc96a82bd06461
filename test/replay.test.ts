import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Worker } from '@temporalio/worker';
import { installRuntime } from '../src/worker/logging';
import { historyFromJson } from './support/history-json';
import { HISTORIES_DIR, workflowBundle } from './support/temporal';

/**
 * Safe worker upgrades: histories of finished runs recorded with earlier workflow code (see
 * test/fixtures/histories/README.md) must replay with today's code, or a worker deployed while
 * upgrades are in flight would fail them. No dev server needed.
 */
describe('recorded histories replay with the current workflow code', () => {
  it('every history in test/fixtures/histories replays without non-determinism', async () => {
    installRuntime({ level: 'ERROR' }); // the failures below say it all; core's WARN lines would repeat them
    // One folder per version of the workflow code the histories were recorded with.
    const files = (await readdir(HISTORIES_DIR, { recursive: true })).filter((file) => file.endsWith('.json')).sort();
    assert.ok(files.length > 0, `no recorded histories in ${HISTORIES_DIR}`);
    const histories = await Promise.all(
      files.map(async (file) => {
        const history = historyFromJson(await readFile(join(HISTORIES_DIR, file), 'utf8'));
        // Replay under the workflow id the run had (the workflow reads it, e.g. to check what a signature binds).
        const workflowId = history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowId || file;
        return { file, workflowId, history };
      }),
    );
    for (const { file, history } of histories) assert.ok((history.events?.length ?? 0) > 0, `${file} has no events`);
    const failures: string[] = [];
    let replayed = 0;
    // One history at a time, results in the order given: the index names the file.
    for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories)) {
      const { file } = histories[replayed++];
      if (result.error) failures.push(`${file}: ${result.error.name}: ${result.error.message}`);
    }
    assert.equal(replayed, files.length, 'every history was replayed');
    if (failures.length > 0) {
      assert.fail(
        `${failures.length} of ${files.length} recorded histories no longer replay; guard the change with patched() or Worker Versioning, never re-record to pass:\n${failures.join('\n')}`,
      );
    }
  });
});
