import type { ShadowEngine } from '../../src/activities/types';
import type { ShadowComparison, ShadowRun } from '../../src/shadow/types';

/**
 * A stand-in for the shadow engine (src/shadow/, built on its own branch) until it lands: it runs
 * each query for real through the client protocol on the sandbox coordinator it is given (so the
 * coordinators' `/v1/query` shows every run, as which user), and compares columns, then rows as
 * JSON. `random()` is non-deterministic. Nothing more: the real comparison is the engine's.
 */
export const fakeShadowEngine: ShadowEngine = {
  async run(client, sql, options): Promise<ShadowRun> {
    const startedAt = Date.now();
    const result = await client.execute(sql, {
      user: options.user,
      ...(options.source ? { source: options.source } : {}),
      maxRows: options.rowCap,
      timeoutMs: options.timeoutMs,
      signal: options.signal,
    });
    return {
      queryId: result.id,
      columns: result.columns,
      rows: result.rows,
      rowCount: result.rows.length,
      truncated: false,
      ...(result.error ? { error: result.error } : {}),
      elapsedMs: Date.now() - startedAt,
    };
  },

  compare(_sql, blue, green): ShadowComparison {
    if (JSON.stringify(blue.columns) !== JSON.stringify(green.columns))
      return { verdict: 'mismatch', kind: 'columns', reason: 'columns differ' };
    if (JSON.stringify(blue.rows) !== JSON.stringify(green.rows))
      return {
        verdict: 'mismatch',
        kind: 'rows',
        reason: 'rows differ',
        firstDifferences: [{ blue: blue.rows?.[0], green: green.rows?.[0] }],
      };
    return { verdict: 'match' };
  },

  isNondeterministic: (sql) => (/random\(\)/i.test(sql) ? 'calls random()' : undefined),
};
