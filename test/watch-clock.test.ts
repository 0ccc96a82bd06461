import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Info } from '@temporalio/activity';
import { DefaultLogger } from '@temporalio/worker';
import { MockActivityEnvironment } from '@temporalio/testing';
import { observe, unwatchedBefore } from '../src/activities/watch-clock';

/** An attempt of a bake activity scheduled at t=1000. */
function attempt(number: number): MockActivityEnvironment {
  const info: Partial<Info> = { attempt: number, scheduledTimestampMs: 1_000 };
  return new MockActivityEnvironment(info, { logger: new DefaultLogger('ERROR') });
}

describe('the watch clock of a bake counts only the time green was watched', () => {
  it('counts the time between observations of one attempt, and a gap past the limit as unwatched', () => {
    let clock = observe({ watchedMs: 0, unwatchedMs: 0 }, 10_000, 1_000);
    assert.deepEqual(
      clock,
      { watchedMs: 0, unwatchedMs: 0, observedAt: 10_000 },
      'the first observation opens the watch',
    );
    clock = observe(clock, 10_600, 1_000);
    clock = observe(clock, 11_300, 1_000);
    assert.equal(clock.watchedMs, 1_300);
    clock = observe(clock, 20_000, 1_000);
    assert.deepEqual(
      clock,
      { watchedMs: 1_300, unwatchedMs: 8_700, observedAt: 20_000 },
      'a stalled worker watched nothing',
    );
  });

  it('a retried attempt counts the whole time since the last recorded observation as unwatched', async () => {
    assert.equal(
      await attempt(2).run(async () => unwatchedBefore(40_000, 87_000, 60_000)),
      47_000,
      'the worker outage',
    );
    assert.equal(
      await attempt(3).run(async () => unwatchedBefore(undefined, 5_000, 60_000)),
      4_000,
      'no observation reached the server: since the activity was first scheduled',
    );
    assert.equal(await attempt(2).run(async () => unwatchedBefore(90_000, 87_000, 60_000)), 0, 'never negative');
  });

  it("a first attempt counts only a gap past the limit since the bake's previous call", async () => {
    assert.equal(await attempt(1).run(async () => unwatchedBefore(undefined, 87_000, 1_000)), 0, 'a new bake');
    assert.equal(await attempt(1).run(async () => unwatchedBefore(86_500, 87_000, 1_000)), 0, 'a hand-back');
    assert.equal(
      await attempt(1).run(async () => unwatchedBefore(40_000, 87_000, 1_000)),
      47_000,
      'no worker ran the bake between two calls',
    );
  });
});
