import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkflowFailedError, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { RefusedError, startUpgrade } from '../src/client/upgrades';
import { until, untilHealthy, waitForPhase, waitForStatus } from '../src/devserver/wait';
import { TrinoGatewayClient } from '../src/integrations/gateway/client';
import type { GatewayBackend } from '../src/integrations/gateway/types';
import { defaultRuleName } from '../src/integrations/traffic/routing-rule';
import { claimsOf, leasesOf } from '../src/ownership/leases';
import type { UpgradePlan } from '../src/plan/schema';
import { canaryReadyRules } from '../src/sandbox/canary-rules';
import type { SandboxFleet } from '../src/sandbox/fleet';
import type { JournalEntry } from '../src/sandbox/journal';
import { approveUpdate, FINAL_PHASES, rollbackSignal, TASK_QUEUE, type UpgradeResult } from '../src/workflows/messages';
import { journalMark } from './support/journal';
import { fastPlan } from './support/plans';
import { assertReplays } from './support/temporal';
import { useTestbed } from './support/testbed';

/** Journal kinds that change the gateway or the fleet (health checks only observe). */
const CHANGES = new Set<JournalEntry['kind']>([
  'backend.added',
  'backend.updated',
  'backend.deleted',
  'backend.activated',
  'backend.deactivated',
  'rule.updated',
  'cluster.created',
  'cluster.deleted',
]);

/** A backend as the gateway lists it: name, active, routing group, address. */
type Row = [string, boolean, string, string];

/**
 * cutover changes only what its upgrade owns: a backend of another routing group, at another
 * address or already serving is never overwritten, activated or deleted; one upgrade runs per
 * routing group (and per routing rule) of a gateway, whatever its workflow id; a start after a
 * half-finished run says what it finds.
 */
describe('ownership: cutover touches only what its upgrade owns', () => {
  const testbed = useTestbed();

  const gatewayOf = (fleet: SandboxFleet) => new TrinoGatewayClient({ url: fleet.gatewayUrl });

  async function backends(fleet: SandboxFleet): Promise<Row[]> {
    return (await gatewayOf(fleet).listBackends())
      .map((b): Row => [b.name, b.active, b.routingGroup, b.proxyTo])
      .sort((a, b) => a[0].localeCompare(b[0]));
  }

  const changesSince = (fleet: SandboxFleet, since: number) =>
    fleet.journal(since).filter((entry) => CHANGES.has(entry.kind));

  async function register(fleet: SandboxFleet, backend: GatewayBackend): Promise<void> {
    await gatewayOf(fleet).upsertBackend(backend);
  }

  /**
   * How the upgrade ended (its phase and the failure or rollback reason), or AWAITING_APPROVAL if
   * it got as far as an approval gate instead.
   */
  async function endOf(handle: WorkflowHandle): Promise<{ phase: string; message: string }> {
    const status = await waitForStatus(
      handle,
      (s) => FINAL_PHASES.has(s.phase) || s.awaitingApproval,
      'the end of the upgrade or an approval gate',
      90_000,
    );
    if (!FINAL_PHASES.has(status.phase)) return { phase: status.phase, message: '' };
    const message = await handle.result().then(
      (result: UpgradeResult) => result.reason ?? '',
      (error: unknown) => (error instanceof WorkflowFailedError ? (error.cause?.message ?? '') : String(error)),
    );
    return { phase: status.phase, message };
  }

  /** Starts an upgrade as the Temporal UI or CLI would, around `cutover start` and its checks. */
  function rawStart(plan: UpgradePlan, workflowId: string): Promise<WorkflowHandle> {
    return testbed.env.client.workflow.start(plan.strategy === 'canary' ? 'canaryUpgrade' : 'blueGreenUpgrade', {
      taskQueue: TASK_QUEUE,
      workflowId,
      args: [{ plan, startedBy: 'test' }],
    });
  }

  async function assertNeverStarted(workflowId: string): Promise<void> {
    await assert.rejects(
      testbed.env.client.workflow.getHandle(workflowId).describe(),
      WorkflowNotFoundError,
      `${workflowId} was never started`,
    );
  }

  it('green named like a backend of another routing group: refused at the preflight, that backend untouched', async () => {
    const group = 'ownforeign';
    const fleet = await testbed.fleetWithBlue(group);
    await register(fleet, {
      name: `${group}-green`,
      proxyTo: 'http://127.0.0.1:9',
      routingGroup: 'etl',
      active: false,
    });
    const before = await backends(fleet);
    const since = await journalMark();
    const handle = await startUpgrade(testbed.env.client, fastPlan(fleet.gatewayUrl, group));
    const end = await endOf(handle);
    assert.equal(end.phase, 'FAILED', end.message);
    assert.match(
      end.message,
      /backend ownforeign-green belongs to routing group etl, not ownforeign: refusing to overwrite it; pick another green name/,
    );
    assert.deepEqual(await backends(fleet), before, 'the gateway is unchanged');
    assert.deepEqual(changesSince(fleet, since), [], 'nothing was provisioned, registered or torn down');
    await assertReplays(handle);
  });

  it('green registered in the group at another address: register refuses to overwrite it, the rollback leaves it as it was', async () => {
    const group = 'ownaddr';
    const fleet = await testbed.fleetWithBlue(group);
    await register(fleet, {
      name: `${group}-green`,
      proxyTo: 'http://127.0.0.1:9',
      routingGroup: group,
      active: false,
    });
    const before = await backends(fleet);
    const handle = await startUpgrade(
      testbed.env.client,
      fastPlan(fleet.gatewayUrl, group, { approval: { required: false } }),
    );
    const end = await endOf(handle);
    assert.equal(end.phase, 'ROLLED_BACK', end.message);
    assert.match(
      end.message,
      /backend ownaddr-green proxies to http:\/\/127\.0\.0\.1:9, not http:\/\/127\.0\.0\.1:\d+ \(green's address\): refusing to overwrite it/,
    );
    assert.deepEqual(await backends(fleet), before, 'blue serves and the other ownaddr-green is as it was');
    assert.equal(fleet.cluster(`${group}-green`), undefined, 'the green cluster this run created is torn down');
    await assertReplays(handle);
  });

  it('the flip refuses a green moved to another routing group: blue keeps serving, that backend untouched', async () => {
    const group = 'ownflip';
    const fleet = await testbed.fleet({
      healthIntervalMs: 100,
      clusters: [
        { name: `${group}-blue`, version: '470', routingGroup: group },
        { name: `${group}-etl`, version: '480', routingGroup: 'etl' },
      ],
    });
    await untilHealthy(fleet, `${group}-blue`);
    const handle = await startUpgrade(testbed.env.client, fastPlan(fleet.gatewayUrl, group));
    await waitForPhase(handle, 'AWAITING_APPROVAL');
    // Someone re-registers the name for the etl group's cluster while the upgrade waits.
    await register(fleet, {
      name: `${group}-green`,
      proxyTo: fleet.cluster(`${group}-etl`)!.url,
      routingGroup: 'etl',
      active: false,
    });
    const before = await backends(fleet);
    const since = await journalMark();
    await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice' }] });
    const end = await endOf(handle);
    assert.equal(end.phase, 'ROLLED_BACK', end.message);
    assert.match(
      end.message,
      /backend ownflip-green belongs to routing group etl, not ownflip: refusing to activate it/,
    );
    assert.deepEqual(await backends(fleet), before, 'blue serves ownflip and ownflip-green is still etl’s, inactive');
    assert.deepEqual(
      changesSince(fleet, since).filter((entry) => entry.kind.startsWith('backend.')),
      [],
      'no backend was activated, deactivated or deleted',
    );
    await assertReplays(handle);
  });

  it('one upgrade per routing group whatever its id: a second start is refused naming the first, the gateway unchanged by it', async () => {
    const group = 'ownonce';
    const fleet = await testbed.fleetWithBlue(group);
    const first = await startUpgrade(testbed.env.client, fastPlan(fleet.gatewayUrl, group), {
      workflowId: `first-${group}`,
    });
    await waitForPhase(first, 'AWAITING_APPROVAL');
    const before = await backends(fleet);
    const since = await journalMark();
    const other = fastPlan(fleet.gatewayUrl, group, { green: { name: `${group}-other` } });
    const held = new RegExp(
      `routing group ownonce of gateway ${fleet.gatewayUrl.replace(/[.]/g, '\\.')} already has a running upgrade first-ownonce`,
    );

    // Around `cutover start` (the Temporal UI, a raw client): the worker refuses it.
    const second = await rawStart(other, `second-${group}`);
    const end = await endOf(second);
    assert.equal(end.phase, 'FAILED', end.message);
    assert.match(end.message, /preflight failed, nothing was changed: /);
    assert.match(end.message, held);
    // `cutover start --id third-ownonce`: refused before anything starts.
    await assert.rejects(
      startUpgrade(testbed.env.client, other, { workflowId: `third-${group}` }),
      (error: unknown) => error instanceof RefusedError && held.test(error.message),
    );
    await assertNeverStarted(`third-${group}`);
    assert.deepEqual(await backends(fleet), before, 'the gateway is as the first upgrade left it');
    assert.deepEqual(changesSince(fleet, since), [], 'the refused starts changed nothing');

    // Once the first upgrade ends, the group is free again.
    await first.signal(rollbackSignal, { by: 'test', reason: 'make room' });
    assert.equal((await first.result()).outcome, 'ROLLED_BACK');
    const next = await startUpgrade(testbed.env.client, other, { workflowId: `fourth-${group}` });
    await waitForPhase(next, 'AWAITING_APPROVAL');
    await next.signal(rollbackSignal, { by: 'test', reason: 'done' });
    assert.equal((await next.result()).outcome, 'ROLLED_BACK');
    await assertReplays(first);
    await assertReplays(second);
  });

  it('the lease of an upgrade terminated by hand is taken over by the next upgrade of the group; an upgrade that ends releases it', async () => {
    const group = 'ownstale';
    const fleet = await testbed.fleetWithBlue(group);
    const plan = fastPlan(fleet.gatewayUrl, group);
    const [lease] = leasesOf(claimsOf(plan));
    const leaseHandle = testbed.env.client.workflow.getHandle(lease.id);
    const first = await startUpgrade(testbed.env.client, plan, { workflowId: `first-${group}` });
    await waitForPhase(first, 'AWAITING_APPROVAL');
    assert.deepEqual((await leaseHandle.describe()).memo?.owner, {
      workflowId: `first-${group}`,
      firstExecutionRunId: first.firstExecutionRunId,
    });
    // Terminated: nothing in the workflow runs any more, its lease stays behind.
    await first.terminate('the operator stops it by hand');
    assert.equal((await leaseHandle.describe()).status.name, 'RUNNING');

    const next = await startUpgrade(testbed.env.client, plan, { workflowId: `next-${group}` });
    await waitForPhase(next, 'AWAITING_APPROVAL');
    const held = await leaseHandle.describe();
    assert.deepEqual(held.memo?.owner, { workflowId: `next-${group}`, firstExecutionRunId: next.firstExecutionRunId });
    await next.signal(rollbackSignal, { by: 'test', reason: 'done' });
    assert.equal((await next.result()).outcome, 'ROLLED_BACK');
    // The upgrade signals its lease as it ends; the lease workflow completes on its next task.
    await until(
      'the lease released',
      async () => (await leaseHandle.describe()).status.name === 'COMPLETED',
      10_000,
      100,
    );
    assert.equal((await leaseHandle.describe()).runId, held.runId, 'the lease run the upgrade held, not a new one');
    await assertReplays(next);
  });

  it('two canaries of different routing groups naming one canary.ruleName: the second is refused naming the first', async () => {
    const [a, b] = ['ownrulea', 'ownruleb'];
    // The gateway's rules file has the shared rule (the preflight checks that the plan's rule exists).
    const rules = canaryReadyRules(`${a}-canary`, a).map((rule) =>
      rule.name === defaultRuleName(a) ? { ...rule, name: 'team-canary' } : rule,
    );
    const fleet = await testbed.fleet({
      healthIntervalMs: 100,
      rules,
      clusters: [
        { name: `${a}-blue`, version: '470', routingGroup: a },
        { name: `${b}-blue`, version: '470', routingGroup: b },
      ],
    });
    await untilHealthy(fleet, `${a}-blue`);
    await untilHealthy(fleet, `${b}-blue`);
    const canary = (group: string) =>
      fastPlan(fleet.gatewayUrl, group, {
        strategy: 'canary',
        canary: { traffic: 'routing-rule', ruleName: 'team-canary', steps: [{ weight: 10 }, { weight: 100 }] },
      });
    const first = await startUpgrade(testbed.env.client, canary(a));
    await waitForPhase(first, 'AWAITING_APPROVAL');
    const before = await backends(fleet);
    const since = await journalMark();
    const held =
      /routing rule team-canary of gateway http:\/\/127\.0\.0\.1:\d+ is used by the running upgrade cutover-ownrulea/;

    const second = await rawStart(canary(b), `cutover-${b}`);
    const end = await endOf(second);
    assert.equal(end.phase, 'FAILED', end.message);
    assert.match(end.message, held);
    await assert.rejects(
      startUpgrade(testbed.env.client, canary(b), { workflowId: `again-${b}` }),
      (error: unknown) => error instanceof RefusedError && held.test(error.message),
    );
    await assertNeverStarted(`again-${b}`);
    assert.deepEqual(await backends(fleet), before);
    assert.deepEqual(changesSince(fleet, since), []);

    await first.signal(rollbackSignal, { by: 'test', reason: 'done' });
    assert.equal((await first.result()).outcome, 'ROLLED_BACK');
    await assertReplays(second);
  });

  it('a canary whose entry name belongs to another routing group: refused at the preflight, that backend untouched', async () => {
    const group = 'ownentry';
    const fleet = await testbed.fleetWithBlue(group);
    await register(fleet, {
      name: `${group}-green-canary`,
      proxyTo: 'http://127.0.0.1:9',
      routingGroup: 'etl',
      active: false,
    });
    const before = await backends(fleet);
    const since = await journalMark();
    const handle = await startUpgrade(
      testbed.env.client,
      fastPlan(fleet.gatewayUrl, group, { strategy: 'canary', canary: { traffic: 'routing-rule' } }),
    );
    const end = await endOf(handle);
    assert.equal(end.phase, 'FAILED', end.message);
    assert.match(
      end.message,
      /backend ownentry-green-canary belongs to routing group etl, not ownentry-canary: refusing to overwrite it; pick another green name/,
    );
    assert.deepEqual(await backends(fleet), before);
    assert.deepEqual(changesSince(fleet, since), []);
  });

  it('a start after a half-finished run: green is the only active backend, the preflight says so and how to finish or undo it', async () => {
    const group = 'ownhalf';
    const fleet = await testbed.fleet({
      healthIntervalMs: 100,
      clusters: [
        { name: `${group}-blue`, version: '470', routingGroup: group },
        { name: `${group}-green`, version: '480', routingGroup: group },
      ],
    });
    await untilHealthy(fleet, `${group}-green`);
    await gatewayOf(fleet).deactivateBackend(`${group}-blue`);
    const before = await backends(fleet);
    const since = await journalMark();
    const handle = await startUpgrade(testbed.env.client, fastPlan(fleet.gatewayUrl, group));
    const end = await endOf(handle);
    assert.equal(end.phase, 'FAILED', end.message);
    assert.match(
      end.message,
      /the only active backend of ownhalf is ownhalf-green, this plan's green: an earlier upgrade already moved the group to it\. To finish, retire ownhalf-blue by hand \(or start with a plan whose blue is ownhalf-green\); to undo, activate ownhalf-blue and deactivate ownhalf-green, then start again/,
    );
    assert.deepEqual(await backends(fleet), before);
    assert.deepEqual(changesSince(fleet, since), []);
  });

  it('a start after a flip that stopped half-way: green already active beside blue, refused at the preflight, nothing changes', async () => {
    const group = 'ownboth';
    const fleet = await testbed.fleet({
      healthIntervalMs: 100,
      clusters: [
        { name: `${group}-blue`, version: '470', routingGroup: group },
        { name: `${group}-green`, version: '480', routingGroup: group },
      ],
    });
    await untilHealthy(fleet, `${group}-blue`);
    await untilHealthy(fleet, `${group}-green`);
    const before = await backends(fleet);
    const since = await journalMark();
    const handle = await startUpgrade(testbed.env.client, fastPlan(fleet.gatewayUrl, group));
    const end = await endOf(handle);
    assert.equal(end.phase, 'FAILED', end.message);
    assert.match(
      end.message,
      /ownboth-green, this plan's green, is already active in ownboth beside ownboth-blue: an earlier upgrade stopped between activating green and deactivating blue\. To finish, deactivate ownboth-blue by hand and retire it; to undo, deactivate ownboth-green, then start again/,
    );
    assert.deepEqual(await backends(fleet), before, 'green was not deactivated or deleted');
    assert.deepEqual(changesSince(fleet, since), []);
  });
});
