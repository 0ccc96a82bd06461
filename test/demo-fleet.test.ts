import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli, UNREACHABLE_TEMPORAL } from './support/cli';
import { freePort } from './support/testbed';

const GROUPS = ['adhoc', 'etl', 'bi', 'team-a', 'team-b', 'team-c'];

test(
  'cutover demo --fleet upgrades six routing groups in three waves under query load and no query fails',
  { timeout: 180_000 },
  async () => {
    const [temporalPort, uiPort, gatewayPort] = [await freePort(), await freePort(), await freePort()];
    const started = Date.now();
    const run = await runCli(
      UNREACHABLE_TEMPORAL,
      [
        'demo',
        '--fleet',
        '--exit',
        '--temporal-port',
        String(temporalPort),
        '--ui-port',
        String(uiPort),
        '--gateway-port',
        String(gatewayPort),
      ],
      {},
      170_000,
    );
    const output = `${run.stdout}\n${run.stderr}`;
    assert.equal(run.code, 0, output);
    assert.match(run.stdout, /== cutover demo --fleet: SUCCEEDED in [\d.]+ s, 6 groups, \d+ parent history events/);
    // Each wave ran its groups, in order, and every group's upgrade succeeded with its own queries served.
    assert.match(run.stdout, /canary-groups +DONE .* adhoc\n/);
    assert.match(run.stdout, /quarter +DONE .* etl, bi\n/);
    assert.match(run.stdout, /rest +DONE .* team-a, team-b, team-c\n/);
    for (const group of GROUPS) {
      const row = new RegExp(`\\n  ${group} +\\S+ +SUCCEEDED +[\\d.]+ s +(\\d+) +(\\d+)\\n`).exec(run.stdout);
      assert.ok(row, `a summary row for ${group}:\n${run.stdout}`);
      assert.ok(Number(row[1]) > 0, `queries of ${group} finished`);
      assert.equal(Number(row[2]), 0, `no query of ${group} failed`);
    }
    const total = /\n {2}total +(\d+) +(\d+)\n/.exec(run.stdout);
    assert.ok(total, run.stdout);
    assert.equal(Number(total[2]), 0, 'no query failed');
    assert.match(run.stdout, /no client saw a failed query/);
    // Progress while it ran: waves and groups as they changed.
    assert.match(run.stdout, /fleet +rest started: team-a, team-b, team-c \(3 at once\)/);
    assert.match(run.stdout, /team-c +RUNNING BAKING/);
    assert.match(
      run.stdout,
      new RegExp(`http://localhost:${uiPort}/namespaces/default/workflows/cutover-fleet-demo-480`),
    );
    assert.ok(Date.now() - started < 120_000, `the demo took ${Date.now() - started} ms`);
  },
);
