import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { until } from '../src/devserver/wait';
import { IntegrationError } from '../src/integrations/errors';
import { CommandProvisioner } from '../src/integrations/provisioners/command';
import { createProvisioner } from '../src/integrations/provisioners';
import { validatePolicy } from '../src/policy/load';
import type { WorkerPolicy } from '../src/policy/schema';

let dir: string;

/** Writes an executable script into the temp dir and returns the command that runs it. */
function script(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return path;
}

/** A fake helm: one state file per cluster, a counter of create runs. */
function fakeClusterScripts(): { create: string; delete: string; status: string } {
  return {
    status: script(
      'status.sh',
      `f="${dir}/$CUTOVER_CLUSTER_NAME.url"
[ -f "$f" ] || exit 3
echo "checking $CUTOVER_CLUSTER_NAME" >&2
cat "$f"`,
    ),
    create: script(
      'create.sh',
      `echo "installing $CUTOVER_CLUSTER_NAME version $CUTOVER_TRINO_VERSION in group $CUTOVER_ROUTING_GROUP"
echo "waiting for pods" >&2
echo x >> "${dir}/create-runs"
echo "http://127.0.0.1:9481" > "${dir}/$CUTOVER_CLUSTER_NAME.url"
echo "http://127.0.0.1:9481"`,
    ),
    delete: script(
      'delete.sh',
      `echo "uninstalling $CUTOVER_CLUSTER_NAME at $CUTOVER_CLUSTER_URL"
rm "${dir}/$CUTOVER_CLUSTER_NAME.url"`,
    ),
  };
}

const spec = { name: 'trino-green', version: '480', routingGroup: 'adhoc' };

/** A worker policy with these command profiles (and the sandbox and static provisioners as given). */
function policyWith(
  profiles: Record<string, Record<string, unknown>>,
  provisioners: { sandbox?: boolean; static?: boolean } = {},
): WorkerPolicy {
  return validatePolicy(
    { gateways: ['http://127.0.0.1:*'], provisioners: { ...provisioners, profiles } },
    'test policy',
  );
}

/** Running, as opposed to gone or a zombie waiting for its new parent to reap it. */
function processAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('command provisioner', () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'cutover-command-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('ensureCluster creates once across two calls and streams every output line', async () => {
    const provisioner = new CommandProvisioner({ ...fakeClusterScripts(), timeoutMs: 10_000 });
    const progress: string[] = [];
    const first = await provisioner.ensureCluster(spec, (line) => progress.push(line));
    assert.deepEqual(first, { name: 'trino-green', url: 'http://127.0.0.1:9481', created: true });
    assert.ok(progress.includes('create: installing trino-green version 480 in group adhoc'), progress.join('\n'));
    assert.ok(progress.includes('create: waiting for pods'), 'stderr lines are streamed too');

    const second = await provisioner.ensureCluster(spec, (line) => progress.push(line));
    assert.deepEqual(second, { name: 'trino-green', url: 'http://127.0.0.1:9481', created: false });
    assert.equal(readFileSync(join(dir, 'create-runs'), 'utf8'), 'x\n', 'create ran exactly once');
    assert.deepEqual(await provisioner.describeCluster('trino-green'), {
      state: 'present',
      url: 'http://127.0.0.1:9481',
    });

    assert.equal(await provisioner.deleteCluster('trino-green', (line) => progress.push(line)), true);
    assert.ok(progress.includes('delete: uninstalling trino-green at http://127.0.0.1:9481'), progress.join('\n'));
    assert.deepEqual(await provisioner.describeCluster('trino-green'), { state: 'absent' });
  });

  test('deleting an absent cluster runs only status and returns false', async () => {
    const scripts = fakeClusterScripts();
    const provisioner = new CommandProvisioner({
      ...scripts,
      delete: `${scripts.delete}; echo ran > ${dir}/delete-ran`,
      timeoutMs: 10_000,
    });
    assert.equal(await provisioner.deleteCluster('never-created'), false);
    assert.equal(existsSync(join(dir, 'delete-ran')), false);
  });

  test('the cluster URL comes from the plan when set, and is not required from create', async () => {
    const provisioner = new CommandProvisioner({
      status: 'exit 3',
      create: 'echo done',
      delete: 'true',
      timeoutMs: 10_000,
    });
    const cluster = await provisioner.ensureCluster({ ...spec, url: 'https://trino-green.example.com' });
    assert.deepEqual(cluster, { name: 'trino-green', url: 'https://trino-green.example.com', created: true });
  });

  test('status with empty output means absent; a create without a URL is invalid output', async () => {
    const provisioner = new CommandProvisioner({
      status: 'true',
      create: 'echo deployed',
      delete: 'true',
      timeoutMs: 10_000,
    });
    await assert.rejects(provisioner.ensureCluster(spec), (error: IntegrationError) => {
      assert.equal(error.type, 'ProvisionerOutputInvalid');
      assert.equal(error.retryable, false);
      assert.match(error.message, /"deployed"/);
      return true;
    });
  });

  test('a failing status is a retryable error with the last output line', async () => {
    const provisioner = new CommandProvisioner({
      status: 'echo "kube api unreachable" >&2; exit 1',
      create: 'true',
      delete: 'true',
      timeoutMs: 10_000,
    });
    await assert.rejects(provisioner.describeCluster('trino-green'), (error: IntegrationError) => {
      assert.equal(error.type, 'ProvisionerCommandFailed');
      assert.equal(error.retryable, true);
      assert.match(error.message, /status command exited with code 1 \(last output: kube api unreachable\)/);
      return true;
    });
  });

  test('a command that outlives its timeout is stopped with its whole process group', async () => {
    const pidFile = join(dir, 'sleeper.pid');
    const provisioner = new CommandProvisioner({
      status: 'exit 3',
      create: `sleep 30 & echo $! > ${pidFile}; wait`,
      delete: 'true',
      timeoutMs: 300,
    });
    const started = Date.now();
    await assert.rejects(provisioner.ensureCluster(spec), (error: IntegrationError) => {
      assert.equal(error.type, 'ProvisionerCommandTimedOut');
      assert.equal(error.retryable, true);
      return true;
    });
    assert.ok(Date.now() - started < 5_000, 'stopped promptly');
    const sleeper = Number(readFileSync(pidFile, 'utf8'));
    await until('the background child to be killed too', () => !processAlive(sleeper), 2_000, 20);
  });

  test('a command that exits leaves none of its background children running', async () => {
    const pidFile = join(dir, 'left-behind.pid');
    const provisioner = new CommandProvisioner({
      status: 'exit 3',
      create: `sleep 30 >/dev/null 2>&1 & echo $! > ${pidFile}; echo http://127.0.0.1:9481`,
      delete: 'true',
      timeoutMs: 10_000,
    });
    const cluster = await provisioner.ensureCluster(spec);
    assert.equal(cluster.url, 'http://127.0.0.1:9481');
    const sleeper = Number(readFileSync(pidFile, 'utf8'));
    await until('the background child to be killed after the shell exited', () => !processAlive(sleeper), 2_000, 20);
  });

  test('a stopped command whose child ignores SIGTERM is killed after the shell has exited', async () => {
    const pidFile = join(dir, 'stubborn.pid');
    const provisioner = new CommandProvisioner({
      status: 'exit 3',
      create: `sh -c 'trap "" TERM; sleep 30' >/dev/null 2>&1 & echo $! > ${pidFile}; wait`,
      delete: 'true',
      timeoutMs: 300,
    });
    await assert.rejects(provisioner.ensureCluster(spec), (error: IntegrationError) => {
      assert.equal(error.type, 'ProvisionerCommandTimedOut');
      return true;
    });
    const stubborn = Number(readFileSync(pidFile, 'utf8'));
    assert.ok(processAlive(stubborn), 'it outlived the SIGTERM and its shell');
    await until('the SIGTERM-proof child to get SIGKILL', () => !processAlive(stubborn), 8_000, 50);
  });

  test('aborting stops the running command and rejects with the abort reason', async () => {
    const controller = new AbortController();
    const policy = policyWith({
      slow: { status: 'exit 3', create: 'echo starting; sleep 30', delete: 'true', timeout: '1m' },
    });
    const provisioner = createProvisioner(
      { type: 'command', profile: 'slow', parameters: {} },
      { gatewayUrl: 'http://127.0.0.1:1', signal: controller.signal, policy },
    );
    const reason = new Error('activity cancelled');
    const running = provisioner.ensureCluster(spec, (line) => {
      if (line === 'create: starting') controller.abort(reason);
    });
    await assert.rejects(running, (error) => error === reason);
  });

  test('commands get the plan values and not the worker secrets', async () => {
    const envFile = join(dir, 'env');
    process.env.CUTOVER_GATEWAY_PASSWORD = 'hunter2';
    try {
      const provisioner = new CommandProvisioner({
        status: `env | grep ^CUTOVER_ | sort > ${envFile}; exit 3`,
        create: 'echo http://127.0.0.1:9999',
        delete: 'true',
        timeoutMs: 10_000,
      });
      await provisioner.ensureCluster({ ...spec, url: 'http://127.0.0.1:9999' });
    } finally {
      delete process.env.CUTOVER_GATEWAY_PASSWORD;
    }
    assert.equal(
      readFileSync(envFile, 'utf8'),
      'CUTOVER_CLUSTER_NAME=trino-green\nCUTOVER_CLUSTER_URL=http://127.0.0.1:9999\nCUTOVER_ROUTING_GROUP=adhoc\nCUTOVER_TRINO_VERSION=480\n',
    );
  });
});

describe('command provisioner profiles from the worker policy', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'cutover-profile-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const context = (policy: WorkerPolicy | undefined) => ({ gatewayUrl: 'https://gateway.example.com', policy });

  test('commands get the cluster, the gateway URL, the parameters and the profile env, and of the worker only PATH and HOME', async () => {
    const envFile = join(dir, 'env');
    const policy = policyWith({
      helm: {
        status: `env > ${envFile}; exit 3`,
        create: 'echo https://trino-green.example.com',
        delete: 'true',
        env: { KUBECONFIG: '/etc/cutover/kubeconfig', CUTOVER_CLUSTER_NAME: 'not-this' },
        parameters: ['namespace', 'valuesFile'],
      },
    });
    process.env.CUTOVER_GATEWAY_PASSWORD = 'hunter2';
    process.env.AWS_SECRET_ACCESS_KEY = 'worker-secret';
    try {
      const provisioner = createProvisioner(
        { type: 'command', profile: 'helm', parameters: { namespace: 'trino', valuesFile: 'values/green.yaml' } },
        context(policy),
      );
      await provisioner.ensureCluster(spec);
    } finally {
      delete process.env.CUTOVER_GATEWAY_PASSWORD;
      delete process.env.AWS_SECRET_ACCESS_KEY;
    }
    const env = Object.fromEntries(
      readFileSync(envFile, 'utf8')
        .trim()
        .split('\n')
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    delete env.PWD; // the shell's own
    assert.deepEqual(env, {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      KUBECONFIG: '/etc/cutover/kubeconfig',
      CUTOVER_CLUSTER_NAME: 'trino-green',
      CUTOVER_TRINO_VERSION: '480',
      CUTOVER_ROUTING_GROUP: 'adhoc',
      CUTOVER_GATEWAY_URL: 'https://gateway.example.com',
      CUTOVER_PARAM_NAMESPACE: 'trino',
      CUTOVER_PARAM_VALUES_FILE: 'values/green.yaml',
    });
  });

  test('no policy, an unknown profile or an undeclared parameter is refused without running anything', () => {
    const policy = policyWith({
      helm: { status: 'exit 3', create: 'true', delete: 'true', parameters: ['namespace'] },
    });
    const refusals: [WorkerPolicy | undefined, Record<string, string>, string, RegExp][] = [
      [undefined, {}, 'helm', /needs a worker policy, and this worker runs without one/],
      [policy, {}, 'terraform', /no provisioner profile "terraform" \(profiles: helm\)/],
      [
        policy,
        { namespace: 'trino', chart: 'x' },
        'helm',
        /does not declare the parameter chart \(it declares: namespace\)/,
      ],
    ];
    for (const [current, parameters, profile, message] of refusals) {
      assert.throws(
        () => createProvisioner({ type: 'command', profile, parameters }, context(current)),
        (error: IntegrationError) => {
          assert.equal(error.type, 'ProvisionerNotAllowed');
          assert.equal(error.retryable, false);
          assert.match(error.message, message);
          return true;
        },
      );
    }
  });

  test('sandbox and static are refused when the policy says false, and allowed without a policy', async () => {
    const strict = policyWith({}, { sandbox: false, static: false });
    for (const config of [{ type: 'sandbox', startupDelay: '1s' } as const, { type: 'static' } as const]) {
      assert.throws(
        () => createProvisioner(config, context(strict)),
        (error: IntegrationError) =>
          error.type === 'ProvisionerNotAllowed' &&
          !error.retryable &&
          error.message.includes(`provisioners.${config.type}: false`),
      );
      const allowed = createProvisioner(config, { ...context(undefined), staticUrl: 'http://127.0.0.1:8481' });
      await allowed.close();
    }
  });

  test('output reaches progress and errors redacted, each line capped, the total capped', async () => {
    const policy = policyWith({
      noisy: {
        status: 'exit 3',
        create: [
          'echo "Authorization: Bearer abc.def.ghi"',
          'echo "connecting to https://admin:hunter2@kube.example.com with password=hunter2" >&2',
          `printf 'x%.0s' $(seq 1 5000); echo`,
          'i=0; while [ $i -lt 200 ]; do printf "line %04d %0500d\\n" $i 0; i=$((i+1)); done',
          'echo "token=s3cr3t failed" >&2; exit 1',
        ].join('\n'),
        delete: 'true',
      },
    });
    const provisioner = createProvisioner({ type: 'command', profile: 'noisy', parameters: {} }, context(policy));
    const progress: string[] = [];
    await assert.rejects(
      provisioner.ensureCluster(spec, (line) => progress.push(line)),
      (error: IntegrationError) => {
        assert.equal(error.type, 'ProvisionerCommandFailed');
        assert.match(error.message, /last output: token=\[redacted\] failed/);
        return true;
      },
    );
    const all = progress.join('\n');
    assert.doesNotMatch(all, /hunter2|abc\.def\.ghi|s3cr3t/);
    assert.ok(progress.includes('create: Authorization: [redacted]'), all);
    assert.ok(
      progress.includes('create: connecting to https://[redacted]@kube.example.com with password=[redacted]'),
      all,
    );
    assert.ok(
      progress.every((line) => line.length < 1_100),
      'every line capped',
    );
    assert.ok(
      progress.some((line) => line.includes('more characters cut')),
      'a long line says it was cut',
    );
    assert.ok(all.length < 70_000, `the total is capped (${all.length})`);
    assert.match(progress.at(-1) ?? '', /more lines of output not shown/);
  });
});

describe('static provisioner', () => {
  test('returns the existing cluster and never deletes it', async () => {
    const provisioner = createProvisioner(
      { type: 'static' },
      { gatewayUrl: 'http://127.0.0.1:1', staticUrl: 'http://127.0.0.1:8481', policy: undefined },
    );
    const progress: string[] = [];
    assert.deepEqual(await provisioner.ensureCluster({ ...spec, url: 'http://127.0.0.1:8481' }), {
      name: 'trino-green',
      url: 'http://127.0.0.1:8481',
      created: false,
    });
    assert.deepEqual(await provisioner.describeCluster('trino-green'), {
      state: 'present',
      url: 'http://127.0.0.1:8481',
    });
    assert.equal(await provisioner.deleteCluster('trino-green', (line) => progress.push(line)), false);
    assert.match(progress.join('\n'), /operator removes it/);
  });
});
