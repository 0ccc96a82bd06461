import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseClusterList } from '../src/client/commands/stack-flags';
import { localFleetOptions } from '../src/devserver/local-stack';
import { until, untilHealthy } from '../src/devserver/wait';
import { TrinoGatewayClient } from '../src/integrations/gateway/client';
import { startSandboxFleet } from '../src/sandbox/fleet';
import { startQueryLoad } from '../src/sandbox/load';
import { runCli, UNREACHABLE_TEMPORAL } from './support/cli';

const CLUSTERS = ['adhoc-blue=470', 'etl-blue=471@etl', 'bi-blue=472@bi'];

/** Runs one query per routing group through the gateway (X-Trino-Routing-Group) and names the backend that served each. */
async function servedBy(gatewayUrl: string, groups: string[]): Promise<Record<string, string[]>> {
  const served: Record<string, string[]> = {};
  for (const routingGroup of groups) {
    const load = startQueryLoad({ gatewayUrl, users: 1, concurrency: 1, durationMs: [5, 10], routingGroup });
    await until(`a query of ${routingGroup}`, () => load.report().finished + load.report().failed >= 1);
    const report = await load.stop();
    assert.equal(report.failed, 0, `${routingGroup}: ${report.queries.map((query) => query.error).join('; ')}`);
    served[routingGroup] = [...new Set(report.queries.map((query) => query.backend))];
  }
  return served;
}

describe('sandbox clusters in several routing groups', () => {
  it('parses name=version@group, a cluster without @group in the default group', () => {
    assert.deepEqual(parseClusterList(CLUSTERS, 'adhoc'), [
      { name: 'adhoc-blue', version: '470', routingGroup: 'adhoc' },
      { name: 'etl-blue', version: '471', routingGroup: 'etl' },
      { name: 'bi-blue', version: '472', routingGroup: 'bi' },
    ]);
  });

  it('names the bad value of --clusters and what is wrong with it', () => {
    const cases: [string[], RegExp][] = [
      [['trino-blue'], /^--clusters trino-blue: expected name=version or name=version@group, e\.g\./],
      [['a=470@etl@bi'], /^--clusters a=470@etl@bi: expected name=version or name=version@group/],
      [['-a=470'], /^--clusters -a=470: the cluster name "-a" must start with a letter or digit/],
      [['a=4 70'], /^--clusters a=4 70: the version "4 70" must be a Trino version such as 470/],
      [['a=470@'], /^--clusters a=470@: the routing group "" must start with a letter or digit/],
      [['a=470@bad group'], /^--clusters a=470@bad group: the routing group "bad group" must start/],
      [['a=470@etl', 'a=471@bi'], /^--clusters names a twice: each cluster needs a name of its own/],
    ];
    for (const [values, message] of cases) assert.throws(() => parseClusterList(values, 'adhoc'), { message });
  });

  it('cutover sandbox serves each group from its own cluster through the gateway', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(__dirname, '..', 'src', 'client', 'cli.ts'), 'sandbox', '--port', '0'].concat([
        '--health-interval',
        '100ms',
        '--json',
        '--clusters',
        ...CLUSTERS,
      ]),
      { cwd: join(__dirname, '..'), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = once(child, 'exit');
    try {
      await until(`the sandbox's JSON (stderr: ${stderr})`, () => stdout.trimEnd().endsWith('}'), 60_000);
      const started = JSON.parse(stdout) as {
        gatewayUrl: string;
        clusters: { name: string; version: string; routingGroup: string }[];
      };
      assert.deepEqual(
        started.clusters.map(({ name, version, routingGroup }) => [name, version, routingGroup]),
        [
          ['adhoc-blue', '470', 'adhoc'],
          ['etl-blue', '471', 'etl'],
          ['bi-blue', '472', 'bi'],
        ],
      );
      const gateway = new TrinoGatewayClient({ url: started.gatewayUrl });
      await until('every cluster HEALTHY in the gateway', async () =>
        (await Promise.all(started.clusters.map((cluster) => gateway.backendState(cluster.name)))).every(
          (state) => state?.trinoStatus === 'HEALTHY',
        ),
      );
      assert.deepEqual(
        (await gateway.listBackends()).map((backend) => [backend.name, backend.routingGroup, backend.active]),
        [
          ['adhoc-blue', 'adhoc', true],
          ['etl-blue', 'etl', true],
          ['bi-blue', 'bi', true],
        ],
      );
      assert.deepEqual(await servedBy(started.gatewayUrl, ['adhoc', 'etl', 'bi']), {
        adhoc: ['adhoc-blue'],
        etl: ['etl-blue'],
        bi: ['bi-blue'],
      });
    } finally {
      child.kill('SIGINT');
      await exited;
    }
    assert.equal(child.exitCode, 0, stderr);
  });

  it("cutover dev's fleet: each group served by its own cluster, and a canary rule per group", async () => {
    const options = localFleetOptions({
      gatewayPort: 0,
      healthIntervalMs: 100,
      routingGroup: 'adhoc',
      clusters: parseClusterList(CLUSTERS, 'adhoc'),
    });
    const fleet = await startSandboxFleet(options);
    try {
      for (const name of ['adhoc-blue', 'etl-blue', 'bi-blue']) await untilHealthy(fleet, name);
      assert.deepEqual(
        (await new TrinoGatewayClient({ url: fleet.gatewayUrl }).getRoutingRules()).map((rule) => rule.name),
        ['routing-group-header', 'cutover-canary-adhoc', 'cutover-canary-etl', 'cutover-canary-bi'],
      );
      assert.deepEqual(await servedBy(fleet.gatewayUrl, ['adhoc', 'etl', 'bi']), {
        adhoc: ['adhoc-blue'],
        etl: ['etl-blue'],
        bi: ['bi-blue'],
      });
    } finally {
      await fleet.stop();
    }
  });

  it('sandbox and dev refuse a bad --clusters value with exit 2 before starting anything', async () => {
    const [sandbox, dev] = await Promise.all([
      runCli(UNREACHABLE_TEMPORAL, ['sandbox', '--port', '0', '--clusters', 'a=470@']),
      runCli(UNREACHABLE_TEMPORAL, ['dev', '--gateway-port', '1', '--clusters', 'a=470@bad group']),
    ]);
    assert.equal(sandbox.code, 2, sandbox.stderr);
    assert.match(sandbox.stderr, /--clusters a=470@: the routing group "" must start with a letter or digit/);
    assert.equal(dev.code, 2, dev.stderr);
    assert.match(dev.stderr, /--clusters a=470@bad group: the routing group "bad group" must start/);
    assert.doesNotMatch(dev.stderr, /starting/, 'nothing was started');
  });
});
