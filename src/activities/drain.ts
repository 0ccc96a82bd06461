import { log } from '@temporalio/activity';
import { durationMs } from '../plan/duration';
import { activeOf, describeActive, isUnreachable, readCoordinatorQueries } from './coordinator-queries';
import { pollUntil, resumedProgress } from './poll';
import type { ActivityDeps, BackendRef, DrainInput, DrainResult } from './types';

/** What a drain heartbeats, so a retry keeps when the last query ended. */
interface DrainProgress {
  remaining: number;
  /** Last poll (epoch ms) that saw an active query. */
  lastActiveAt?: number;
  /** When (epoch ms) the last query ended, as far as the drain saw or the coordinators said. */
  lastEndedAt?: number;
}

/** Draining: the backends are already deactivated; their running and queued queries finish where they run. */
export function drainActivities(deps: ActivityDeps) {
  return {
    /**
     * Polls each coordinator until no query is active and `resultGrace` has passed since the last
     * one ended, heartbeating the count. Active counts every user's queries: Trino's cluster stats
     * (running and queued, whoever runs them) and the active queries of `/v1/query` (every state,
     * but only those access control lets cutover's user view), whichever counts more.
     */
    async drainBackends(input: DrainInput): Promise<DrainResult> {
      const graceMs = input.resultGrace === undefined ? 0 : durationMs(input.resultGrace);
      const progress: DrainProgress = { remaining: 0, ...(resumedProgress()?.state as DrainProgress | undefined) };
      let remaining = 0;
      /** Since when (epoch ms) each backend has been unreachable in this attempt. */
      const unreachable: Record<string, number> = {};
      const gone = new Set<string>();
      /**
       * Active queries on one backend and when its latest finished one ended (epoch ms, 0 if none
       * listed); a coordinator unreachable for `unreachableFor` has none left.
       */
      const activeOn = async (
        backend: BackendRef,
      ): Promise<{ active: number; lastEndedAt: number; described: string }> => {
        if (gone.has(backend.name)) return { active: 0, lastEndedAt: 0, described: '0' };
        const trino = deps.trino(backend.proxyTo);
        try {
          const queries = await readCoordinatorQueries(trino);
          delete unreachable[backend.name];
          return {
            active: activeOf(queries),
            lastEndedAt: queries.lastEndedAt,
            described: describeActive(queries, trino.user),
          };
        } catch (error) {
          if (!isUnreachable(error) || input.unreachableFor === undefined) throw error;
          unreachable[backend.name] ??= Date.now();
          if (Date.now() - unreachable[backend.name] < durationMs(input.unreachableFor)) throw error;
          log.warn('coordinator unreachable: its queries cannot run any more, counted as drained', {
            backend: backend.name,
            for: input.unreachableFor,
          });
          gone.add(backend.name);
          return { active: 0, lastEndedAt: 0, described: '0' };
        }
      };
      const outcome = await pollUntil<true>({
        intervalMs: durationMs(input.interval),
        timeoutMs: input.timeout === undefined ? undefined : durationMs(input.timeout) + graceMs,
        // Deactivated backends are polled on their own coordinators, not through the gateway.
        unreachableMeansNotYet: true,
        check: async () => {
          const counts = await Promise.all(
            input.backends.map(async (backend) => ({ name: backend.name, ...(await activeOn(backend)) })),
          );
          const now = Date.now();
          remaining = counts.reduce((sum, count) => sum + count.active, 0);
          progress.remaining = remaining;
          if (remaining > 0) {
            progress.lastActiveAt = now;
            const busy = counts
              .filter((count) => count.active > 0)
              .map((count) => `${count.described} on ${count.name}`);
            return {
              done: false,
              observation: `${remaining} queries still active (${busy.join(', ')})`,
              state: progress,
            };
          }
          // The last query seen active ended since the poll before this one: count its end as now.
          const seenEnding =
            progress.lastActiveAt !== undefined && progress.lastActiveAt >= (progress.lastEndedAt ?? 0);
          progress.lastEndedAt = Math.max(
            progress.lastEndedAt ?? 0,
            seenEnding ? now : 0,
            ...counts.map((count) => count.lastEndedAt),
          );
          const graceLeft = progress.lastEndedAt + graceMs - now;
          if (graceLeft <= 0) return { done: true, value: true };
          return {
            done: false,
            observation: `no query active; blue stays up ${Math.ceil(graceLeft / 1000)} s more for clients still fetching results (drain.resultGrace ${input.resultGrace})`,
            state: progress,
          };
        },
      });
      if (outcome.done) {
        log.info('drained', { backends: input.backends.map((backend) => backend.name), waitedMs: outcome.waitedMs });
        return { drained: true, remaining: 0, waitedMs: outcome.waitedMs };
      }
      return { drained: false, remaining, waitedMs: outcome.waitedMs };
    },
  };
}
