import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { checkApproval, type VerifyApprovalInput } from '../src/activities/approvals';
import { workerPolicySchema, type WorkerPolicy } from '../src/policy/schema';
import { KeyFormatError, parsePrivateKey, parsePublicKey } from '../src/signing/openssh';
import {
  bindingMismatch,
  formatApprovalPayload,
  parseApprovalPayload,
  PayloadError,
  signatureShapeProblem,
  type ApprovalClaims,
  type ExpectedBinding,
} from '../src/signing/payload';
import { newNonce, signApproval, signatureMatches } from '../src/signing/sign';
import { describeKey, FIXTURE_KEY, keyFolder, secretMarkers } from './support/keys';

const keys = keyFolder();
after(() => keys.remove());

function assertRefused(text: string, says: RegExp, secrets: string[] = []): void {
  assert.throws(
    () => parsePrivateKey(text),
    (error: unknown) => {
      assert.ok(error instanceof KeyFormatError, String(error));
      assert.match(error.message, says);
      for (const secret of secrets) assert.ok(!error.message.includes(secret), 'the error quotes no key material');
      return true;
    },
  );
}

const CLAIMS: ApprovalClaims = {
  workflowId: 'cutover-adhoc',
  runId: '0198c0de-1111-7222-8333-444455556666',
  action: 'approve',
  gate: '3:approval',
  approver: 'alice',
  expires: '2030-01-01T00:10:00.000Z',
  nonce: 'qL2qX1lq0f9z3Hk7c8a2Aw',
};

describe('OpenSSH ed25519 keys', () => {
  it('reads the committed test key pair: fingerprint and comment as ssh-keygen -l prints them', () => {
    const fixture = describeKey(FIXTURE_KEY);
    const key = parsePrivateKey(readFileSync(FIXTURE_KEY, 'utf8'));
    const publicKey = parsePublicKey(fixture.publicKey);
    assert.equal(key.publicKey.fingerprint, fixture.fingerprint);
    assert.equal(publicKey.fingerprint, fixture.fingerprint);
    assert.equal(key.publicKey.comment, 'cutover test-only key: never trust it');
    assert.equal(publicKey.comment, 'cutover test-only key: never trust it');
    for (const secret of secretMarkers(FIXTURE_KEY))
      assert.ok(!JSON.stringify(key).includes(secret), 'a parsed key serialises to nothing secret');
  });

  it('signs with a key fresh from `ssh-keygen -t ed25519 -N ""` and verifies with its .pub line only', () => {
    const made = keys.make('operator');
    const key = parsePrivateKey(readFileSync(made.path, 'utf8'));
    const signed = signApproval(key, CLAIMS);
    assert.equal(signed.fingerprint, made.fingerprint);
    assert.equal(signatureShapeProblem(signed), undefined);
    assert.ok(signatureMatches(signed, parsePublicKey(made.publicKey)));
    const tampered = { ...signed, payload: signed.payload.replace('approver: alice', 'approver: mallo') };
    assert.ok(!signatureMatches(tampered, parsePublicKey(made.publicKey)), 'a changed payload no longer verifies');
    const other = parsePublicKey(keys.make('other').publicKey);
    assert.ok(!signatureMatches(signed, other), "another key's public half does not verify it");
    for (const secret of secretMarkers(made.path))
      assert.ok(!JSON.stringify(signed).includes(secret), 'the signed request holds no private key material');
  });

  it('refuses encrypted, RSA, public, PEM, damaged and empty key files with a clear reason and no key material', () => {
    const encrypted = keys.make('encrypted', { passphrase: 'correct horse' });
    assertRefused(
      readFileSync(encrypted.path, 'utf8'),
      /^this key is encrypted \(aes256-ctr\): decrypt it with ssh-keygen -p or use an unencrypted key$/,
      secretMarkers(encrypted.path),
    );
    const rsa = keys.make('rsa', { type: 'rsa' });
    assertRefused(
      readFileSync(rsa.path, 'utf8'),
      /key type is ssh-rsa, not ssh-ed25519: make one with `ssh-keygen -t ed25519`/,
    );
    assertRefused(readFileSync(`${FIXTURE_KEY}.pub`, 'utf8'), /this is a public key; give the private key file/);
    assertRefused(
      '-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n',
      /this is a RSA PRIVATE KEY/,
    );
    assertRefused('', /not an OpenSSH private key file/);
    const text = readFileSync(FIXTURE_KEY, 'utf8');
    const lines = text.trim().split('\n');
    const truncated = [...lines.slice(0, 3), lines.at(-1)!].join('\n');
    assertRefused(truncated, /truncated|damaged/, secretMarkers(FIXTURE_KEY));
    const flipped = text.replace(
      /(\n[A-Za-z0-9+/]{10})([A-Za-z])/,
      (_, head: string, c: string) => head + (c === 'A' ? 'B' : 'A'),
    );
    assert.throws(() => parsePrivateKey(flipped), KeyFormatError);
  });

  it('refuses public key lines that are not ed25519 or are damaged', () => {
    const rsa = keys.make('rsa-pub', { type: 'rsa' });
    assert.throws(() => parsePublicKey(rsa.publicKey), /not an ed25519 public key \(type ssh-rsa\)/);
    assert.throws(() => parsePublicKey('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA== x'), /truncated|damaged/);
    assert.throws(() => parsePublicKey('ssh-ed25519'), /no base64 key/);
  });
});

describe('the signed payload', () => {
  it('has one canonical text: versioned, one field per line in a fixed order, read back as written', () => {
    const text = formatApprovalPayload(CLAIMS);
    assert.equal(
      text,
      [
        'cutover-approval v1',
        'workflow: cutover-adhoc',
        'run: 0198c0de-1111-7222-8333-444455556666',
        'action: approve',
        'gate: 3:approval',
        'approver: alice',
        'expires: 2030-01-01T00:10:00.000Z',
        'nonce: qL2qX1lq0f9z3Hk7c8a2Aw',
      ].join('\n'),
    );
    assert.deepEqual(parseApprovalPayload(text), CLAIMS);
    assert.match(newNonce(), /^[A-Za-z0-9_-]{22}$/);
  });

  it('refuses any other spelling of a payload', () => {
    const text = formatApprovalPayload(CLAIMS);
    const variants: [string, RegExp][] = [
      [`${text}\n`, /must have the lines/],
      [text.replace('cutover-approval v1', 'cutover-approval v2'), /does not start with "cutover-approval v1"/],
      [text.replace('workflow: ', 'workflow:  '), /workflow is empty or not printable/],
      [
        text.replace('approver: alice\n', '').replace('gate: 3:approval', 'approver: alice\ngate: 3:approval'),
        /line 5/,
      ],
      [text.replace('action: approve', 'action: deploy'), /action must be one of/],
      [text.replace('gate: 3:approval', 'gate: the first one'), /gate must be/],
      [text.replace('2030-01-01T00:10:00.000Z', '2030-01-01 00:10'), /expiry must be an ISO time/],
      [text.replace('qL2qX1lq0f9z3Hk7c8a2Aw', 'short'), /nonce must be/],
      [text.replace('approver: alice', 'approver: alice\r'), /approver is empty or not printable/],
      ['x'.repeat(5000), /at most 2048 characters/],
    ];
    for (const [variant, says] of variants)
      assert.throws(
        () => parseApprovalPayload(variant),
        (error: unknown) => error instanceof PayloadError && says.test(error.message),
        says.source,
      );
  });

  it('binds workflow, run, nonce, action, gate and approver, each refused with its own reason', () => {
    const expected: ExpectedBinding = {
      workflowId: 'cutover-adhoc',
      runId: CLAIMS.runId,
      action: 'approve',
      gate: '3:approval',
      approver: 'alice',
    };
    assert.equal(bindingMismatch(CLAIMS, expected), undefined);
    const cases: [Partial<typeof expected>, Set<string>, RegExp][] = [
      [{ workflowId: 'cutover-other' }, new Set(), /for upgrade cutover-adhoc, not cutover-other/],
      [{ runId: 'another-run' }, new Set(), /for another run of cutover-adhoc/],
      [{}, new Set([CLAIMS.nonce]), /already used in this upgrade/],
      [{ action: 'promote' }, new Set(), /for approve, not promote/],
      [{ gate: '6:approval' }, new Set(), /answers gate 3:approval, but the upgrade is at 6:approval/],
      [{ approver: 'bob' }, new Set(), /names approver alice, but the request is by bob/],
    ];
    for (const [change, used, says] of cases)
      assert.match(bindingMismatch(CLAIMS, { ...expected, ...change }, used) ?? '', says);
  });

  it('checks the shape of a signature typed by hand', () => {
    assert.match(signatureShapeProblem('yes') ?? '', /must be an object/);
    assert.match(signatureShapeProblem({ payload: 'x' }) ?? '', /strings payload, signature and fingerprint/);
    assert.match(signatureShapeProblem({ payload: 'x', signature: 'x', fingerprint: 'md5:aa' }) ?? '', /SHA256/);
  });
});

describe('verifyApproval against a worker policy', () => {
  const alice = describeKey(FIXTURE_KEY);
  const aliceKey = parsePrivateKey(readFileSync(FIXTURE_KEY, 'utf8'));
  const bob = keys.make('bob');
  const bobKey = parsePrivateKey(readFileSync(bob.path, 'utf8'));
  const now = Date.parse('2030-01-01T00:00:00.000Z');
  const policy = (extra: Partial<WorkerPolicy> = {}): WorkerPolicy => ({
    ...workerPolicySchema.parse({
      gateways: ['http://127.0.0.1:*'],
      approvers: [
        { name: 'alice', publicKey: alice.publicKey },
        { name: 'bob', publicKey: bob.publicKey, groups: ['team-*'] },
      ],
    }),
    ...extra,
  });
  const request = (extra: Partial<VerifyApprovalInput> = {}): VerifyApprovalInput => ({
    workflowId: CLAIMS.workflowId,
    runId: CLAIMS.runId,
    action: 'approve',
    gate: '3:approval',
    by: 'alice',
    routingGroup: 'adhoc',
    ...extra,
  });
  const signed = (key = aliceKey, claims: Partial<ApprovalClaims> = {}) => signApproval(key, { ...CLAIMS, ...claims });
  const refusal = (p: WorkerPolicy | undefined, input: VerifyApprovalInput): string => {
    const verdict = checkApproval(p, input, now);
    assert.ok('refused' in verdict, `refused: ${JSON.stringify(verdict)}`);
    return verdict.refused;
  };

  it('accepts a signature by a listed key and names the approver and key', () => {
    assert.deepEqual(checkApproval(policy(), request({ signature: signed() }), now), {
      approver: 'alice',
      fingerprint: alice.fingerprint,
    });
  });

  it('refuses wrong-key, unknown, tampered, expired, far-future, foreign-run and out-of-group signatures', () => {
    assert.match(
      refusal(policy(), request({ signature: signed(bobKey) })),
      /^wrong key: SHA256:\S+ is not alice's key/,
    );
    assert.match(
      refusal(policy(), request({ by: 'carol', signature: signed(aliceKey, { approver: 'carol' }) })),
      /carol has no key in the worker policy/,
    );
    assert.match(refusal(undefined, request({ signature: signed() })), /alice has no key in the worker policy/);
    const forged = { ...signed(), signature: signed(aliceKey, { nonce: newNonce() }).signature };
    assert.match(refusal(policy(), request({ signature: forged })), /does not match its payload/);
    assert.match(
      refusal(policy(), request({ signature: signed(aliceKey, { expires: '2029-12-31T23:59:00.000Z' }) })),
      /expired at 2029-12-31T23:59:00.000Z \(60 s ago\); sign again/,
    );
    assert.match(
      refusal(policy(), request({ signature: signed(aliceKey, { expires: '2030-01-03T00:00:00.000Z' }) })),
      /more than 24h ahead/,
    );
    assert.match(
      refusal(policy(), request({ runId: 'other', signature: signed() })),
      /for another run of cutover-adhoc/,
    );
    assert.match(
      refusal(policy(), request({ by: 'bob', signature: signed(bobKey, { approver: 'bob' }) })),
      /bob may not approve routing group adhoc \(groups in the worker policy: team-\*\)/,
    );
    assert.ok(
      !(
        'refused' in
        checkApproval(
          policy(),
          request({ by: 'bob', routingGroup: 'team-a', signature: signed(bobKey, { approver: 'bob' }) }),
          now,
        )
      ),
    );
  });

  it('unsigned: allowed without a policy, refused when signatures are required, and only from approvers', () => {
    assert.deepEqual(checkApproval(undefined, request({ by: 'anyone' }), now), { approver: 'anyone' });
    assert.equal(
      refusal(policy({ requireSignedApprovals: true }), request()),
      'this worker requires signed approvals: cutover approve cutover-adhoc --key ~/.ssh/id_ed25519',
    );
    assert.match(
      refusal(policy({ requireSignedApprovals: true }), request({ action: 'promote-full' })),
      /cutover promote cutover-adhoc --full --key/,
    );
    assert.deepEqual(checkApproval(policy(), request(), now), { approver: 'alice' });
    assert.match(
      refusal(policy(), request({ by: 'mallory', action: 'promote-full' })),
      /mallory is not an approver of routing group adhoc in the worker policy \(approvers: alice\)/,
    );
    assert.deepEqual(checkApproval(policy({ approvers: [] }), request({ by: 'mallory' }), now), {
      approver: 'mallory',
    });
  });

  it('rollback: unsigned always allowed; signed verifies who, whatever their groups', () => {
    const rollback = request({ action: 'rollback', gate: 'any', by: 'bob' });
    assert.deepEqual(checkApproval(policy({ requireSignedApprovals: true }), rollback, now), { approver: 'bob' });
    const signature = signed(bobKey, { action: 'rollback', gate: 'any', approver: 'bob' });
    assert.deepEqual(checkApproval(policy(), { ...rollback, signature }, now), {
      approver: 'bob',
      fingerprint: bob.fingerprint,
    });
  });

  it('a policy key that cannot be read is named', () => {
    const broken = policy({ approvers: [{ name: 'alice', publicKey: 'ssh-ed25519 AAAA', groups: ['*'] }] });
    assert.match(refusal(broken, request({ signature: signed() })), /public key of alice cannot be used/);
  });
});
