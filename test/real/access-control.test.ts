/**
 * Issue 10, item 1 on real things: blue is a real Trino 470 with file-based access control under
 * which cutover's user sees only its own queries, behind a real Trino Gateway 20. The preflight
 * must refuse the upgrade, and the drain must not count blue drained while another user's query
 * runs there. `npm run test:real`; docs/real-stack.md.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import type { DrainInput, DrainResult } from '../../src/activities/types';
import { startUpgrade } from '../../src/client/upgrades';
import { until, waitForStatus } from '../../src/devserver/wait';
import { TrinoHttpClient } from '../../src/integrations/trino/client';
import { integrationsFromEnv } from '../../src/worker/integrations';
import { progress } from '../../scripts/real-stack/stack';
import { BLUE, GREEN, GROUP, realPlan } from './support';
import { useRealTestbed } from './testbed';

/**
 * Blue's `security.config-file`: every user may run queries, no rule lets anyone view another
 * user's queries (Trino always shows users their own).
 */
const BLUE_RULES = { queries: [{ allow: ['execute'] }] };

/** The user whose query cutover must not miss. */
const OTHER_USER = 'etl';

/**
 * A query of `user` that stays RUNNING on `url` without burning the CPU: its result (10^8 rows) is
 * never read, so once dispatched it blocks on its full output buffer. `cancel` deletes it.
 */
async function startBlockedQuery(url: string, user: string): Promise<{ id: string; cancel(): Promise<void> }> {
  const headers = { 'x-trino-user': user };
  const sql =
    'SELECT x * y FROM UNNEST(sequence(1, 10000)) a(x) CROSS JOIN UNNEST(sequence(1, 10000)) b(y) /* left unread */';
  const post = await fetch(`${url}/v1/statement`, { method: 'POST', headers, body: sql });
  let page = (await post.json()) as { id: string; nextUri?: string; stats: { state: string } };
  const id = page.id;
  let nextUri = page.nextUri;
  // Trino dispatches a query when its client first polls; then it runs until its output buffer is full.
  while (nextUri && !['RUNNING', 'FINISHED', 'FAILED'].includes(page.stats.state)) {
    page = (await (await fetch(nextUri, { headers })).json()) as typeof page;
    nextUri = page.nextUri ?? nextUri;
  }
  assert.equal(page.stats.state, 'RUNNING', `${user}'s query runs on ${url}`);
  return {
    id,
    async cancel() {
      await fetch(`${url}/v1/query/${id}`, { method: 'DELETE', headers });
    },
  };
}

/** One attempt of the drain activity in this process, as the worker's user (`cutover`). */
async function drain(input: DrainInput): Promise<DrainResult> {
  const deps = integrationsFromEnv({});
  try {
    const env = new MockActivityEnvironment({}, { logger: new DefaultLogger('ERROR') });
    const activity = createActivities(deps).drainBackends;
    return await env.run<[DrainInput], DrainResult, typeof activity>(activity, input);
  } finally {
    await deps.close();
  }
}

describe('real stack: blue’s access control hides other users’ queries from cutover', { timeout: 10 * 60_000 }, () => {
  const real = useRealTestbed({ blueAccessControlRules: BLUE_RULES });

  /** Counts as cutover sees them on blue: every user's in the cluster stats, its own in /v1/query. */
  async function cutoverSees(): Promise<{ clusterWide: number; visible: string[] }> {
    const cutover = new TrinoHttpClient({ url: real.stack.blue.url, user: 'cutover' });
    try {
      const stats = await cutover.clusterStats();
      return {
        clusterWide: stats.runningQueries + stats.blockedQueries + stats.queuedQueries,
        visible: (await cutover.activeQueries()).map((query) => query.queryId),
      };
    } finally {
      await cutover.close();
    }
  }

  it('Trino with file-based access control shows cutover only its own queries in /v1/query (403 on another user’s), while /ui/api/stats counts them all', async () => {
    try {
      const query = await startBlockedQuery(real.stack.blue.url, OTHER_USER);
      try {
        const seen = await cutoverSees();
        assert.equal(seen.clusterWide, 1, 'the cluster stats count the other user’s query');
        assert.deepEqual(seen.visible, [], 'cutover’s /v1/query does not show it');
        const asCutover = await fetch(`${real.stack.blue.url}/v1/query/${query.id}`, {
          headers: { 'x-trino-user': 'cutover' },
        });
        assert.equal(asCutover.status, 403);
        const asOwner = (await (
          await fetch(`${real.stack.blue.url}/v1/query`, { headers: { 'x-trino-user': OTHER_USER } })
        ).json()) as { queryId: string }[];
        assert.ok(
          asOwner.some((listed) => listed.queryId === query.id),
          'its owner sees it',
        );
      } finally {
        await query.cancel();
      }
    } catch (error) {
      real.markFailed();
      throw error;
    }
  });

  it('the preflight refuses the upgrade while another user’s query runs on blue, naming the right cutover lacks; the gateway is unchanged', async () => {
    let handle: WorkflowHandle | undefined;
    try {
      await real.gateway.upsertBackend({ name: BLUE, proxyTo: real.stack.blue.url, active: true, routingGroup: GROUP });
      await real.gateway.deleteBackend(GREEN);
      const query = await startBlockedQuery(real.stack.blue.url, OTHER_USER);
      try {
        handle = await startUpgrade(
          real.env.client,
          realPlan(real.stack.gateway.url, real.stack.green.url, real.stack.green.version),
          { startedBy: 'test:real' },
        );
        const status = await waitForStatus(
          handle,
          (s) => s.phase === 'FAILED' || s.awaitingApproval,
          'the upgrade ends or awaits approval',
          120_000,
        );
        progress(`preflight: ${status.error}`);
        assert.equal(status.phase, 'FAILED');
        assert.match(
          status.error ?? '',
          new RegExp(
            `^preflight failed, nothing was changed: Trino user cutover cannot see every query on blue backend ${BLUE}`,
          ),
        );
        assert.match(status.error ?? '', /must let cutover view queries owned by other users/);
        assert.match(status.error ?? '', /\{"user": "cutover", "allow": \["execute", "view"\]\}/);
      } finally {
        await query.cancel();
      }
      const backends = (await real.gateway.listBackends()).map((b) => [b.name, b.active, b.routingGroup]);
      assert.deepEqual(backends, [[BLUE, true, GROUP]], 'the gateway lists blue alone, active, as before');
    } catch (error) {
      real.markFailed();
      throw error;
    } finally {
      // The run may end between the describe and the terminate: that is no failure of the test.
      if ((await handle?.describe())?.status.name === 'RUNNING')
        await handle?.terminate('test over').catch((error: unknown) => {
          if (!(error instanceof WorkflowNotFoundError)) throw error;
        });
    }
  });

  it('the drain does not count blue drained while another user’s query runs there, and does once it is gone', async () => {
    try {
      const input: DrainInput = {
        backends: [{ name: BLUE, proxyTo: real.stack.blue.url }],
        interval: '500ms',
        resultGrace: '0s',
      };
      const query = await startBlockedQuery(real.stack.blue.url, OTHER_USER);
      let early: DrainResult;
      try {
        early = await drain({ ...input, timeout: '3s' });
      } finally {
        await query.cancel();
      }
      assert.deepEqual([early.drained, early.remaining], [false, 1], 'not drained while the query runs');
      await until('the cancelled query is gone', async () => (await cutoverSees()).clusterWide === 0, 30_000, 250);
      const drained = await drain({ ...input, timeout: '30s' });
      assert.equal(drained.drained, true, 'drained once nothing runs');
    } catch (error) {
      real.markFailed();
      throw error;
    }
  });
});
