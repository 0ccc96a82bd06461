import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import type { Info } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities } from '../src/activities';
import type { VerifyGreenInput } from '../src/activities/types';
import { TrinoHttpClient } from '../src/integrations/trino/client';
import type { HealthSnapshot } from '../src/observations';
import { workerPolicySchema } from '../src/policy/schema';
import { SimulatedCoordinator } from '../src/sandbox/coordinator';
import { integrationsFromEnv } from '../src/worker/integrations';

/** Asserts a non-retryable ApplicationFailure of `type` and returns its message. */
async function failsWith(promise: Promise<unknown>, type: string): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(error)}`);
    assert.equal(error.type, type, error.message);
    assert.equal(error.nonRetryable, true, error.message);
    return error.message;
  }
  assert.fail(`expected ${type}`);
}

/** One activity attempt, quiet about the failures the tests expect. */
function attempt(info: Partial<Info> = {}): MockActivityEnvironment {
  return new MockActivityEnvironment(info, { logger: new DefaultLogger('ERROR') });
}

describe('smoke queries on green: read-only, bounded, never in a tight loop', () => {
  const green = new SimulatedCoordinator({ name: 'smoke-green', version: '480' });
  const deps = integrationsFromEnv({});
  const activities = createActivities(deps);
  let observer: TrinoHttpClient;

  before(async () => {
    await green.start();
    observer = new TrinoHttpClient({ url: green.url, user: 'observer' });
  });
  after(async () => {
    await observer.close();
    await deps.close();
    await green.stop();
  });

  function input(smokeQueries: string[], extra: Partial<VerifyGreenInput> = {}): VerifyGreenInput {
    return {
      url: green.url,
      version: '480',
      interval: '100ms',
      timeout: '30s',
      smokeQueries,
      minActiveWorkers: 1,
      ...extra,
    };
  }

  /** The statements green received with this exact text, oldest first. */
  async function received(sql: string) {
    const queries = (await observer.listQueries()).filter((query) => query.query === sql);
    return queries.map((query) => ({ ...query, at: Date.parse(query.createTime ?? '') }));
  }

  it('a failing smoke query runs once per health.interval, three times, then the step fails', async () => {
    const sql = "SELECT 'spacing'";
    green.setFaults({ failRate: 1 });
    try {
      const message = await failsWith(
        attempt().run(activities.verifyGreen, input([sql], { interval: '400ms' })),
        'SmokeQueryFailed',
      );
      assert.match(message, /smoke query "SELECT 'spacing'" failed: Simulated failure .* \(3 times in a row\)$/);
    } finally {
      green.setFaults({ failRate: 0 });
    }
    const statements = await received(sql);
    assert.equal(statements.length, 3, 'one statement per check, no retry in between');
    for (let i = 1; i < statements.length; i++) {
      const gap = statements[i].at - statements[i - 1].at;
      assert.ok(gap >= 390, `statement ${i + 1} came ${gap} ms after the one before, within the 400 ms interval`);
    }
  });

  it('a retried attempt waits one interval before it runs the smoke queries again, and keeps the failure count', async () => {
    const sql = "SELECT 'retried'";
    const scheduledAt = Date.now();
    const retried = attempt({
      attempt: 2,
      currentAttemptScheduledTimestampMs: scheduledAt,
      heartbeatDetails: { startedAt: scheduledAt - 2_000, state: { smokeFailures: 2 } },
    });
    green.setFaults({ failRate: 1 });
    try {
      const message = await failsWith(
        retried.run(activities.verifyGreen, input([sql], { interval: '600ms' })),
        'SmokeQueryFailed',
      );
      assert.match(message, /\(3 times in a row\)$/);
    } finally {
      green.setFaults({ failRate: 0 });
    }
    const statements = await received(sql);
    assert.equal(statements.length, 1);
    assert.ok(statements[0].at - scheduledAt >= 590, `ran ${statements[0].at - scheduledAt} ms after the retry`);
  });

  it('a smoke query that is not read-only is refused before anything runs on green', async () => {
    const before = (await observer.listQueries()).length;
    const message = await failsWith(
      attempt().run(activities.verifyGreen, input(['SELECT 1', '/* ok */ DELETE FROM t'])),
      'SmokeQueryNotReadOnly',
    );
    assert.equal(
      message,
      'health.smokeQueries[1]: must be read-only (SELECT, WITH, VALUES, SHOW, DESCRIBE, EXPLAIN); "DELETE FROM t" is not',
    );
    const tooMany = Array.from({ length: 21 }, (_, i) => `SELECT ${i}`);
    assert.match(
      await failsWith(attempt().run(activities.verifyGreen, input(tooMany)), 'TooManySmokeQueries'),
      /must not list more than 20 smoke queries \(this run lists 21\)/,
    );
    assert.equal((await observer.listQueries()).length, before, 'green received no statement');
  });

  it('without bounds in the input (older workflow code), a smoke query may return 10,000 rows and no more', async () => {
    const small = '/* sandbox:rows=10000 */ SELECT x FROM t';
    const snapshot = await attempt().run<[VerifyGreenInput], HealthSnapshot, typeof activities.verifyGreen>(
      activities.verifyGreen,
      input([small]),
    );
    assert.equal(snapshot.message, '1 smoke query finished');

    // Past the cap with a page still to come: the query is cancelled on green.
    const large = '/* sandbox:rows=12000 */ SELECT x FROM t';
    assert.match(
      await failsWith(attempt().run(activities.verifyGreen, input([large])), 'SmokeQueryFailed'),
      /failed: returned more than 10000 rows \(3 times in a row\)$/,
    );
    const statements = await received(large);
    assert.deepEqual(
      statements.map((query) => [query.state, query.errorCode]),
      Array(3).fill(['FAILED', 'USER_CANCELED']),
      'each was cancelled on green once past the cap',
    );
  });

  it("the worker policy's row cap and timeout bound each smoke query, which is cancelled on green when it goes past them", async () => {
    const bounded = createActivities({
      ...deps,
      policy: () =>
        workerPolicySchema.parse({
          gateways: ['http://127.0.0.1:*'],
          bounds: { smokeQueryMaxRows: 5, smokeQueryTimeout: '200ms' },
        }),
    });
    const rows = '/* sandbox:rows=6 */ SELECT x FROM t';
    assert.match(
      await failsWith(attempt().run(bounded.verifyGreen, input([rows])), 'SmokeQueryFailed'),
      /failed: returned more than 5 rows/,
    );

    const slow = '/* sandbox:duration=10s */ SELECT 1';
    const started = Date.now();
    assert.match(
      await failsWith(attempt().run(bounded.verifyGreen, input([slow])), 'SmokeQueryFailed'),
      /failed: did not finish within 200 ms \(3 times in a row\)$/,
    );
    assert.ok(Date.now() - started < 5_000, 'three bounded runs, not three 10 s queries');
    assert.deepEqual(
      (await received(slow)).map((query) => [query.state, query.errorCode]),
      Array(3).fill(['FAILED', 'USER_CANCELED']),
    );
  });

  it('a trailing semicolon is dropped before the query is sent, which Trino would refuse', async () => {
    await attempt().run(activities.verifyGreen, input(["SELECT 'semicolon';"]));
    assert.equal((await received("SELECT 'semicolon'")).length, 1);
  });
});
