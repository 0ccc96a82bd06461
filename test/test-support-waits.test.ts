import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor } from '../scripts/real-stack/processes';
import { Journal } from '../src/sandbox/journal';
import { journalMark } from './support/journal';

describe('the waits tests and the real stack build on', () => {
  it('journalMark leaves out an effect recorded in the same millisecond, and keeps the next one', async () => {
    const journal = new Journal();
    journal.append('backend.added', { name: 'set-up-by-the-test' });
    const since = await journalMark();
    assert.deepEqual(journal.entries(since), [], 'the set-up effect is not a change after the mark');
    journal.append('backend.updated', { name: 'changed-by-the-run' });
    assert.deepEqual(
      journal.entries(since).map((entry) => entry.name),
      ['changed-by-the-run'],
    );
  });

  it('waitFor gives up on a check that never answers and times out when it should', async () => {
    const started = Date.now();
    await assert.rejects(
      waitFor('an answer that never comes', () => new Promise<boolean>(() => {}), {
        timeoutMs: 300,
        checkTimeoutMs: 200,
        intervalMs: 50,
      }),
      /timed out after 0\.3 s waiting for an answer that never comes/,
    );
    assert.ok(Date.now() - started < 2_000, `gave up in ${Date.now() - started} ms`);
  });

  it('waitFor returns once a later check answers true, after earlier ones hung', async () => {
    let calls = 0;
    await waitFor('the third check', () => (++calls < 3 ? new Promise<boolean>(() => {}) : Promise.resolve(true)), {
      timeoutMs: 5_000,
      checkTimeoutMs: 100,
      intervalMs: 10,
    });
    assert.equal(calls, 3);
  });
});
