import { createHash } from 'node:crypto';
import { activityInfo, Context, heartbeat, log } from '@temporalio/activity';
import { IntegrationError } from '../integrations/errors';
import { checkReadOnly } from '../integrations/trino/read-only';
import { durationMs } from '../plan/duration';
import {
  SHADOW_MISMATCHES_LISTED,
  SHADOW_ROWS_LISTED,
  SHADOW_USERS_LISTED,
  SHADOW_VALUE_CHARS,
  type ShadowMismatch,
  type ShadowReport,
} from '../shadow-report';
import { QueryFileRefused, readQueryFile, splitQueryFile, type FileStatement } from '../shadow/query-file';
import type { ShadowComparison, ShadowRun } from '../shadow/types';
import type { ActivityDeps, ShadowGreenInput } from './types';

/** Rows of the gateway's history read per page, and at most how many pages to find the sample in. */
const HISTORY_PAGE = 100;
const HISTORY_PAGES = 20;
/** How often a running step heartbeats when no pair finished meanwhile. */
const HEARTBEAT_EVERY_MS = 5_000;

/** One query of the sample: where it came from and who ran it. */
interface SampledQuery {
  /** The query's id in the gateway's history, `plan:<i>` for the plan's own queries, `file:<i>` for the query file's. */
  ref: string;
  sql: string;
  user?: string;
  source?: string;
}

/** Marks of the sample's pairs in the heartbeat: one character each. */
const PENDING = '.';
const MARK = { match: 'm', mismatch: 'x', skipped: 's', slow: 'l' } as const;

/** What the step heartbeats: the sample, which pairs finished and how, and the bounded report so far. */
interface ShadowProgress {
  startedAt: number;
  /** `ref` of each query of the sample, in order: a retried attempt runs the same sample. */
  sample: string[];
  /** One MARK (or PENDING) per query of the sample. */
  marks: string;
  fromPlan: number;
  fromHistory: number;
  fromFile?: number;
  /** sha256 of the query file the sample was taken from: a retried attempt does not run a changed file's statements. */
  fileSha256?: string;
  notReadOnly: number;
  /** Why the history was not sampled (the gateway user cannot see other users' queries). */
  historyRestricted?: string;
  impersonationRefused?: string[];
  skippedReasons: Record<string, number>;
  mismatches: ShadowMismatch[];
  unlisted: number;
}

/** Shadow validation: the sample's queries run on blue and on green at their own addresses and compared. */
export function shadowActivities(deps: ActivityDeps) {
  return {
    /**
     * Runs the sample's pairs `concurrency` at a time, heartbeating after each and every few seconds;
     * a retried attempt runs only the pairs its predecessor did not finish. Returns a bounded report;
     * full query texts of mismatches go to the worker's log only (unless the policy allows them in history).
     */
    async shadowGreen(input: ShadowGreenInput): Promise<ShadowReport> {
      const engine = deps.shadowEngine;
      if (!engine)
        throw new IntegrationError(
          'this worker has no shadow-validation engine (src/shadow/); run a worker of a release that has one',
          'ShadowEngineMissing',
          false,
        );
      const bounds = deps.policy()?.bounds;
      const textsInHistory = bounds?.shadowQueryTextsInHistory ?? false;
      const settings = input.shadow;
      const resumed = activityInfo().heartbeatDetails as ShadowProgress | undefined;
      // A fresh attempt samples and keeps what it read; a resumed one reads its sample's texts again.
      const { progress, queries } = resumed?.sample
        ? { progress: resumed, queries: await resolveSample(deps, input, resumed) }
        : await sampleQueries(deps, input);
      // Pair i runs on blue i mod n: the same blue on a retried attempt, `concurrency` pairs at a time on each.
      const blues = (input.blues?.length ? input.blues : [{ name: 'blue', proxyTo: input.blueUrl }]).map((backend) => ({
        name: backend.name,
        client: deps.trino(backend.proxyTo),
      }));
      const green = deps.trino(input.greenUrl);
      const signal = Context.current().cancellationSignal;
      const runOptions = (query: SampledQuery) => ({
        user: query.user ?? green.user,
        ...(query.source ? { source: query.source } : {}),
        rowCap: settings.rowCap,
        timeoutMs: durationMs(settings.queryTimeout),
        signal,
      });
      const compareOptions = {
        floatTolerance: settings.floatTolerance,
        maxDifferences: SHADOW_ROWS_LISTED,
        ...(settings.maxLatencyRatio === undefined ? {} : { maxLatencyRatio: settings.maxLatencyRatio }),
      };
      const beat = () => heartbeat(progress);
      beat();
      const ticker = setInterval(beat, HEARTBEAT_EVERY_MS);

      const record = (
        index: number,
        comparison: ShadowComparison,
        runs: { blue?: ShadowRun; green?: ShadowRun; blueName?: string },
      ) => {
        const query = queries[index];
        progress.marks = `${progress.marks.slice(0, index)}${MARK[comparison.verdict]}${progress.marks.slice(index + 1)}`;
        if (comparison.verdict === 'skipped') {
          const reason = comparison.reason ?? comparison.kind ?? 'skipped';
          progress.skippedReasons[reason] = (progress.skippedReasons[reason] ?? 0) + 1;
        }
        if (comparison.verdict === 'mismatch' || comparison.verdict === 'slow') {
          const mismatch = mismatchOf(index, query, comparison, runs, textsInHistory, input.shadow.queryFile);
          log.warn('shadow validation: green disagrees with blue', { ...mismatch, text: query?.sql });
          if (progress.mismatches.length < SHADOW_MISMATCHES_LISTED) progress.mismatches.push(mismatch);
          else progress.unlisted++;
        }
        beat();
      };

      const runPair = async (index: number) => {
        const query = queries[index];
        if (!query)
          return record(
            index,
            {
              verdict: 'skipped',
              reason:
                'gone since the sample was taken (from the gateway history, or a changed query file; retried attempt)',
            },
            {},
          );
        const nondeterministic = engine.isNondeterministic(query.sql);
        if (nondeterministic)
          return record(index, { verdict: 'skipped', kind: 'nondeterministic', reason: nondeterministic }, {});
        const { name: blueName, client: blue } = blues[index % blues.length];
        const options = runOptions(query);
        const onBlue = await engine.run(blue, query.sql, options);
        const onGreen = await engine.run(green, query.sql, options);
        const refused = impersonationRefusal(options.user, onBlue, onGreen);
        if (refused === 'both') {
          noteRefusedUser(progress, options.user);
          return record(index, { verdict: 'skipped', reason: IMPERSONATION_REFUSED }, {});
        }
        let comparison = engine.compare(query.sql, onBlue, onGreen, compareOptions);
        if (refused)
          comparison = {
            ...comparison,
            reason: `only ${refused} refused to let the worker's Trino user impersonate ${options.user} (their access control differs)`,
          };
        // Rows that differ may differ between two runs on blue as well: run it there again to tell.
        if (comparison.verdict === 'mismatch' && (comparison.kind === 'rows' || comparison.kind === 'rowCount')) {
          const again = await engine.run(blue, query.sql, options);
          comparison = engine.compare(query.sql, onBlue, onGreen, compareOptions, again);
        }
        record(index, comparison, { blue: onBlue, green: onGreen, blueName });
      };

      const pendingOn = blues.map((_blue, which) =>
        [...progress.marks].flatMap((mark, index) =>
          mark === PENDING && index % blues.length === which ? [index] : [],
        ),
      );
      const worker = async (pending: number[]) => {
        for (let next = pending.shift(); next !== undefined && !signal.aborted; next = pending.shift())
          await runPair(next);
      };
      try {
        await Promise.race([
          Promise.all(
            pendingOn.flatMap((pending) =>
              Array.from({ length: Math.min(settings.concurrency, pending.length) }, () => worker(pending)),
            ),
          ),
          Context.current().cancelled,
        ]);
      } finally {
        clearInterval(ticker);
      }
      return reportOf(progress, textsInHistory, Date.now() - progress.startedAt, settings.minQueries ?? 1);
    },
  };
}

/**
 * The sample: the plan's queries first, then the query file's read-only statements, then the
 * group's read-only history (newest first); each text once.
 */
async function sampleQueries(
  deps: ActivityDeps,
  input: ShadowGreenInput,
): Promise<{ progress: ShadowProgress; queries: SampledQuery[] }> {
  const { shadow } = input;
  const sample: string[] = [];
  const queries: SampledQuery[] = [];
  const seen = new Set<string>();
  if (shadow.source.includes('queries'))
    for (const [index, sql] of shadow.queries.entries()) {
      if (sample.length >= shadow.sample) break;
      if (seen.has(sql.trim())) continue;
      seen.add(sql.trim());
      sample.push(`plan:${index}`);
      queries.push({ ref: `plan:${index}`, sql: readOnlyStatement(sql) });
    }
  const fromPlan = sample.length;
  let notReadOnly = 0;
  const file = shadow.source.includes('file') ? await queryFile(deps, input) : undefined;
  for (const [index, statement] of (file?.statements ?? []).entries()) {
    if (sample.length >= shadow.sample) break;
    if (seen.has(statement.sql)) continue;
    seen.add(statement.sql);
    if (!checkReadOnly(statement.sql).readOnly) {
      notReadOnly++;
      continue;
    }
    sample.push(`file:${index}`);
    queries.push({
      ref: `file:${index}`,
      sql: readOnlyStatement(statement.sql),
      ...(statement.user ? { user: statement.user } : {}),
    });
  }
  const fromFile = sample.length - fromPlan;
  const historyRestricted = shadow.source.includes('history') ? await historyRestriction(deps, input) : undefined;
  if (historyRestricted) log.warn(`shadow validation: ${historyRestricted}`);
  if (shadow.source.includes('history') && !historyRestricted && sample.length < shadow.sample) {
    for (const row of await groupHistory(deps, input)) {
      if (sample.length >= shadow.sample) break;
      if (seen.has(row.queryText.trim())) continue;
      seen.add(row.queryText.trim());
      if (!checkReadOnly(row.queryText).readOnly) {
        notReadOnly++;
        continue;
      }
      sample.push(row.queryId);
      queries.push({ ref: row.queryId, sql: readOnlyStatement(row.queryText), user: row.user, source: row.source });
    }
  }
  const progress: ShadowProgress = {
    startedAt: Date.now(),
    sample,
    marks: PENDING.repeat(sample.length),
    fromPlan,
    fromHistory: sample.length - fromPlan - fromFile,
    fromFile,
    ...(file ? { fileSha256: file.sha256 } : {}),
    notReadOnly,
    ...(historyRestricted ? { historyRestricted } : {}),
    skippedReasons: {},
    mismatches: [],
    unlisted: 0,
  };
  return { progress, queries };
}

/** The sample's queries, in its order; a history query gone from the gateway's history meanwhile is undefined. */
async function resolveSample(
  deps: ActivityDeps,
  input: ShadowGreenInput,
  progress: ShadowProgress,
): Promise<(SampledQuery | undefined)[]> {
  const fromHistory = progress.sample.some((ref) => !ref.startsWith('plan:') && !ref.startsWith('file:'));
  const rows = new Map((fromHistory ? await groupHistory(deps, input) : []).map((row) => [row.queryId, row]));
  const file = progress.fileSha256 === undefined ? undefined : await queryFile(deps, input);
  // A file changed since the sample was taken: its statements are not the ones sampled.
  const statements = file?.sha256 === progress.fileSha256 ? (file?.statements ?? []) : [];
  return progress.sample.map((ref) => {
    if (ref.startsWith('plan:')) {
      const sql = input.shadow.queries[Number(ref.slice(5))];
      return sql === undefined ? undefined : { ref, sql: readOnlyStatement(sql) };
    }
    if (ref.startsWith('file:')) {
      const statement = statements[Number(ref.slice(5))];
      return (
        statement && { ref, sql: readOnlyStatement(statement.sql), ...(statement.user ? { user: statement.user } : {}) }
      );
    }
    const row = rows.get(ref);
    return row && { ref, sql: readOnlyStatement(row.queryText), user: row.user, source: row.source };
  });
}

/**
 * The plan's query file, read from the worker policy's query directory (refused without one, or
 * outside it): its statements and the sha256 of its text.
 */
async function queryFile(
  deps: ActivityDeps,
  input: ShadowGreenInput,
): Promise<{ statements: FileStatement[]; sha256: string }> {
  const name = input.shadow.queryFile;
  const directory = deps.policy()?.shadow.queryDirectory;
  if (name === undefined) return { statements: [], sha256: '' };
  if (directory === undefined)
    throw new IntegrationError(
      `shadow.queryFile ${name}: this worker's policy allows no query files (shadow.queryDirectory is not set)`,
      'ShadowQueryFileRefused',
      false,
    );
  try {
    const text = await readQueryFile(directory, name);
    return { statements: splitQueryFile(text), sha256: createHash('sha256').update(text).digest('hex') };
  } catch (error) {
    if (error instanceof QueryFileRefused)
      throw new IntegrationError(`shadow.queryFile: ${error.message}`, 'ShadowQueryFileRefused', false);
    throw error;
  }
}

/** Skip reason of a query Trino refused to run as its original user on both sides. */
const IMPERSONATION_REFUSED = "Trino refused to let the worker's Trino user impersonate the original user";

/** Which side (if any) failed the query because the worker's user may not impersonate `user` (Trino's PERMISSION_DENIED). */
function impersonationRefusal(user: string, blue: ShadowRun, green: ShadowRun): 'both' | 'blue' | 'green' | undefined {
  const refused = (run: ShadowRun) =>
    run.error?.errorName === 'PERMISSION_DENIED' && run.error.message.includes(`cannot impersonate user ${user}`);
  if (refused(blue) && refused(green)) return 'both';
  if (refused(blue)) return 'blue';
  if (refused(green)) return 'green';
  return undefined;
}

function noteRefusedUser(progress: ShadowProgress, user: string): void {
  const users = (progress.impersonationRefused ??= []);
  if (!users.includes(user) && users.length < SHADOW_USERS_LISTED) users.push(user);
}

/** The statement to send (trailing semicolons dropped), for a text already checked read-only. */
function readOnlyStatement(sql: string): string {
  const verdict = checkReadOnly(sql);
  return verdict.readOnly ? verdict.statement : sql;
}

/**
 * Why the gateway's history cannot be sampled, if it cannot: its findQueryHistory shows a user
 * without the ADMIN role only that user's own queries, so the group's queries would silently be
 * cutover's own.
 */
async function historyRestriction(deps: ActivityDeps, input: ShadowGreenInput): Promise<string | undefined> {
  if (await deps.gateway(input.gateway).hasAdminRole()) return undefined;
  return "the history was not sampled: the gateway user cutover authenticates as lacks the ADMIN role, so the gateway's query history shows it only its own queries; grant it ADMIN in the gateway's authorization section, or replay shadow.queries or a shadow.queryFile";
}

/** The routing group's submissions in the gateway's history, newest first. */
async function groupHistory(deps: ActivityDeps, input: ShadowGreenInput) {
  const gateway = deps.gateway(input.gateway);
  const rows = [];
  for (let page = 1; page <= HISTORY_PAGES; page++) {
    const found = await gateway.findQueryHistory(page, HISTORY_PAGE);
    rows.push(...found.rows.filter((row) => row.routingGroup === input.routingGroup && row.queryText));
    if (found.rows.length < HISTORY_PAGE || page * HISTORY_PAGE >= found.total) break;
    if (rows.length >= input.shadow.sample * 4) break;
  }
  return rows;
}

function mismatchOf(
  index: number,
  query: SampledQuery | undefined,
  comparison: ShadowComparison,
  runs: { blue?: ShadowRun; green?: ShadowRun; blueName?: string },
  textsInHistory: boolean,
  queryFileName: string | undefined,
): ShadowMismatch {
  const sql = query?.sql ?? '';
  const errorName = (run?: ShadowRun) => run?.error && (run.error.errorName ?? run.error.errorType ?? 'error');
  return {
    index,
    sha256: createHash('sha256').update(sql).digest('hex'),
    ...(textsInHistory ? { text: sql } : {}),
    origin: originOf(query?.ref, queryFileName),
    ...(runs.blueName ? { blue: runs.blueName } : {}),
    ...(query?.user ? { user: query.user } : {}),
    ...(query?.source ? { source: query.source } : {}),
    verdict: comparison.verdict === 'slow' ? 'slow' : 'mismatch',
    ...(comparison.kind ? { kind: comparison.kind } : {}),
    ...(comparison.reason ? { reason: comparison.reason.slice(0, 300) } : {}),
    ...(runs.blue?.queryId ? { blueQueryId: runs.blue.queryId } : {}),
    ...(runs.green?.queryId ? { greenQueryId: runs.green.queryId } : {}),
    ...(errorName(runs.blue) ? { blueError: errorName(runs.blue) } : {}),
    ...(errorName(runs.green) ? { greenError: errorName(runs.green) } : {}),
    ...(comparison.firstDifferences
      ? {
          firstDifferences: comparison.firstDifferences.slice(0, SHADOW_ROWS_LISTED).map((difference) => ({
            ...(difference.blue ? { blue: difference.blue.map(cell) } : {}),
            ...(difference.green ? { green: difference.green.map(cell) } : {}),
          })),
        }
      : {}),
    ...(comparison.latencyRatio === undefined ? {} : { latencyRatio: comparison.latencyRatio }),
  };
}

/** `plan`, `file nightly.sql #3` or `history <query id>`. */
function originOf(ref: string | undefined, queryFileName: string | undefined): string {
  if (ref?.startsWith('plan:')) return 'plan';
  if (ref?.startsWith('file:')) return `file ${queryFileName ?? '?'} #${Number(ref.slice(5)) + 1}`;
  return `history ${ref ?? '?'}`;
}

function cell(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? 'null');
  return text.length > SHADOW_VALUE_CHARS ? `${text.slice(0, SHADOW_VALUE_CHARS)}…` : text;
}

function reportOf(
  progress: ShadowProgress,
  textsInHistory: boolean,
  elapsedMs: number,
  minQueries: number,
): ShadowReport {
  const count = (mark: string) => [...progress.marks].filter((each) => each === mark).length;
  const compared = count(MARK.match) + count(MARK.mismatch) + count(MARK.slow);
  const inconclusive =
    compared < minQueries
      ? `${compared} of ${progress.sample.length} queries compared, fewer than shadow.minQueries ${minQueries}${
          progress.historyRestricted
            ? ' (the history was not sampled: its gateway user lacks ADMIN)'
            : progress.sample.length === 0
              ? ' (nothing to replay: no read-only query in the sources)'
              : ' (the others were skipped)'
        }`
      : undefined;
  return {
    queries: progress.sample.length,
    matched: count(MARK.match),
    mismatched: count(MARK.mismatch),
    skipped: count(MARK.skipped),
    slow: count(MARK.slow),
    fromPlan: progress.fromPlan,
    fromHistory: progress.fromHistory,
    ...(progress.fromFile ? { fromFile: progress.fromFile } : {}),
    notReadOnly: progress.notReadOnly,
    skippedReasons: Object.entries(progress.skippedReasons)
      .map(([reason, count]) => ({ reason, count }))
      .sort((a, b) => b.count - a.count)
      .slice(0, 5),
    mismatches: [...progress.mismatches].sort((a, b) => a.index - b.index),
    unlisted: progress.unlisted,
    ...(progress.impersonationRefused?.length ? { impersonationRefused: progress.impersonationRefused } : {}),
    ...(progress.historyRestricted ? { historyRestricted: progress.historyRestricted } : {}),
    ...(inconclusive ? { inconclusive } : {}),
    textsInHistory,
    elapsedMs,
  };
}
