import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { startUpgrade } from '../src/client/upgrades';
import { waitForStatus } from '../src/devserver/wait';
import { canaryReadyRules } from '../src/sandbox/canary-rules';
import { gatewayBackends } from './support/faults';
import { fastPlan } from './support/plans';
import { assertReplays } from './support/temporal';
import { useTestbed } from './support/testbed';

describe('fail closed: what cutover cannot read or do is never taken for healthy or done', () => {
  const testbed = useTestbed();

  it('a canary whose query list answers 401 is a bad sample and rolls back, not a 0% error rate', async () => {
    const group = 'unread';
    const fleet = await testbed.fleet({
      healthIntervalMs: 100,
      rulesRefreshMs: 200,
      rules: canaryReadyRules(`${group}-canary`),
      clusters: [{ name: `${group}-blue`, version: '470', routingGroup: group }],
    });
    const handle = await startUpgrade(
      testbed.env.client,
      fastPlan(fleet.gatewayUrl, group, {
        strategy: 'canary',
        approval: { required: false },
        canary: {
          traffic: 'routing-rule',
          rulesRefresh: '200ms',
          analysis: { interval: '300ms', maxConsecutiveFailures: 2 },
          steps: [{ weight: 10, bake: '3s' }, { weight: 100 }],
        },
      }),
    );
    await waitForStatus(handle, (s) => s.phase === 'BAKING' && s.trafficPercent === 10, 'baking at 10%', 60_000);
    await fleet.applyFaults(`${group}-green`, { queryListStatus: 401 });
    // Green's drain during the rollback reads the same list: the coordinator answers again once rolling back.
    await waitForStatus(handle, (s) => s.phase === 'ROLLING_BACK', 'rolling back', 30_000);
    await fleet.applyFaults(`${group}-green`, { queryListStatus: 0 });
    const result = await handle.result();
    assert.equal(result.outcome, 'ROLLED_BACK');
    assert.match(result.reason ?? '', /could not read green's query list: .*HTTP 401/);
    assert.deepEqual(await gatewayBackends(fleet), [[`${group}-blue`, true]]);
    await assertReplays(handle as WorkflowHandle);
  });
});
