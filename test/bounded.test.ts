import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startUpgrade } from '../src/client/upgrades';
import { waitForPhase } from '../src/devserver/wait';
import { approveSignal, rollbackUpdate, statusQuery, type ApproveInput } from '../src/workflows/messages';
import { renderDetails } from '../src/workflows/details';
import { gatewayBackends, startLongQueries } from './support/faults';
import { GatewayOutageProxy } from './support/gateway-outage-proxy';
import { journalMark } from './support/journal';
import { fastPlan } from './support/plans';
import { assertReplays } from './support/temporal';
import { useTestbed } from './support/testbed';

describe('everything bounded: deadlines and sizes an upgrade cannot outgrow', () => {
  const testbed = useTestbed();

  it('a provisioner that stays unreachable rolls back at green.provisionDeadline, leaving blue serving', async () => {
    const group = 'provdeadline';
    const fleet = await testbed.fleetWithBlue(group);
    const control = await GatewayOutageProxy.start(fleet.gatewayUrl);
    try {
      // Looking for green works; creating it meets a control API that answers 503 from then on.
      const outage = control.outageFrom(
        (method, path) => method === 'PUT' && path.startsWith('/sandbox/v1/'),
        'unavailable',
      );
      const handle = await startUpgrade(
        testbed.env.client,
        fastPlan(fleet.gatewayUrl, group, {
          green: { provisionDeadline: '4s', provisioner: { controlUrl: control.url } },
        }),
      );
      await outage;
      await waitForPhase(handle, 'ROLLING_BACK', 30_000);
      // The rollback's teardown of green needs the control API: it is back by now.
      await control.end();
      const result = await handle.result();
      assert.equal(result.outcome, 'ROLLED_BACK');
      assert.match(result.reason ?? '', /not provisioned within 4s \(green\.provisionDeadline\)/);
      assert.deepEqual(await gatewayBackends(fleet), [[`${group}-blue`, true]]);
      const status = await handle.query(statusQuery);
      assert.equal(status.phase, 'ROLLED_BACK');
      await assertReplays(handle);
    } finally {
      await control.stop();
    }
  });
  it('signal spam keeps the timeline at its latest 200 entries and counts the rest', async () => {
    const group = 'spam';
    const fleet = await testbed.fleetWithBlue(group);
    const handle = await startUpgrade(testbed.env.client, fastPlan(fleet.gatewayUrl, group));
    await waitForPhase(handle, 'AWAITING_APPROVAL', 30_000);
    // Approvals that name nobody are refused, and each refusal is noted.
    for (let i = 0; i < 300; i++) await handle.signal(approveSignal, {} as ApproveInput);
    await handle.executeUpdate(rollbackUpdate, { args: [{ by: 'test', reason: 'spam test over' }] });
    const result = await handle.result();
    assert.equal(result.outcome, 'ROLLED_BACK');
    const status = await handle.query(statusQuery);
    assert.equal(status.timeline.length, 200);
    assert.ok((status.timelineDropped ?? 0) >= 100, `dropped ${status.timelineDropped}`);
    assert.match(status.timeline.at(-1)!.message, /trino|serves/);
    assert.match(renderDetails(status), /earlier timeline entries not kept/);
    await assertReplays(handle);
  });

  it('blue is torn down only drain.resultGrace after its last query ended, so clients can still fetch results', async () => {
    const group = 'grace';
    const fleet = await testbed.fleetWithBlue(group);
    const since = await journalMark();
    const queries = startLongQueries(fleet.gatewayUrl, group, 3).then((states) => ({ states, endedAt: Date.now() }));
    const handle = await startUpgrade(
      testbed.env.client,
      fastPlan(fleet.gatewayUrl, group, {
        approval: { required: false },
        bake: '200ms',
        drain: { resultGrace: '4s' },
        retire: { keepBlueFor: '0s' },
      }),
    );
    const result = await handle.result();
    const { states, endedAt } = await queries;
    assert.equal(result.outcome, 'SUCCEEDED');
    assert.deepEqual(states, ['FINISHED', 'FINISHED'], 'the queries on blue finished there');
    const deleted = fleet
      .journal(since)
      .find((entry) => entry.kind === 'cluster.deleted' && entry.name === `${group}-blue`);
    assert.ok(deleted, 'blue was torn down');
    // The client saw its query end a little after the coordinator did: allow for that.
    assert.ok(
      deleted.at >= endedAt + 4_000 - 500,
      `blue torn down ${deleted.at - endedAt} ms after its last query ended`,
    );
    await assertReplays(handle);
  });
});
