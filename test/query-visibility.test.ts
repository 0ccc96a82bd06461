/**
 * Issue 10, item 1: Trino shows a user only the queries it may view. With access control that
 * hides other users' queries from cutover, blue must still not count as drained, the preflight
 * must say which right is missing, and the retire must not delete a cluster that still runs queries.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure, type Info } from '@temporalio/activity';
import type { WorkflowHandle } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities } from '../src/activities';
import type { DrainInput } from '../src/activities/types';
import { startUpgrade } from '../src/client/upgrades';
import { until, untilHealthy, waitForPhase, waitForStatus } from '../src/devserver/wait';
import { TrinoHttpClient } from '../src/integrations/trino/client';
import { SimulatedCoordinator } from '../src/sandbox/coordinator';
import type { SandboxFleet } from '../src/sandbox/fleet';
import { approveUpdate, statusQuery } from '../src/workflows/messages';
import { integrationsFromEnv } from '../src/worker/integrations';
import { gatewayBackends, lastNote } from './support/faults';
import { journalMark } from './support/journal';
import { fastPlan } from './support/plans';
import { json, ScriptedServer } from './support/scripted-server';
import { assertReplays } from './support/temporal';
import { useTestbed } from './support/testbed';

/** Runs one attempt of `activity`, quiet about the failures the tests expect. */
function runActivity<I, R>(activity: (input: I) => Promise<R>, input: I, info: Partial<Info> = {}): Promise<R> {
  return new MockActivityEnvironment(info, { logger: new DefaultLogger('ERROR') }).run<[I], R, typeof activity>(
    activity,
    input,
  );
}

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

/** Runs `seconds` of query as `user` directly on `url`; resolves to its final state. */
async function queryAs(url: string, user: string, seconds: number): Promise<string> {
  const client = new TrinoHttpClient({ url, user });
  try {
    return (await client.execute(`/* sandbox:duration=${seconds}s */ SELECT 1`)).state;
  } finally {
    await client.close();
  }
}

describe('the drain sees every query: access control hides other users’ queries from cutover (activities)', () => {
  // Only `admin` may view other users' queries: cutover (the worker's default Trino user) sees its own only.
  const blue = new SimulatedCoordinator({ name: 'hidden-blue', version: '470', queryViewers: ['admin'] });
  const deps = integrationsFromEnv({});
  const activities = createActivities(deps);
  let admin: TrinoHttpClient;

  before(async () => {
    await blue.start();
    admin = new TrinoHttpClient({ url: blue.url, user: 'admin' });
  });
  after(async () => {
    await admin.close();
    await deps.close();
    await blue.stop();
  });

  const drainInput = (extra: Partial<DrainInput> = {}): DrainInput => ({
    backends: [{ name: 'hidden-blue', proxyTo: blue.url }],
    interval: '100ms',
    resultGrace: '0s',
    ...extra,
  });

  /** Waits until the coordinator runs `n` queries cutover cannot see. */
  async function untilRunning(n: number): Promise<void> {
    await until(`${n} queries running on blue`, async () => (await admin.activeQueries()).length === n, 5_000, 20);
  }

  it('drainBackends does not report blue drained while another user’s query, hidden from cutover, runs there', async () => {
    const hidden = queryAs(blue.url, 'night-batch', 2.5).then((state) => ({ state, endedAt: Date.now() }));
    await untilRunning(1);
    const cutover = new TrinoHttpClient({ url: blue.url, user: 'cutover' });
    try {
      assert.deepEqual(await cutover.activeQueries(), [], 'access control hides the query from cutover');
    } finally {
      await cutover.close();
    }
    const early = await runActivity(activities.drainBackends, drainInput({ timeout: '800ms' }));
    assert.deepEqual([early.drained, early.remaining], [false, 1], 'not drained while the hidden query runs');

    const drained = await runActivity(activities.drainBackends, drainInput({ timeout: '10s' }));
    const drainedAt = Date.now();
    const { state, endedAt } = await hidden;
    assert.equal(state, 'FINISHED');
    assert.equal(drained.drained, true);
    // The client sees its query end a poll after the coordinator does.
    assert.ok(drainedAt >= endedAt - 300, `drained ${endedAt - drainedAt} ms before the hidden query ended`);
  });

  it('the visibility check refuses while a hidden query runs, naming the user, the backend and the right it lacks', async () => {
    const hidden = queryAs(blue.url, 'etl-report', 5);
    await untilRunning(1);
    const started = Date.now();
    const message = await failsWith(
      runActivity(activities.checkQueryVisibility, { backends: [{ name: 'hidden-blue', proxyTo: blue.url }] }),
      'QueriesNotVisible',
    );
    assert.match(message, /^Trino user cutover cannot see every query on blue backend hidden-blue \(http:\/\/127/);
    assert.match(message, /\(1 vs 0, 1 vs 0, 1 vs 0\)/);
    assert.match(message, /let cutover view queries owned by other users/);
    assert.match(message, /\{"user": "cutover", "allow": \["execute", "view"\]\}/);
    assert.ok(Date.now() - started < 4_000, 'three samples a second apart');
    assert.equal(await hidden, 'FINISHED');
  });

  it('the visibility check passes at once on an idle coordinator, and while others’ queries run for a user who may view them', async () => {
    const started = Date.now();
    await runActivity(activities.checkQueryVisibility, { backends: [{ name: 'hidden-blue', proxyTo: blue.url }] });
    assert.ok(Date.now() - started < 900, 'one sample when nothing runs');
    const viewer = integrationsFromEnv({ CUTOVER_TRINO_USER: 'admin' });
    const hidden = queryAs(blue.url, 'etl-report', 1.5);
    try {
      await untilRunning(1);
      await runActivity(createActivities(viewer).checkQueryVisibility, {
        backends: [{ name: 'hidden-blue', proxyTo: blue.url }],
      });
    } finally {
      await hidden;
      await viewer.close();
    }
  });

  it('the visibility check refuses a coordinator whose cluster stats cutover cannot read, saying it needs the web UI', async () => {
    const coordinator = new ScriptedServer();
    await coordinator.start();
    try {
      coordinator.reset((req, res) => {
        if (req.url === '/v1/query') return json(res, 200, []);
        if (req.url === '/ui/login') return res.writeHead(303, { location: '/ui/login.html' }).end();
        res.writeHead(401).end();
      });
      const message = await failsWith(
        runActivity(activities.checkQueryVisibility, { backends: [{ name: 'no-ui', proxyTo: coordinator.url }] }),
        'ClusterStatsUnreadable',
      );
      assert.match(message, /cannot read Trino's cluster stats \(\/ui\/api\/stats\) on blue backend no-ui/);
      assert.match(message, /Trino user cutover needs Trino's web UI/);
    } finally {
      await coordinator.stop();
    }
  });
});

describe('the drain sees every query: upgrades whose blue hides other users’ queries from cutover (workflows)', () => {
  const testbed = useTestbed();

  /** A fleet whose `group` is served by `<group>-blue`, where access control lets nobody view other users' queries. */
  async function fleetWithHiddenBlue(group: string): Promise<SandboxFleet> {
    const fleet = await testbed.fleet({
      healthIntervalMs: 100,
      clusters: [{ name: `${group}-blue`, version: '470', routingGroup: group, queryViewers: [] }],
    });
    await untilHealthy(fleet, `${group}-blue`);
    return fleet;
  }

  /**
   * A query of `seconds` sent as `user` through the gateway (or straight to a coordinator), and a
   * way to wait until it runs; resolves to its final state (LOST when its coordinator went away) and when it ended.
   */
  function longQuery(url: string, user: string, seconds: number, group?: string) {
    const client = new TrinoHttpClient({ url, user });
    const cancel = new AbortController();
    const ended = client
      .execute(`/* sandbox:duration=${seconds}s */ SELECT 1`, {
        headers: group ? { 'X-Trino-Routing-Group': group } : {},
        signal: cancel.signal,
      })
      .then(
        (result) => result.state as string,
        () => 'LOST',
      )
      .then(async (state) => {
        await client.close();
        return { state, endedAt: Date.now() };
      });
    /** Waits until `coordinator` runs it (asked as its own user, who always sees it). */
    const runningOn = async (coordinator: string) => {
      const own = new TrinoHttpClient({ url: coordinator, user });
      try {
        await until(`${user}'s query running on ${coordinator}`, async () => (await own.activeQueries()).length > 0);
      } finally {
        await own.close();
      }
    };
    return { ended, runningOn, cancel: () => cancel.abort() };
  }

  it('the preflight refuses an upgrade while a query hidden from cutover runs on blue, naming the missing right, and changes nothing', async () => {
    const group = 'unseen';
    const fleet = await fleetWithHiddenBlue(group);
    const blueUrl = fleet.cluster(`${group}-blue`)!.url;
    const hidden = longQuery(fleet.gatewayUrl, 'night-batch', 60, group);
    let upgrade: WorkflowHandle | undefined;
    try {
      await hidden.runningOn(blueUrl);
      const since = await journalMark();
      const handle = await startUpgrade(testbed.env.client, fastPlan(fleet.gatewayUrl, group));
      upgrade = handle;
      const status = await waitForStatus(
        handle,
        (s) => s.phase === 'FAILED' || s.awaitingApproval,
        'the upgrade ends or awaits approval',
      );
      assert.equal(status.phase, 'FAILED');
      assert.match(
        status.error ?? '',
        new RegExp(
          `^preflight failed, nothing was changed: .*Trino user cutover cannot see every query on blue backend ${group}-blue`,
        ),
      );
      assert.match(status.error ?? '', /must let cutover view queries owned by other users/);
      assert.deepEqual(await gatewayBackends(fleet), [[`${group}-blue`, true]], 'the gateway is as it was');
      assert.equal(fleet.cluster(`${group}-green`), undefined, 'no green was provisioned');
      assert.deepEqual(fleet.journal(since), [], 'nothing changed in the fleet');
      await assertReplays(handle);
    } finally {
      if ((await upgrade?.describe())?.status.name === 'RUNNING') await upgrade?.terminate('test over');
      hidden.cancel();
      await hidden.ended;
    }
  });

  it('a query hidden from cutover that blue still runs after the flip holds the drain: blue is torn down only after it ends', async () => {
    const group = 'unseenlater';
    const fleet = await fleetWithHiddenBlue(group);
    const blueUrl = fleet.cluster(`${group}-blue`)!.url;
    const since = await journalMark();
    // Blue is idle at the preflight, which therefore cannot tell; the drain must count the query anyway.
    const handle = await startUpgrade(testbed.env.client, fastPlan(fleet.gatewayUrl, group));
    await waitForPhase(handle, 'AWAITING_APPROVAL');
    const hidden = longQuery(fleet.gatewayUrl, 'etl-report', 6, group);
    await hidden.runningOn(blueUrl);
    await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] });
    const result = await handle.result();
    const { state, endedAt } = await hidden.ended;
    assert.equal(result.outcome, 'SUCCEEDED');
    assert.equal(state, 'FINISHED', 'the hidden query finished on blue');
    const drained = result.status.timeline.find((entry) => entry.message === `${group}-blue drained`);
    assert.ok(drained, 'the timeline says when blue drained');
    // The client sees its query end a poll after the coordinator does.
    assert.ok(
      Date.parse(drained.at) >= endedAt - 500,
      `blue counted drained ${endedAt - Date.parse(drained.at)} ms before the hidden query ended`,
    );
    const deleted = fleet.journal(since).find((e) => e.kind === 'cluster.deleted' && e.name === `${group}-blue`);
    assert.ok(deleted && deleted.at >= endedAt - 500, 'blue was deleted after the hidden query ended');
    await assertReplays(handle);
  });

  /** An upgrade without approval that keeps blue warm `keepBlueFor`, started and followed until blue is kept warm. */
  async function untilKeptWarm(fleet: SandboxFleet, group: string, retire: Record<string, unknown>) {
    const handle = await startUpgrade(
      testbed.env.client,
      fastPlan(fleet.gatewayUrl, group, { approval: { required: false }, retire }),
    );
    await waitForStatus(handle, lastNote(/deactivated and warm for/), 'blue kept warm', 60_000);
    return handle;
  }

  it('the retire refuses to delete blue’s cluster while another backend proxies to it: FAILED, the gateway keeps both, the cluster stays', async () => {
    const group = 'sharedblue';
    const fleet = await testbed.fleetWithBlue(group);
    const blueUrl = fleet.cluster(`${group}-blue`)!.url;
    const since = await journalMark();
    const handle = await untilKeptWarm(fleet, group, { keepBlueFor: '2s', timeout: '30s' });
    // Another group's backend on the very same coordinator (the gateway strips the trailing slash).
    fleet.gateway.upsertBackend({ name: 'reports', proxyTo: `${blueUrl}/`, active: true, routingGroup: 'reports' });
    await assert.rejects(handle.result());
    const status = await handle.query(statusQuery);
    assert.equal(status.phase, 'FAILED');
    assert.match(
      status.error ?? '',
      new RegExp(
        `refusing to delete the clusters of ${group}-blue: reports \\(routing group reports\\) proxies to ${group}-blue's ${blueUrl}`,
      ),
    );
    assert.match(status.error ?? '', new RegExp(`Not retired: ${group}-blue \\(still in the gateway, inactive`));
    assert.deepEqual(await gatewayBackends(fleet), [
      ['reports', true],
      [`${group}-blue`, false],
      [`${group}-green`, true],
    ]);
    assert.ok(fleet.cluster(`${group}-blue`), 'blue’s cluster still runs');
    assert.equal(
      fleet.journal(since).find((e) => e.kind === 'cluster.deleted' && e.name === `${group}-blue`),
      undefined,
      'blue’s cluster was never deleted',
    );
    await assertReplays(handle);
  });

  it('a query started right on blue’s coordinator after the drain holds the teardown until it ends', async () => {
    const group = 'lateblue';
    const fleet = await testbed.fleetWithBlue(group);
    const blueUrl = fleet.cluster(`${group}-blue`)!.url;
    const since = await journalMark();
    const handle = await untilKeptWarm(fleet, group, { keepBlueFor: '2s', timeout: '1m' });
    const direct = longQuery(blueUrl, 'analyst', 5);
    await direct.runningOn(blueUrl);
    const result = await handle.result();
    const { state, endedAt } = await direct.ended;
    assert.equal(result.outcome, 'SUCCEEDED');
    assert.equal(state, 'FINISHED', 'the query on blue finished there');
    const deleted = fleet.journal(since).find((e) => e.kind === 'cluster.deleted' && e.name === `${group}-blue`);
    assert.ok(deleted, 'blue was deleted');
    assert.ok(deleted.at >= endedAt - 500, `blue deleted ${endedAt - deleted.at} ms before the query on it ended`);
    await assertReplays(handle);
  });
});
