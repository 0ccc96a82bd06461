import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TrinoGatewayClient } from '../src/integrations/gateway/client';
import { TrinoHttpClient } from '../src/integrations/trino/client';
import { policyProblems } from '../src/policy/check-plan';
import { workerPolicySchema } from '../src/policy/schema';
import { readQueryFile, splitQueryFile } from '../src/shadow/query-file';
import { untilHealthy } from '../src/devserver/wait';
import { startSandboxFleet, type SandboxFleet } from '../src/sandbox/fleet';
import { fastPlan } from './support/plans';

describe('shadow validation: plan, policy and the gateway history it samples', () => {
  it('a plan shadow query that writes is refused like a smoke query', () => {
    assert.throws(
      () => fastPlan('http://127.0.0.1:1', 'g', { shadow: { source: ['queries'], queries: ['DELETE FROM orders'] } }),
      /shadow\.queries\[0\]: must be read-only/,
    );
  });

  it('source queries without queries, and queries without that source, are refused', () => {
    assert.throws(() => fastPlan('http://127.0.0.1:1', 'g', { shadow: { source: ['queries'] } }), /must list queries/);
    assert.throws(
      () => fastPlan('http://127.0.0.1:1', 'g', { shadow: { queries: ['SELECT 1'] } }),
      /must include "queries"/,
    );
  });

  it('a plan can only narrow the policy: concurrency and sample above its bounds are refused', () => {
    const plan = fastPlan('http://127.0.0.1:1', 'g', { shadow: { concurrency: 8, sample: 500 } });
    const problems = policyProblems(plan, undefined);
    assert.ok(
      problems.some((problem) => /^shadow\.concurrency: must be at most 4/.test(problem)),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((problem) => /^shadow\.sample: must be at most 200/.test(problem)),
      problems.join('\n'),
    );
    const wider = workerPolicySchema.parse({
      gateways: ['http://127.0.0.1:1'],
      bounds: { maxShadowConcurrency: 8, maxShadowQueries: 500 },
    });
    assert.ok(!policyProblems(plan, wider).some((problem) => problem.startsWith('shadow.')));
  });

  it('a query file is a name inside the worker directory: source and queryFile go together, no absolute path or ..', () => {
    const plan = fastPlan('http://127.0.0.1:1', 'g', { shadow: { source: ['file'], queryFile: 'team/nightly.sql' } });
    assert.equal(plan.shadow?.queryFile, 'team/nightly.sql');
    assert.throws(
      () => fastPlan('http://127.0.0.1:1', 'g', { shadow: { source: ['file'] } }),
      /shadow\.queryFile: must name a file when source includes "file"/,
    );
    assert.throws(
      () => fastPlan('http://127.0.0.1:1', 'g', { shadow: { queryFile: 'nightly.sql' } }),
      /must include "file" to replay the query file/,
    );
    for (const name of ['/etc/passwd', '../nightly.sql', 'team/../../nightly.sql', 'a\\b.sql'])
      assert.throws(
        () => fastPlan('http://127.0.0.1:1', 'g', { shadow: { source: ['file'], queryFile: name } }),
        /shadow\.queryFile: must be a file name relative to the worker's query directory/,
        name,
      );
  });

  it("a plan naming a query file is refused unless the worker policy has a query directory (a plan only narrows the worker's policy)", () => {
    const plan = fastPlan('http://127.0.0.1:1', 'g', { shadow: { source: ['file'], queryFile: 'nightly.sql' } });
    const refused = (policy?: Parameters<typeof policyProblems>[1]) =>
      policyProblems(plan, policy).filter((problem) => problem.startsWith('shadow.queryFile:'));
    assert.match(refused(undefined).join('\n'), /^shadow\.queryFile: the worker policy allows no query files/);
    const without = workerPolicySchema.parse({ gateways: ['http://127.0.0.1:1'] });
    assert.equal(refused(without).length, 1);
    const withDirectory = workerPolicySchema.parse({
      gateways: ['http://127.0.0.1:1'],
      shadow: { queryDirectory: '/etc/cutover/queries' },
    });
    assert.deepEqual(refused(withDirectory), []);
    assert.throws(
      () => workerPolicySchema.parse({ gateways: ['http://127.0.0.1:1'], shadow: { queryDirectory: 'queries' } }),
      /must be an absolute path/,
    );
  });

  it('a query file splits at semicolons outside strings, quoted names and comments; `-- user:` says who runs a statement', () => {
    const text = [
      '-- nightly checks',
      '-- user: alice',
      'SELECT \'a;b\' AS "x;y";',
      '/* a comment; with a semicolon */',
      "SELECT 'it''s;' -- trailing; comment",
      ';',
      '-- only a comment;',
      '-- USER: bob',
      'SELECT answer FROM sandbox.shadow.release_answer',
    ].join('\n');
    assert.deepEqual(splitQueryFile(text), [
      { sql: '-- nightly checks\nSELECT \'a;b\' AS "x;y"', user: 'alice' },
      { sql: "/* a comment; with a semicolon */\nSELECT 'it''s;' -- trailing; comment" },
      { sql: '-- only a comment;\nSELECT answer FROM sandbox.shadow.release_answer', user: 'bob' },
    ]);
    assert.deepEqual(splitQueryFile('  \n-- nothing\n;;'), []);
  });

  it('a query file is read from the query directory only: no .., no absolute path, no symbolic link out of it', async () => {
    const root = mkdtempSync(join(tmpdir(), 'cutover-queries-'));
    try {
      const directory = join(root, 'queries');
      mkdirSync(join(directory, 'team'), { recursive: true });
      writeFileSync(join(directory, 'team', 'nightly.sql'), 'SELECT 1;');
      writeFileSync(join(root, 'outside.sql'), 'SELECT 2;');
      symlinkSync(join(root, 'outside.sql'), join(directory, 'escape.sql'));
      symlinkSync(root, join(directory, 'up'));
      symlinkSync(join(directory, 'team', 'nightly.sql'), join(directory, 'inside.sql'));
      assert.equal(await readQueryFile(directory, 'team/nightly.sql'), 'SELECT 1;');
      assert.equal(await readQueryFile(directory, 'inside.sql'), 'SELECT 1;', 'a link that stays inside is followed');
      await assert.rejects(
        readQueryFile(directory, '../outside.sql'),
        /must be a name inside the worker's query directory/,
      );
      await assert.rejects(readQueryFile(directory, join(root, 'outside.sql')), /must be a name inside/);
      await assert.rejects(readQueryFile(directory, 'escape.sql'), /leaves the worker's query directory/);
      await assert.rejects(readQueryFile(directory, 'up/outside.sql'), /leaves the worker's query directory/);
      await assert.rejects(readQueryFile(directory, 'team'), /is not a regular file/);
      await assert.rejects(readQueryFile(directory, 'missing.sql'), /cannot be read/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  describe('POST /webapp/findQueryHistory on the sandbox gateway', () => {
    let fleet: SandboxFleet;
    before(async () => {
      fleet = await startSandboxFleet({
        clusters: [{ name: 'trino-blue', version: '470', routingGroup: 'adhoc' }],
        healthIntervalMs: 100,
      });
      await untilHealthy(fleet, 'trino-blue');
    });
    after(() => fleet.stop());

    it('pages the submissions newest first with their users and sources, filtered by user', async () => {
      const trino = new TrinoHttpClient({ url: fleet.gatewayUrl, connections: 1 });
      for (const [i, user] of ['alice', 'bob', 'alice'].entries())
        await trino.execute(`SELECT ${i}`, {
          user,
          headers: { 'X-Trino-Routing-Group': 'adhoc', 'X-Trino-Source': 'bi' },
        });
      await trino.close();
      const gateway = new TrinoGatewayClient({ url: fleet.gatewayUrl });
      const first = await gateway.findQueryHistory(1, 2);
      assert.equal(first.total, 3);
      assert.deepEqual(
        first.rows.map((row) => [row.queryText, row.user, row.source, row.routingGroup]),
        [
          ['SELECT 2', 'alice', 'bi', 'adhoc'],
          ['SELECT 1', 'bob', 'bi', 'adhoc'],
        ],
      );
      const second = await gateway.findQueryHistory(2, 2);
      assert.deepEqual(
        second.rows.map((row) => row.queryText),
        ['SELECT 0'],
      );
      const response = await fetch(`${fleet.gatewayUrl}/webapp/findQueryHistory`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ page: 1, size: 10, user: 'bob' }),
      });
      const body = (await response.json()) as { code: number; data: { total: number; rows: { user: string }[] } };
      assert.equal(body.code, 200);
      assert.deepEqual(
        body.data.rows.map((row) => row.user),
        ['bob'],
      );
      await gateway.close();
    });
  });
});
