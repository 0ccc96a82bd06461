import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { until } from '../src/devserver/wait';
import { NO_POLICY_WARNING, parsePolicy, PolicyError, PolicyHolder, type PolicyLog } from '../src/policy/load';
import { credentialsAllowed, originMatches } from '../src/policy/origins';
import { UNREACHABLE_TEMPORAL } from './support/cli';

const PRODUCTION = `gateways: [https://gateway.example.com]
coordinators: ['https://*.trino.example.com:8443']
provisioners:
  profiles:
    helm:
      create: helm upgrade --install "$CUTOVER_CLUSTER_NAME" trino/trino -n "$CUTOVER_PARAM_NAMESPACE"
      delete: helm uninstall "$CUTOVER_CLUSTER_NAME" -n "$CUTOVER_PARAM_NAMESPACE"
      status: ./status.sh
      parameters: [namespace]
approvers:
  - name: alice
    publicKey: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGg0cHJvZHVjdGlvbmtleWZvcmFsaWNlMDAwMDAw alice@laptop
requireSignedApprovals: true
`;

/** A PolicyLog that keeps what it is told. */
function recordingLog(): PolicyLog & { lines: { level: string; message: string; fields: object }[] } {
  const lines: { level: string; message: string; fields: object }[] = [];
  return {
    lines,
    info: (fields, message) => lines.push({ level: 'info', message, fields }),
    warn: (fields, message) => lines.push({ level: 'warn', message, fields }),
    error: (fields, message) => lines.push({ level: 'error', message, fields }),
  };
}

function problemsOf(text: string): string[] {
  try {
    parsePolicy(text, 'policy.yaml');
  } catch (error) {
    if (error instanceof PolicyError) return error.problems;
    throw error;
  }
  assert.fail('the policy was accepted');
}

describe('worker policy file', () => {
  test('a production policy is read with every default filled', () => {
    const policy = parsePolicy(PRODUCTION);
    assert.deepEqual(policy.plainHttpHosts, []);
    assert.equal(policy.provisioners.sandbox, false);
    assert.equal(policy.provisioners.static, true);
    assert.equal(policy.provisioners.profiles.helm.timeout, '30m');
    assert.deepEqual(policy.provisioners.profiles.helm.env, {});
    assert.deepEqual(policy.approvers[0].groups, ['*']);
    assert.equal(policy.requireSignedApprovals, true);
    assert.equal(policy.bounds.minInterval, '100ms');
  });

  test("the README's production policy is valid", () => {
    const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
    const block = /```yaml\n(# \/etc\/cutover\/policy\.yaml\n[\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(block, 'README has the production policy example');
    const policy = parsePolicy(block, 'README');
    assert.deepEqual(policy.provisioners.profiles.helm.parameters, ['namespace', 'chartVersion']);
    assert.equal(policy.approvers.length, 2);
    assert.equal(policy.requireSignedApprovals, true);
  });

  test('every problem is named by its field, unknown keys included', () => {
    const problems = problemsOf(`gateways: [https://gateway.example.com/api, 'https://user:pw@gw.example.com']
plainHttpHosts: ['http://127.0.0.1']
provisioners:
  sandbox: yes please
  profiles:
    Helm: {create: a, delete: b, status: c}
    tf:
      create: terraform apply
      status: ./status.sh
      timeout: 0s
      env: {kubeconfig: /x}
      parameters: [Namespace]
      shell: /bin/bash
approvers: [{name: alice, publicKey: ssh-rsa AAAA}]
bounds: {maxWeightStep: 0}
credentials: {password: hunter2}
`);
    const expected = [
      /^gateways\[0\]: must be an origin/,
      /^gateways\[1\]: must be an origin/,
      /^plainHttpHosts\[0\]: must be a host name or IP address/,
      /^provisioners\.sandbox: /,
      /^provisioners\.profiles\.Helm: /,
      /^provisioners\.profiles\.tf\.delete: is required$/,
      /^provisioners\.profiles\.tf\.timeout: must be longer than 0$/,
      /^provisioners\.profiles\.tf\.env\.kubeconfig: must be an environment variable name/,
      /^provisioners\.profiles\.tf\.parameters\[0\]: must be a camelCase name/,
      /^provisioners\.profiles\.tf\.shell: unknown field; remove it/,
      /^approvers\[0\]\.publicKey: must be an OpenSSH ed25519 public key/,
      /^bounds\.maxWeightStep: /,
      /^credentials: unknown field; remove it/,
    ];
    for (const pattern of expected) {
      assert.ok(
        problems.some((problem) => pattern.test(problem)),
        `${pattern} in:\n${problems.join('\n')}`,
      );
    }
    assert.equal(problems.length, expected.length, problems.join('\n'));
    assert.doesNotMatch(problems.join('\n'), /hunter2/);
  });

  test('a file that is not a policy says so', async () => {
    assert.deepEqual(problemsOf('- just\n- a list\n'), ['(policy): must be a mapping with at least gateways']);
    assert.match(problemsOf('gateways: [\n')[0], /^cannot be parsed as YAML/);
    assert.deepEqual(problemsOf('{}'), ['gateways: is required']);
    await assert.rejects(PolicyHolder.fromFile('/nonexistent/policy.yaml', recordingLog()), (error: PolicyError) => {
      assert.deepEqual(error.problems, ['cannot be read: no such file']);
      return true;
    });
  });
});

describe('policy holder', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'cutover-policy-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('without CUTOVER_POLICY_FILE the worker runs without a policy and warns exactly once', async () => {
    const log = recordingLog();
    const holder = await PolicyHolder.fromEnv({}, log);
    assert.equal(holder.current(), undefined);
    assert.equal(await holder.reload(), false);
    assert.deepEqual(
      log.lines.filter((line) => line.level === 'warn').map((line) => line.message),
      [NO_POLICY_WARNING],
    );
    assert.equal(
      NO_POLICY_WARNING,
      'no worker policy: no credentials will be sent, command provisioning is refused; see README',
    );
  });

  test('a bad file at start is refused with its problems', async () => {
    const path = join(dir, 'bad.yaml');
    writeFileSync(path, 'gateways: []\n');
    await assert.rejects(PolicyHolder.fromEnv({ CUTOVER_POLICY_FILE: path }, recordingLog()), (error: PolicyError) => {
      assert.deepEqual(error.problems, ['gateways: must name at least one gateway origin']);
      assert.match(error.message, /bad\.yaml is not a valid worker policy/);
      return true;
    });
  });

  test('SIGHUP reloads the file; a bad file keeps the policy in force and logs every problem', async () => {
    const path = join(dir, 'policy.yaml');
    writeFileSync(path, 'gateways: [https://gateway-a.example.com]\n');
    const log = recordingLog();
    const holder = await PolicyHolder.fromEnv({ CUTOVER_POLICY_FILE: path }, log);
    const stop = holder.reloadOnSighup();
    try {
      assert.deepEqual(holder.current()?.gateways, ['https://gateway-a.example.com']);

      writeFileSync(path, 'gateways: [https://gateway-b.example.com]\n');
      process.kill(process.pid, 'SIGHUP');
      await until('the new policy', () => holder.current()?.gateways[0] === 'https://gateway-b.example.com', 5_000, 20);

      writeFileSync(path, 'gateways: [ftp://gateway-c.example.com]\nbounds: {maxWait: forever}\n');
      process.kill(process.pid, 'SIGHUP');
      await until('the refusal logged', () => log.lines.some((line) => line.level === 'error'), 5_000, 20);
      assert.deepEqual(holder.current()?.gateways, ['https://gateway-b.example.com']);
      const refusal = log.lines.find((line) => line.level === 'error')!;
      assert.match(refusal.message, /previous one stays in force/);
      assert.match(refusal.message, /gateways\[0\]: must be an origin/);
      assert.match(refusal.message, /bounds\.maxWait: must be a duration/);
    } finally {
      stop();
    }
  });

  test('`cutover worker` with a bad policy file exits 2 naming the problems, before connecting', async () => {
    const path = join(dir, 'worker-bad.yaml');
    writeFileSync(path, 'gateways: [https://gateway.example.com]\nprovisioners: {profiles: {helm: {create: x}}}\n');
    const run = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const cli = join(__dirname, '..', 'src', 'client', 'cli.ts');
      execFile(
        process.execPath,
        ['--import', 'tsx', cli, 'worker'],
        {
          env: { ...process.env, CUTOVER_POLICY_FILE: path, TEMPORAL_ADDRESS: UNREACHABLE_TEMPORAL },
          timeout: 60_000,
        },
        (error, _stdout, stderr) => resolve({ code: error ? (error.code as number) : 0, stderr }),
      );
    });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /worker-bad\.yaml is not a valid worker policy/);
    assert.match(run.stderr, /provisioners\.profiles\.helm\.delete: is required/);
    assert.match(run.stderr, /provisioners\.profiles\.helm\.status: is required/);
    assert.doesNotMatch(run.stderr, /Temporal/);
  });
});

describe('origins', () => {
  test('an origin pattern matches scheme, host (first label may be *) and port (default or *)', () => {
    const cases: [string, string, boolean][] = [
      ['https://gateway.example.com/api/x', 'https://gateway.example.com', true],
      ['https://gateway.example.com:443', 'https://gateway.example.com', true],
      ['https://GATEWAY.example.com', 'https://gateway.example.com', true],
      ['https://gateway.example.com:8443', 'https://gateway.example.com', false],
      ['http://gateway.example.com', 'https://gateway.example.com', false],
      ['http://gateway.example.com:80', 'http://gateway.example.com', true],
      ['https://trino-green.trino.example.com:8443', 'https://*.trino.example.com:8443', true],
      ['https://trino.example.com:8443', 'https://*.trino.example.com:8443', false],
      ['https://a.b.trino.example.com:8443', 'https://*.trino.example.com:8443', false],
      ['https://evil-trino.example.com:8443', 'https://*.trino.example.com:8443', false],
      ['https://trino.example.com.evil.net', 'https://trino.example.com', false],
      ['http://127.0.0.1:8471', 'http://127.0.0.1:*', true],
      ['http://127.0.0.1', 'http://127.0.0.1:*', true],
      ['http://127.0.0.2:8471', 'http://127.0.0.1:*', false],
      ['http://[::1]:8080', 'http://[::1]:8080', true],
      ['not a url', 'http://127.0.0.1:*', false],
    ];
    for (const [url, pattern, expected] of cases) {
      assert.equal(originMatches(url, pattern), expected, `${url} against ${pattern}`);
    }
  });

  test('credentials go to a listed origin over https, over plain http only to a host the policy names', () => {
    const policy = parsePolicy(
      'gateways: [https://gw.example.com, http://gw-plain.example.com, http://127.0.0.1:*]\nplainHttpHosts: [127.0.0.1]\n',
    );
    assert.equal(credentialsAllowed('https://gw.example.com', policy, policy.gateways), true);
    assert.equal(credentialsAllowed('https://other.example.com', policy, policy.gateways), false);
    assert.equal(credentialsAllowed('http://gw-plain.example.com', policy, policy.gateways), false);
    assert.equal(credentialsAllowed('http://127.0.0.1:8080', policy, policy.gateways), true);
    assert.equal(credentialsAllowed('http://127.0.0.1:8080', policy, policy.coordinators), false);
  });
});
