import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { startUpgrade } from '../src/client/upgrades';
import { findTemporalCli } from '../src/devserver/temporal-cli';
import { sleep, waitForPhase } from '../src/devserver/wait';
import type { UpgradePlan } from '../src/plan/schema';
import type { SandboxFleet } from '../src/sandbox/fleet';
import { startQueryLoad } from '../src/sandbox/load';
import { approveUpdate, rollbackSignal, type Phase, type UpgradeResult } from '../src/workflows/messages';
import { CutoverPhase, CutoverTrafficPercent } from '../src/workflows/search-attributes';
import { assertJournal, journalMark } from './support/journal';
import { fastPlan } from './support/plans';
import { assertReplays } from './support/temporal';
import { useTestbed } from './support/testbed';

type Handle = WorkflowHandleWithFirstExecutionRunId<(input: { plan: UpgradePlan }) => Promise<UpgradeResult>>;

describe('blue/green upgrade on a real Temporal dev server and the sandbox fleet', () => {
  const testbed = useTestbed();

  const fleetWithBlue = (group: string) => testbed.fleetWithBlue(group);

  function start(plan: UpgradePlan): Promise<Handle> {
    return startUpgrade(testbed.env.client, plan, { startedBy: 'test' });
  }

  it('happy path under query load: green serves, blue drains then is deleted, no query fails, group never unserved', async () => {
    const group = 'happy';
    const fleet = await fleetWithBlue(group);
    const load = startQueryLoad({
      gatewayUrl: fleet.gatewayUrl,
      users: 12,
      concurrency: 6,
      durationMs: [100, 1500],
      routingGroup: group,
    });
    const since = await journalMark();
    const handle = await start(fastPlan(fleet.gatewayUrl, group));

    await waitForPhase(handle, 'AWAITING_APPROVAL');
    const backends = await gatewayBackends(fleet);
    assert.deepEqual(
      backends.map((b) => [b.name, b.active]),
      [
        [`${group}-blue`, true],
        [`${group}-green`, false],
      ],
      'green is registered inactive while it awaits approval',
    );
    const ack = await handle.executeUpdate(approveUpdate, { args: [{ by: 'alice', comment: 'looks good' }] });
    assert.match(ack.message, /approved by alice/);

    const result = await handle.result();
    const report = await load.stop();

    assert.equal(result.outcome, 'SUCCEEDED');
    assert.deepEqual(
      (await gatewayBackends(fleet)).map((b) => [b.name, b.active, b.routingGroup]),
      [[`${group}-green`, true, group]],
      'only green remains, active, in the group',
    );
    assert.equal(fleet.cluster(`${group}-blue`), undefined, 'blue cluster deleted after keepBlueFor');
    const phases = new Set(result.status.timeline.map((entry) => entry.phase));
    for (const phase of [
      'PROVISIONING',
      'VERIFYING',
      'AWAITING_APPROVAL',
      'SHIFTING',
      'BAKING',
      'DRAINING',
      'RETIRING',
      'SUCCEEDED',
    ] as Phase[]) {
      assert.ok(phases.has(phase), `timeline shows ${phase}`);
    }
    const description = await handle.describe();
    assert.equal(description.typedSearchAttributes.get(CutoverPhase), 'SUCCEEDED');
    assert.equal(description.typedSearchAttributes.get(CutoverTrafficPercent), 100);

    assert.ok(report.submitted > 20, `load ran (${report.submitted} queries)`);
    assert.equal(
      report.failed,
      0,
      `no query failed: ${JSON.stringify(report.queries.filter((q) => q.state === 'FAILED').slice(0, 3))}`,
    );
    assert.ok(
      report.byBackend[`${group}-blue`]?.finished > 0 && report.byBackend[`${group}-green`]?.finished > 0,
      `both clusters served queries: ${JSON.stringify(report.byBackend)}`,
    );

    const journal = fleet.journal(since);
    assertJournal(journal, { alwaysServed: group });
    const blueDeletedAt = journal.find((e) => e.kind === 'cluster.deleted' && e.name === `${group}-blue`)?.at;
    assert.ok(blueDeletedAt, 'blue deletion is journaled');
    const onBlue = report.queries.filter((q) => q.backend === `${group}-blue`);
    assert.ok(
      onBlue.every((q) => q.state === 'FINISHED' && q.endedAt <= blueDeletedAt),
      'every query on blue finished before blue was torn down',
    );
    const flipAt = journal.find((e) => e.kind === 'backend.deactivated' && e.name === `${group}-blue`)?.at ?? 0;
    assert.ok(
      onBlue.some((q) => q.startedAt < flipAt && q.endedAt > flipAt),
      'some queries were running on blue at the flip and finished there',
    );
    const events = (await handle.fetchHistory()).events?.length ?? 0;
    process.stderr.write(`history events of one blue/green upgrade: ${events}\n`);
    assert.ok(events < 150, `history stays small (${events} events)`);
    await assertReplays(handle);
  });

  it('rollback while awaiting approval: blue keeps serving, green is removed and torn down', async () => {
    const group = 'rbapproval';
    const fleet = await fleetWithBlue(group);
    const handle = await start(fastPlan(fleet.gatewayUrl, group));
    await waitForPhase(handle, 'AWAITING_APPROVAL');
    await handle.signal(rollbackSignal, { by: 'bob', reason: 'found a regression in green' });
    const result = await handle.result();
    assert.equal(result.outcome, 'ROLLED_BACK');
    assert.equal(result.status.phase, 'ROLLED_BACK');
    assert.match(result.reason ?? '', /regression/);
    await assertBlueOnly(fleet, group);
    assert.equal(fleet.cluster(`${group}-green`), undefined, 'green torn down');
  });

  it('rollback while baking: blue serves again before green is touched, green drained and torn down', async () => {
    const group = 'rbbake';
    const fleet = await fleetWithBlue(group);
    const load = startQueryLoad({
      gatewayUrl: fleet.gatewayUrl,
      users: 8,
      concurrency: 4,
      durationMs: [100, 1200],
      routingGroup: group,
    });
    const since = await journalMark();
    const handle = await start(fastPlan(fleet.gatewayUrl, group, { approval: { required: false }, bake: '1m' }));
    await waitForPhase(handle, 'BAKING');
    await sleep(500);
    await handle.signal(rollbackSignal, { by: 'carol', reason: 'dashboards look wrong' });
    const result = await handle.result();
    const report = await load.stop();
    assert.equal(result.outcome, 'ROLLED_BACK');
    await assertBlueOnly(fleet, group);
    assert.equal(fleet.cluster(`${group}-green`), undefined, 'green torn down');
    assert.equal(report.failed, 0, 'no query failed during the rollback');
    const journal = fleet.journal(since);
    const blueBack = journal.find((e) => e.kind === 'backend.activated' && e.name === `${group}-blue`)!.at;
    const greenOff = journal.filter((e) => e.kind === 'backend.deactivated' && e.name === `${group}-green`).at(-1)!.at;
    assert.ok(blueBack <= greenOff, 'blue was active again before green was deactivated');
    assertJournal(journal, { alwaysServed: group });
    const onGreen = report.queries.filter((q) => q.backend === `${group}-green`);
    const greenDeleted = journal.find((e) => e.kind === 'cluster.deleted' && e.name === `${group}-green`)!.at;
    assert.ok(
      onGreen.every((q) => q.endedAt <= greenDeleted),
      'green queries finished before green was torn down',
    );
    await assertReplays(handle);
  });

  it('cancelling the workflow from Temporal rolls back instead of leaving green half-done', async () => {
    const group = 'cancelled';
    const fleet = await fleetWithBlue(group);
    const handle = await start(fastPlan(fleet.gatewayUrl, group));
    await waitForPhase(handle, 'AWAITING_APPROVAL');
    await handle.cancel();
    const result = await handle.result();
    assert.equal(result.outcome, 'ROLLED_BACK');
    assert.match(result.reason ?? '', /cancelled/);
    await assertBlueOnly(fleet, group);
    assert.equal(fleet.cluster(`${group}-green`), undefined, 'green torn down');
    await assertReplays(handle);
  });

  it('green never becomes healthy: automatic rollback after health.timeout', async () => {
    const group = 'neverhealthy';
    const fleet = await fleetWithBlue(group);
    const plan = fastPlan(fleet.gatewayUrl, group, {
      green: { provisioner: { startupDelay: '10m' } },
      health: { timeout: '2s' },
    });
    const result = await (await start(plan)).result();
    assert.equal(result.outcome, 'ROLLED_BACK');
    assert.match(result.reason ?? '', /not ready within 2s/);
    await assertBlueOnly(fleet, group);
    assert.equal(fleet.cluster(`${group}-green`), undefined);
  });

  it('approval timeout rolls back', async () => {
    const group = 'approvaltimeout';
    const fleet = await fleetWithBlue(group);
    const result = await (await start(fastPlan(fleet.gatewayUrl, group, { approval: { timeout: '1s' } }))).result();
    assert.equal(result.outcome, 'ROLLED_BACK');
    assert.match(result.reason ?? '', /no approval within 1s/);
    await assertBlueOnly(fleet, group);
  });

  it('green fails during bake: automatic rollback to blue', async () => {
    const group = 'bakefail';
    const fleet = await fleetWithBlue(group);
    const handle = await start(fastPlan(fleet.gatewayUrl, group, { approval: { required: false }, bake: '1m' }));
    await waitForPhase(handle, 'BAKING');
    await fleet.applyFaults(`${group}-green`, { unhealthy: true });
    const result = await handle.result();
    assert.equal(result.outcome, 'ROLLED_BACK');
    assert.match(result.reason ?? '', /failed while baking/);
    await assertBlueOnly(fleet, group);
  });

  it('an approve sent with the plain Temporal CLI works like cutover approve; a stray approve is ignored', async () => {
    const group = 'cliapprove';
    const fleet = await fleetWithBlue(group);
    const handle = await start(fastPlan(fleet.gatewayUrl, group, { bake: '200ms', retire: { keepBlueFor: '0s' } }));
    const cli = await findTemporalCli();
    assert.ok(cli, 'a temporal CLI is available');
    await waitForPhase(handle, 'PROVISIONING');
    // As an operator would with the plain Temporal CLI: `temporal workflow signal --name approve`.
    const approveWithTemporalCli = (by: string) =>
      promisify(execFile)(cli.path, [
        ...['workflow', 'signal', '--address', testbed.env.address, '--workflow-id', handle.workflowId],
        ...['--name', 'approve', '--input', JSON.stringify({ by })],
      ]);
    await approveWithTemporalCli('early');
    await waitForPhase(handle, 'AWAITING_APPROVAL');
    await approveWithTemporalCli('x');
    const result = await handle.result();
    assert.equal(result.outcome, 'SUCCEEDED');
    const messages = result.status.timeline.map((entry) => entry.message);
    assert.ok(
      messages.some((m) => /approve from early ignored: nothing awaits approval/.test(m)),
      'the early approve was recorded and ignored',
    );
    assert.ok(messages.includes('approved by x'), 'the CLI approve was taken');
  });
});

async function gatewayBackends(
  fleet: SandboxFleet,
): Promise<{ name: string; active: boolean; routingGroup: string }[]> {
  const response = await fetch(`${fleet.gatewayUrl}/gateway/backend/all`);
  const backends = (await response.json()) as { name: string; active: boolean; routingGroup: string }[];
  return backends.sort((a, b) => a.name.localeCompare(b.name));
}

async function backendState(fleet: SandboxFleet, name: string): Promise<string | undefined> {
  const response = await fetch(`${fleet.gatewayUrl}/api/public/backends/${name}/state`);
  return response.ok ? ((await response.json()) as { trinoStatus: string }).trinoStatus : undefined;
}

async function assertBlueOnly(fleet: SandboxFleet, group: string): Promise<void> {
  assert.deepEqual(
    (await gatewayBackends(fleet)).map((b) => [b.name, b.active]),
    [[`${group}-blue`, true]],
    'blue is the only backend, active',
  );
  assert.equal(await backendState(fleet, `${group}-blue`), 'HEALTHY');
}
