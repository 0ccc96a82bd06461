import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { startFleet } from '../src/client/fleets';
import { startUpgrade } from '../src/client/upgrades';
import { fleetPlanSchema } from '../src/fleet/schema';
import { fleetStatusQuery } from '../src/workflows/fleet/messages';
import { waitForPhase, waitForStatus } from '../src/devserver/wait';
import type { UpgradePlan } from '../src/plan/schema';
import { workerPolicySchema, type WorkerPolicy } from '../src/policy/schema';
import type { SandboxFleet } from '../src/sandbox/fleet';
import { parsePrivateKey } from '../src/signing/openssh';
import type { ApprovalClaims } from '../src/signing/payload';
import { newNonce, signApproval } from '../src/signing/sign';
import {
  approveSignal,
  approveUpdate,
  pauseUpdate,
  resumeUpdate,
  statusQuery,
  type ApproveInput,
  type UpgradeResult,
  type UpgradeStatus,
} from '../src/workflows/messages';
import { runCli, UNREACHABLE_TEMPORAL, type CliRun } from './support/cli';
import { fleetDocument } from './support/fleets';
import { historyText } from './support/history-json';
import { describeKey, FIXTURE_KEY, keyFolder, secretMarkers } from './support/keys';
import { TEST_POLICY_INPUT } from './support/policy';
import { fastPlan } from './support/plans';
import { assertReplays } from './support/temporal';
import { useTestbed } from './support/testbed';

/**
 * Signed approvals on a real dev server, the real worker and sandbox fleets: who may approve,
 * promote and roll back is decided by the worker's policy, and a signature binds one request to
 * one run, gate and action until it expires.
 */

const keys = keyFolder();
after(() => keys.remove());
/** alice signs with the committed test-only key; bob and mallory with keys ssh-keygen makes now. */
const alice = describeKey(FIXTURE_KEY);
const bob = keys.make('bob');
const mallory = keys.make('mallory');
const aliceKey = parsePrivateKey(readFileSync(alice.path, 'utf8'));
const bobKey = parsePrivateKey(readFileSync(bob.path, 'utf8'));

/** alice may approve every group, bob only `gates`; mallory is nobody. */
function policyWith(requireSignedApprovals: boolean): WorkerPolicy {
  return workerPolicySchema.parse({
    ...TEST_POLICY_INPUT,
    approvers: [
      { name: 'alice', publicKey: alice.publicKey },
      { name: 'bob', publicKey: bob.publicKey, groups: ['gates'] },
    ],
    requireSignedApprovals,
  });
}

type Handle = WorkflowHandle<(input: { plan: UpgradePlan }) => Promise<UpgradeResult>>;

describe('signed approvals on a real Temporal dev server and the sandbox fleet', () => {
  let policy = policyWith(true);
  // Temporal suggests continue-as-new early, so the canary below changes run between its gates.
  const testbed = useTestbed(
    { extraArgs: ['--dynamic-config-value', 'limit.historyCount.suggestContinueAsNew=40'] },
    { policy: () => policy },
  );

  /** Runs the real CLI; unsigned unless `env` names a key (a CUTOVER_SIGNING_KEY of the test's own shell is not inherited). */
  function cutover(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
    return runCli(testbed.env.address, args, { CUTOVER_SIGNING_KEY: '', ...env });
  }

  async function fleetWithBlue(group: string): Promise<SandboxFleet> {
    const fleet = await testbed.canaryFleetWithBlue(group);
    return fleet;
  }

  /** A signed approve for the gate the upgrade is at now, with `change` made to what it binds. */
  function signedApprove(
    status: UpgradeStatus,
    key = aliceKey,
    change: Partial<ApprovalClaims> = {},
    comment?: string,
  ): ApproveInput {
    const claims: ApprovalClaims = {
      workflowId: status.id,
      runId: status.runId,
      action: 'approve',
      gate: status.gate,
      approver: 'alice',
      expires: new Date(Date.now() + 60_000).toISOString(),
      nonce: newNonce(),
      ...change,
    };
    return { by: claims.approver, signature: signApproval(key, claims), ...(comment ? { comment } : {}) };
  }

  /** The reason an update was refused with (by its validator or its handler). */
  async function refusalOf(update: Promise<unknown>): Promise<string> {
    try {
      await update;
    } catch (error) {
      assert.ok(error instanceof WorkflowUpdateFailedError, String(error));
      return error.cause?.message ?? error.message;
    }
    assert.fail('the update was accepted');
  }

  function timeline(status: UpgradeStatus): string[] {
    return status.timeline.map((entry) => entry.message);
  }

  it('a signed approval from a listed key passes the gate and is recorded; unsigned, wrong-key, expired, other-run and other-gate ones are refused with their reasons', async () => {
    policy = policyWith(true);
    const group = 'signed';
    const fleet = await fleetWithBlue(group);
    const handle = (await startUpgrade(testbed.env.client, fastPlan(fleet.gatewayUrl, group), {
      startedBy: 'test',
    })) as Handle;
    const id = handle.workflowId;
    const gate = await waitForPhase(handle, 'AWAITING_APPROVAL');
    assert.equal(gate.gate, '3:approval', 'the status names the gate operators answer');
    assert.equal(gate.runId, (await handle.describe()).runId, 'and the run they sign for');

    const unsigned = await cutover(['approve', id, '--by', 'alice']);
    assert.equal(unsigned.code, 1, unsigned.stderr);
    assert.match(
      unsigned.stderr,
      /approve refused by cutover-signed: this worker requires signed approvals: cutover approve cutover-signed --key ~\/\.ssh\/id_ed25519/,
    );
    const wrongKey = await cutover(['approve', id, '--by', 'alice', '--key', bob.path]);
    assert.equal(wrongKey.code, 1, wrongKey.stderr);
    assert.match(wrongKey.stderr, new RegExp(`wrong key: ${escape(bob.fingerprint)} is not alice's key`));
    const otherGroup = await cutover(['approve', id, '--by', 'bob', '--key', bob.path]);
    assert.equal(otherGroup.code, 1, otherGroup.stderr);
    assert.match(otherGroup.stderr, /bob may not approve routing group signed \(groups in the worker policy: gates\)/);
    const unknown = await cutover(['approve', id, '--by', 'mallory', '--key', mallory.path]);
    assert.equal(unknown.code, 1, unknown.stderr);
    assert.match(unknown.stderr, /mallory has no key in the worker policy, so the signature cannot be verified/);

    const expired = signedApprove(gate, aliceKey, { expires: new Date(Date.now() - 60_000).toISOString() });
    assert.match(
      await refusalOf(handle.executeUpdate(approveUpdate, { args: [expired] })),
      /^the signature expired at \S+ \(6\d s ago\); sign again$/,
    );
    assert.match(
      await refusalOf(
        handle.executeUpdate(approveUpdate, { args: [signedApprove(gate, aliceKey, { runId: 'run-of-last-week' })] }),
      ),
      /the signature is for another run of cutover-signed \(run run-of-last-week, this one is \S+\); sign again/,
    );
    assert.match(
      await refusalOf(
        handle.executeUpdate(approveUpdate, { args: [signedApprove(gate, aliceKey, { workflowId: 'cutover-adhoc' })] }),
      ),
      /the signature is for upgrade cutover-adhoc, not cutover-signed/,
    );
    assert.match(
      await refusalOf(
        handle.executeUpdate(approveUpdate, { args: [signedApprove(gate, aliceKey, { gate: '2:register' })] }),
      ),
      /the signature answers gate 2:register, but the upgrade is at 3:approval; sign again/,
    );
    const forged = signedApprove(gate);
    forged.signature = {
      ...forged.signature!,
      payload: forged.signature!.payload.replace(/nonce: .*/, `nonce: ${newNonce()}`),
    };
    assert.match(
      await refusalOf(handle.executeUpdate(approveUpdate, { args: [forged] })),
      /the signature does not match its payload and alice's key/,
    );

    // The Temporal UI's "Send signal" with {"by": "alice"}: this worker wants signatures, so it is noted and dropped.
    await handle.signal(approveSignal, { by: 'alice' });
    await waitForStatus(
      handle,
      (s) => timeline(s).some((m) => m.startsWith('approve from alice ignored: this worker requires signed approvals')),
      'the unsigned signal noted',
    );
    assert.equal((await handle.query(statusQuery)).phase, 'AWAITING_APPROVAL', 'no refused approval passed the gate');

    const approved = await cutover(['approve', id, '--by', 'alice', '--comment', 'signed off'], {
      CUTOVER_SIGNING_KEY: FIXTURE_KEY,
    });
    assert.equal(approved.code, 0, approved.stderr);
    assert.match(
      approved.stdout,
      new RegExp(`approved by alice \\(signature verified, key ${escape(alice.fingerprint)}\\)`),
    );

    const result = await handle.result();
    assert.equal(result.outcome, 'SUCCEEDED');
    const messages = timeline(result.status);
    assert.ok(
      messages.includes(`approved by alice (signature verified, key ${alice.fingerprint}): signed off`),
      messages.join('\n'),
    );
    for (const refused of [
      /^approve from alice refused: this worker requires signed approvals/,
      /^approve from alice refused: wrong key/,
      /^approve from bob refused: bob may not approve routing group signed/,
      /^approve from mallory refused: mallory has no key/,
      /^approve from alice refused: the signature expired/,
      /^approve from alice refused: the signature does not match/,
    ])
      assert.ok(
        messages.some((m) => refused.test(m)),
        `the timeline notes ${refused.source}`,
      );
    const history = historyText(await handle.fetchHistory());
    assert.ok(history.includes('verifyApproval'), 'the verification is an activity in history');
    assert.ok(
      history.includes(`signature verified, key ${alice.fingerprint}`),
      'history records the verified approver',
    );
    await assertReplays(handle);
  });

  it('canary: a fresh ssh-keygen key approves its group, a signature cannot be replayed at the next gate, promote --full needs an approver and names them on every skipped step', async () => {
    policy = policyWith(false);
    const group = 'gates';
    const fleet = await fleetWithBlue(group);
    const plan = fastPlan(fleet.gatewayUrl, group, {
      strategy: 'canary',
      canary: {
        traffic: 'routing-rule',
        rulesRefresh: '200ms',
        analysis: { interval: '500ms', maxConsecutiveFailures: 1 },
        steps: [
          { weight: 25, bake: '1h' },
          { approval: true },
          { weight: 50, bake: '1h' },
          { weight: 100, bake: '1h' },
        ],
      },
      retire: { keepBlueFor: '0s' },
    });
    const handle = (await startUpgrade(testbed.env.client, plan, { startedBy: 'test' })) as Handle;
    const id = handle.workflowId;

    const first = signedApprove(await waitForPhase(handle, 'AWAITING_APPROVAL'), bobKey, { approver: 'bob' });
    const ack = await handle.executeUpdate(approveUpdate, { args: [first] });
    assert.equal(
      ack.message,
      `approved by bob (signature verified, key ${bob.fingerprint}); shifting traffic to gates-green`,
    );

    const baking = await waitForStatus(handle, (s) => s.phase === 'BAKING' && s.trafficPercent === 25, 'baking at 25%');
    assert.equal(baking.gate, '5:bake');
    // A pause hands the bake back to the workflow, which then continues as a new run: signatures bind the first run id.
    await handle.executeUpdate(pauseUpdate, { args: [{ by: 'test' }] });
    await handle.executeUpdate(resumeUpdate, { args: [{ by: 'test' }] });
    const continued = await waitForStatus(
      handle,
      (s) => timeline(s).some((m) => m.startsWith('continued as a new run')),
      'a continue-as-new in the bake',
    );
    assert.notEqual((await handle.describe()).runId, continued.runId, 'a new run, with the first run id in its status');
    const promoted = await cutover(['promote', id, '--by', 'alice', '--key', FIXTURE_KEY]);
    assert.equal(promoted.code, 0, promoted.stderr);

    const second = await waitForPhase(handle, 'AWAITING_APPROVAL');
    assert.equal(second.gate, '6:approval');
    assert.match(
      await refusalOf(handle.executeUpdate(approveUpdate, { args: [first] })),
      /^the signature was already used in this upgrade \(nonce \S+\): a signature is good for one request; sign again$/,
    );
    // Unsigned requests are allowed by this policy, from its approvers only: the Temporal UI's "Send signal" works for alice.
    await handle.signal(approveSignal, { by: 'mallory' });
    await handle.signal(approveSignal, { by: 'alice' });

    await waitForStatus(handle, (s) => s.phase === 'BAKING' && s.trafficPercent === 50, 'baking at 50%');
    const notApprover = await cutover(['promote', id, '--full', '--by', 'mallory']);
    assert.equal(notApprover.code, 1, notApprover.stderr);
    assert.match(
      notApprover.stderr,
      /promote refused by cutover-gates: mallory is not an approver of routing group gates in the worker policy \(approvers: alice, bob\)/,
    );
    const full = await cutover(['promote', id, '--full', '--by', 'alice', '--key', FIXTURE_KEY]);
    assert.equal(full.code, 0, full.stderr);

    const result = await handle.result();
    assert.equal(result.outcome, 'SUCCEEDED');
    const messages = timeline(result.status);
    const byAlice = `alice (signature verified, key ${alice.fingerprint})`;
    for (const expected of [
      `approved by bob (signature verified, key ${bob.fingerprint})`,
      `promoted by ${byAlice}: skipping the current bake`,
      'approve from mallory ignored: mallory is not an approver of routing group gates in the worker policy (approvers: alice, bob)',
      'approved by alice',
      `promoted by ${byAlice}: skipping every remaining step up to 100%`,
      `1h bake skipped (promoted with --full) by ${byAlice}`,
    ])
      assert.ok(messages.includes(expected), `the timeline has "${expected}":\n${messages.join('\n')}`);
    await assertReplays(handle);
  });

  it('rollback stays open to anyone: a signed one records the verified approver, one with a bad signature goes ahead unverified', async () => {
    policy = policyWith(true);
    const [signed, badly] = await Promise.all(
      ['signedrb', 'badsigrb'].map(async (group) => {
        const fleet = await fleetWithBlue(group);
        const handle = (await startUpgrade(testbed.env.client, fastPlan(fleet.gatewayUrl, group))) as Handle;
        await waitForPhase(handle, 'AWAITING_APPROVAL');
        return handle;
      }),
    );
    const [signedRun, badRun] = await Promise.all([
      cutover([
        'rollback',
        signed.workflowId,
        '--reason',
        'dashboards look wrong',
        '--by',
        'alice',
        '--key',
        FIXTURE_KEY,
      ]),
      cutover(['rollback', badly.workflowId, '--reason', 'pager is on fire', '--by', 'mallory', '--key', mallory.path]),
    ]);
    assert.equal(signedRun.code, 0, signedRun.stderr);
    assert.equal(badRun.code, 0, badRun.stderr);

    const signedResult = await signed.result();
    assert.equal(signedResult.outcome, 'ROLLED_BACK');
    assert.ok(
      timeline(signedResult.status).includes(
        `rollback requested by alice (signature verified, key ${alice.fingerprint}): dashboards look wrong`,
      ),
      timeline(signedResult.status).join('\n'),
    );
    const badResult = await badly.result();
    assert.equal(badResult.outcome, 'ROLLED_BACK');
    const notes = timeline(badResult.status);
    assert.ok(
      notes.some((m) =>
        /^the signature of the rollback from mallory was not verified \(mallory has no key in the worker policy.*\); the rollback goes ahead: stopping is always allowed$/.test(
          m,
        ),
      ),
      notes.join('\n'),
    );
    assert.ok(notes.includes('rollback requested by mallory (signature not verified): pager is on fire'));
    await assertReplays(signed);
  });

  it('no history of these upgrades holds private key material', async () => {
    const markers = [alice, bob, mallory].flatMap((key) => secretMarkers(key.path));
    let scanned = 0;
    let signedPayloads = 0;
    for await (const execution of testbed.env.client.workflow.list()) {
      const history = historyText(
        await testbed.env.client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory(),
      );
      for (const marker of markers)
        assert.ok(!history.includes(marker), `${execution.workflowId}'s history holds key material`);
      scanned++;
      signedPayloads += history.split('cutover-approval v1').length - 1;
    }
    process.stderr.write(
      `scanned ${scanned} histories (${signedPayloads} signed payloads in them) for ${markers.length} private key markers: none found\n`,
    );
    assert.ok(scanned >= 4, `every upgrade of this file was scanned (${scanned})`);
    assert.ok(signedPayloads > 0, 'the scan reads decoded payloads: the signed requests are there, their keys are not');
  });
  it('a fleet gate takes a signed `cutover fleet approve` from an approver of every group of the wave, and nothing else', async () => {
    const group = 'fleetgate';
    const fleet = await fleetWithBlue(group);
    const document = fleetDocument(
      fleet.gatewayUrl,
      'signed',
      [{ routingGroup: group }],
      [{ groups: [group], approval: true }],
    );
    const handle = await startFleet(testbed.env.client, document, fleetPlanSchema.parse(document));
    await waitUntil(async () => (await handle.query(fleetStatusQuery)).awaitingApproval, 'the fleet gate');
    const unsigned = await cutover(['fleet', 'approve', 'signed', '--by', 'alice']);
    assert.equal(unsigned.code, 1, unsigned.stdout);
    assert.match(unsigned.stderr, /this worker requires signed approvals/);
    const otherGroup = await cutover(['fleet', 'approve', 'signed', '--by', 'bob', '--key', bob.path]);
    assert.equal(otherGroup.code, 1, otherGroup.stdout);
    assert.match(otherGroup.stderr, /bob/);
    assert.ok((await handle.query(fleetStatusQuery)).awaitingApproval, 'still waiting after two refusals');
    const signed = await cutover(['fleet', 'approve', 'signed', '--by', 'alice', '--key', alice.path]);
    assert.equal(signed.code, 0, signed.stderr);
    const result = await handle.result();
    assert.equal(result.outcome, 'SUCCEEDED');
    assert.match(result.status.waves[0].approvedBy ?? '', /^alice \(signature verified, key SHA256:/);
  });
});

describe('signing keys the CLI refuses before it sends anything (exit 2)', () => {
  it('an encrypted key, a public key, a missing file and an absurd expiry are named, with no key material in the output', async () => {
    const encrypted = keys.make('encrypted', { passphrase: 'correct horse' });
    const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [
        ['approve', 'cutover-x', '--key', encrypted.path],
        {},
        /this key is encrypted \(aes256-ctr\): decrypt it with ssh-keygen -p or use an unencrypted key/,
      ],
      [
        ['promote', 'cutover-x'],
        { CUTOVER_SIGNING_KEY: `${alice.path}.pub` },
        /cannot sign with CUTOVER_SIGNING_KEY=.*: this is a public key; give the private key file/,
      ],
      [
        ['rollback', 'cutover-x', '--reason', 'x', '--key', '/nonexistent/id_ed25519'],
        {},
        /cannot read the signing key \(--key \/nonexistent\/id_ed25519\): no such file/,
      ],
      [
        ['approve', 'cutover-x', '--key', FIXTURE_KEY, '--expires-in', '30d'],
        {},
        /--expires-in must be a duration from 1s to 24h/,
      ],
    ];
    const runs = await Promise.all(
      cases.map(([args, env]) => runCli(UNREACHABLE_TEMPORAL, args, { CUTOVER_SIGNING_KEY: '', ...env })),
    );
    const markers = [...secretMarkers(encrypted.path), ...secretMarkers(FIXTURE_KEY)];
    runs.forEach((run, index) => {
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, cases[index][2]);
      for (const marker of markers)
        assert.ok(!(run.stdout + run.stderr).includes(marker), 'no key material in the output');
    });
  });
});

async function waitUntil(check: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
