import { ApplicationFailure, sleep } from '@temporalio/activity';
import { IntegrationError } from '../integrations/errors';
import { ACTIVE_QUERY_STATES, type ClusterStats, type TrinoClusterApi } from '../integrations/trino/types';
import type { ActivityDeps, BackendRef, CheckQueryVisibilityInput } from './types';

/**
 * What one coordinator says about its queries, from two sources because neither sees them all:
 * `/ui/api/stats` counts every user's queries but only the QUEUED and RUNNING ones, and
 * `/v1/query` lists every state but only the queries Trino's access control lets cutover's user view.
 */
export interface CoordinatorQueries {
  /** Running (blocked included) and queued queries of every user, from `/ui/api/stats`. */
  clusterWide: number;
  /** Queries in an active state among those `/v1/query` shows cutover's user. */
  visible: number;
  /** When the latest ended query of `/v1/query` ended (epoch ms; 0 if none). */
  lastEndedAt: number;
}

/** Both sources of one coordinator; either failing fails the read (a count that could not be read is not 0). */
export async function readCoordinatorQueries(trino: TrinoClusterApi): Promise<CoordinatorQueries> {
  const [stats, queries] = await Promise.all([trino.clusterStats(), trino.listQueries()]);
  const ended = queries.filter((query) => !ACTIVE_QUERY_STATES.has(query.state));
  return {
    clusterWide: clusterWideOf(stats),
    visible: queries.length - ended.length,
    lastEndedAt: Math.max(0, ...ended.map((query) => Date.parse(query.endTime ?? '') || 0)),
  };
}

/** Queries still active on the coordinator: as many as the source that sees more of them counts. */
export function activeOf(queries: CoordinatorQueries): number {
  return Math.max(queries.clusterWide, queries.visible);
}

/** `3 (Trino's cluster stats count 3 running or queued, cutover's /v1/query shows 0)`, or just the number when both agree. */
export function describeActive(queries: CoordinatorQueries, user: string): string {
  const active = activeOf(queries);
  if (queries.clusterWide === queries.visible) return String(active);
  return `${active} (Trino's cluster stats count ${queries.clusterWide} running or queued, ${user}'s /v1/query shows ${queries.visible} active)`;
}

/** A network failure (no HTTP answer at all): the coordinator is down or unreachable. */
export function isUnreachable(error: unknown): error is IntegrationError {
  return error instanceof IntegrationError && error.retryable && error.status === undefined;
}

function clusterWideOf(stats: ClusterStats): number {
  return stats.runningQueries + stats.blockedQueries + stats.queuedQueries;
}

/** Samples per coordinator before the preflight concludes that cutover's user cannot see every query. */
const VISIBILITY_SAMPLES = 3;
const VISIBILITY_SAMPLE_SPACING_MS = 1_000;

/** Activities that ask coordinators what cutover can see of their queries. */
export function coordinatorQueryActivities(deps: ActivityDeps) {
  return {
    /**
     * Refuses the upgrade when Trino's access control hides other users' queries from cutover on a
     * blue coordinator: the drain would then see blue idle while those queries run. There is no API
     * that says what a user may view, so each coordinator is sampled: the cluster stats count every
     * user's running and queued queries, `/v1/query` only the visible ones. A sample reads the stats
     * before and after the list and keeps the smaller count, so a query counted there was active
     * while the list was read; it shows the gap only if queries counted there are missing from the
     * list. The gap in every one of VISIBILITY_SAMPLES samples refuses; the first sample without
     * it ends the check. An idle coordinator cannot show the gap: the drain then still counts every
     * user's queries through the cluster stats, which is what keeps it safe.
     */
    async checkQueryVisibility(input: CheckQueryVisibilityInput): Promise<void> {
      await Promise.all(input.backends.map((backend) => checkVisibilityOn(deps.trino(backend.proxyTo), backend)));
    },
  };
}

async function checkVisibilityOn(trino: TrinoClusterApi, backend: BackendRef): Promise<void> {
  const gaps: string[] = [];
  for (let sample = 1; sample <= VISIBILITY_SAMPLES; sample++) {
    const before = clusterWideOf(await statsOf(trino, backend));
    const visible = (await trino.activeQueries()).length;
    const counted = Math.min(before, clusterWideOf(await statsOf(trino, backend)));
    if (counted <= visible) return;
    gaps.push(`${counted} vs ${visible}`);
    if (sample < VISIBILITY_SAMPLES) await sleep(VISIBILITY_SAMPLE_SPACING_MS);
  }
  const user = trino.user;
  throw ApplicationFailure.nonRetryable(
    `Trino user ${user} cannot see every query on blue backend ${backend.name} (${backend.proxyTo}): in ${VISIBILITY_SAMPLES} samples ` +
      `Trino's cluster stats (/ui/api/stats) counted more running or queued queries than ${user}'s /v1/query shows ` +
      `(${gaps.join(', ')}). Trino's access control must let ${user} view queries owned by other users ` +
      `(file-based access control: a query rule such as {"user": "${user}", "allow": ["execute", "view"]} before any rule that matches ${user}; ` +
      `other systems: the right to view other users' queries, ViewQueryOwnedBy); without it cutover cannot tell which queries still run on blue.`,
    'QueriesNotVisible',
  );
}

/** The cluster stats, or a refusal that says why cutover needs them when the coordinator refuses them. */
async function statsOf(trino: TrinoClusterApi, backend: BackendRef): Promise<ClusterStats> {
  try {
    return await trino.clusterStats();
  } catch (error) {
    if (!(error instanceof IntegrationError) || error.retryable) throw error;
    throw ApplicationFailure.nonRetryable(
      `cutover cannot read Trino's cluster stats (/ui/api/stats) on blue backend ${backend.name} (${backend.proxyTo}): ${error.message}. ` +
        `Trino user ${trino.user} needs Trino's web UI (a UI login) there: /ui/api/stats is the only count of every user's ` +
        `running and queued queries, and the drain waits for them`,
      'ClusterStatsUnreadable',
    );
  }
}
