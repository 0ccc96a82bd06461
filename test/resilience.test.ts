import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startUpgrade } from '../src/client/upgrades';
import { untilHealthy, waitForPhase } from '../src/devserver/wait';
import { TrinoHttpClient } from '../src/integrations/trino/client';
import { startSandboxFleet } from '../src/sandbox/fleet';
import { assertJournal } from './support/journal';
import { fastPlan } from './support/plans';
import { useProcessTestbed } from './support/process-testbed';
import { assertReplays } from './support/temporal';

describe('durability: real worker processes on a real Temporal dev server', () => {
  const testbed = useProcessTestbed();

  it('worker killed with SIGKILL while draining: a new worker resumes and nothing is provisioned or registered twice', async () => {
    const group = 'sigkill';
    const fleet = await startSandboxFleet({
      healthIntervalMs: 100,
      clusters: [{ name: `${group}-blue`, version: '470', routingGroup: group }],
    });
    testbed.onStop(() => fleet.stop());

    const since = Date.now();
    // Long queries on blue keep the drain busy while the worker dies.
    const client = new TrinoHttpClient({ url: fleet.gatewayUrl, connections: 4 });
    await untilHealthy(fleet, `${group}-blue`);
    const longQueries = Array.from({ length: 3 }, (_, i) =>
      client.execute('/* sandbox:duration=12s */ SELECT 1', {
        user: `analyst-${i}`,
        headers: { 'X-Trino-Routing-Group': group },
      }),
    );
    const handle = await startUpgrade(
      testbed.env.client,
      fastPlan(fleet.gatewayUrl, group, {
        approval: { required: false },
        bake: '200ms',
        retire: { keepBlueFor: '0s' },
      }),
    );

    await waitForPhase(handle, 'DRAINING', 30_000);
    const second = await testbed.replaceWorker('SIGKILL');

    const result = await handle.result();
    const outcomes = await Promise.all(longQueries);
    await client.close();

    assert.equal(result.outcome, 'SUCCEEDED', second.output());
    assert.deepEqual(
      outcomes.map((outcome) => outcome.state),
      ['FINISHED', 'FINISHED', 'FINISHED'],
      'queries running on blue finished there',
    );
    const journal = fleet.journal(since);
    assertJournal(journal, {
      counts: [
        ['cluster.created', `${group}-green`, 1, 'green provisioned once'],
        [['backend.added', 'backend.updated'], `${group}-green`, 1, 'green registered once'],
        ['backend.activated', `${group}-green`, 1, 'green activated once'],
        ['cluster.deleted', `${group}-blue`, 1, 'blue torn down once'],
      ],
    });
    const blueDeleted = journal.find((entry) => entry.kind === 'cluster.deleted' && entry.name === `${group}-blue`)!.at;
    assert.ok(blueDeleted >= since + 12_000, 'blue was torn down only after its queries finished');
    const events = (await handle.fetchHistory()).events ?? [];
    const drainScheduled = events.find(
      (event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'drainBackends',
    );
    const drainStarted = events.find(
      (event) => String(event.activityTaskStartedEventAttributes?.scheduledEventId) === String(drainScheduled?.eventId),
    );
    assert.ok(
      (drainStarted?.activityTaskStartedEventAttributes?.attempt ?? 0) >= 2,
      'the drain was resumed by a second attempt on the new worker',
    );
    await assertReplays(handle);
  });
});
