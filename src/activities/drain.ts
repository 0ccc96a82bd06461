import { log } from '@temporalio/activity';
import { IntegrationError } from '../integrations/errors';
import { durationMs } from '../plan/duration';
import { pollUntil } from './poll';
import type { ActivityDeps, BackendRef, DrainInput, DrainResult } from './types';

/** Draining: the backends are already deactivated; their running and queued queries finish where they run. */
export function drainActivities(deps: ActivityDeps) {
  return {
    /** Polls each coordinator until no query is in an active state, heartbeating the count. */
    async drainBackends(input: DrainInput): Promise<DrainResult> {
      let remaining = 0;
      /** Since when (epoch ms) each backend has been unreachable in this attempt. */
      const unreachable: Record<string, number> = {};
      const gone = new Set<string>();
      /** Active queries on one backend; a coordinator unreachable for `unreachableFor` has none left. */
      const activeOn = async (backend: BackendRef): Promise<number> => {
        if (gone.has(backend.name)) return 0;
        try {
          const active = (await deps.trino(backend.proxyTo).activeQueries()).length;
          delete unreachable[backend.name];
          return active;
        } catch (error) {
          const down = error instanceof IntegrationError && error.retryable && error.status === undefined;
          if (!down || input.unreachableFor === undefined) throw error;
          unreachable[backend.name] ??= Date.now();
          if (Date.now() - unreachable[backend.name] < durationMs(input.unreachableFor)) throw error;
          log.warn('coordinator unreachable: its queries cannot run any more, counted as drained', {
            backend: backend.name,
            for: input.unreachableFor,
          });
          gone.add(backend.name);
          return 0;
        }
      };
      const outcome = await pollUntil<true>({
        intervalMs: durationMs(input.interval),
        timeoutMs: input.timeout === undefined ? undefined : durationMs(input.timeout),
        // Deactivated backends are polled on their own coordinators, not through the gateway.
        unreachableMeansNotYet: true,
        check: async () => {
          const counts = await Promise.all(
            input.backends.map(async (backend) => ({ name: backend.name, active: await activeOn(backend) })),
          );
          remaining = counts.reduce((sum, count) => sum + count.active, 0);
          if (remaining === 0) return { done: true, value: true };
          const busy = counts.filter((count) => count.active > 0).map((count) => `${count.active} on ${count.name}`);
          return {
            done: false,
            observation: `${remaining} queries still active (${busy.join(', ')})`,
            state: { remaining },
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
