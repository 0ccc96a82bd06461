import { userInfo } from 'node:os';
import { WorkflowNotFoundError } from '@temporalio/client';
import {
  blueSourceLine,
  clusterTable,
  newErrorsLine,
  shareLine,
  verdictLine,
  type RoutingView,
} from '../analysis/routing-view';
import { PlanError } from '../plan/load';
import type { Acknowledgement, CanaryMeasurement, TimelineEntry, UpgradeStatus } from '../workflows/messages';
import { connectFromEnv } from './connection';
import { RefusedError } from './upgrades';

/** Exit codes of every verb: success, refused or failed action, bad usage or invalid plan. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Bad usage found after commander parsed the line (exit 2). */
export class UsageError extends Error {}

/** Options every verb takes. */
export interface JsonOption {
  json?: boolean;
}

export type Temporal = Awaited<ReturnType<typeof connectFromEnv>>;

/** Who is acting: `--by`, else the login name. */
export function operatorName(by?: string): string {
  if (by) return by;
  if (process.env.USER) return process.env.USER;
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** One JSON document on stdout (pretty for single answers, one line for streams). */
export function printJson(value: unknown, oneLine = false): void {
  process.stdout.write(`${JSON.stringify(value, null, oneLine ? undefined : 2)}\n`);
}

export function printLines(...lines: string[]): void {
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Connects with @temporalio/envconfig, runs `body`, and always closes the connection. */
export async function withTemporal<T>(body: (temporal: Temporal) => Promise<T>): Promise<T> {
  const temporal = await connectFromEnv();
  try {
    return await body(temporal);
  } finally {
    await temporal.close().catch(() => undefined);
  }
}

/** Prints an error (plain on stderr, or `{"error"}` on stdout with --json) and returns its exit code. */
export function reportError(error: unknown, json: boolean): number {
  if (error instanceof PlanError) {
    if (json) printJson({ error: `${error.source} is not a valid upgrade plan`, problems: error.problems });
    else
      process.stderr.write(
        `cutover: ${error.message}\nnothing was started; fix the plan and run \`cutover start\` again\n`,
      );
    return EXIT_USAGE;
  }
  const message = errorMessage(error);
  if (json) printJson({ error: message });
  else process.stderr.write(`cutover: ${message}\n`);
  return error instanceof UsageError ? EXIT_USAGE : EXIT_FAILED;
}

function errorMessage(error: unknown): string {
  if (error instanceof WorkflowNotFoundError) return noSuchUpgrade(error.workflowId);
  if (error instanceof RefusedError || error instanceof UsageError) return error.message;
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error && cause.message && !error.message.includes(cause.message)
      ? `${error.message}: ${cause.message}`
      : error.message;
  }
  return String(error);
}

export function noSuchUpgrade(id: string): string {
  return `no upgrade with id ${id}; list them with \`cutover list --all\``;
}

/** Runs a verb's body and turns its result or error into `process.exitCode` (so connections close normally). */
export async function runVerb(options: JsonOption, body: () => Promise<number | void>): Promise<void> {
  try {
    process.exitCode = (await body()) ?? EXIT_OK;
  } catch (error) {
    process.exitCode = reportError(error, options.json === true);
  }
}

/** Local wall-clock time of an ISO timestamp, `HH:MM:SS`. */
export function clock(iso: string | Date | undefined): string {
  if (!iso) return '--:--:--';
  const date = iso instanceof Date ? iso : new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toTimeString().slice(0, 8);
}

export function timelineLine(entry: TimelineEntry): string {
  return `${clock(entry.at)}  ${entry.phase.padEnd(17)}  ${entry.message}`;
}

export function trafficSplit(percent: number): string {
  return `${100 - percent}% blue / ${percent}% green`;
}

/** `step 4/8: description` with a 1-based index that never passes the total. */
export function stepText(status: UpgradeStatus): string {
  const { index, total, description } = status.step;
  return `step ${Math.min(index + 1, total)}/${total}: ${description}`;
}

export function approveHint(id: string): string {
  return `approve with \`cutover approve ${id}\`, or abort with \`cutover rollback ${id} --reason "..."\``;
}

/** The phase an upgrade ended in decides the exit code of `watch` and `start --wait`. */
export function exitCodeOfPhase(phase: string | undefined): number {
  return phase === 'SUCCEEDED' ? EXIT_OK : EXIT_FAILED;
}

/** Fixed-width table with a header row. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/**
 * Prints the workflow's answer to an operator update; an answer starting with "ignored:" exits 1.
 * `commands` is what precedes `status ID` and `watch ID` in the hints (`cutover fleet` for a fleet).
 */
export function printAcknowledgement(
  id: string,
  verb: string,
  acknowledgement: Acknowledgement,
  options: JsonOption,
  commands = 'cutover',
): number {
  const ignored = acknowledgement.message.startsWith('ignored:');
  if (options.json) printJson({ id, verb, ...acknowledgement, ignored });
  else if (ignored)
    process.stderr.write(`cutover: ${verb} ${id} was ${acknowledgement.message}; see \`${commands} status ${id}\`\n`);
  else printLines(`${id}: ${acknowledgement.message}`, `  follow it with \`${commands} watch ${id}\``);
  return ignored ? EXIT_FAILED : EXIT_OK;
}

/** One canary analysis sample on a line: when, finished / failed and queued queries, and the problem if any. */
export function sampleText(sample: CanaryMeasurement): string {
  return (
    `${clock(sample.at)}: ${sample.finished} finished / ${sample.failed} failed (${(sample.errorRate * 100).toFixed(1)}%), ${sample.queued ?? '?'} queued` +
    (sample.problem ? ` - ${sample.problem}` : '') +
    (sample.verdict === 'inconclusive' ? ` - inconclusive: ${sample.inconclusive}; the bake clock holds` : '')
  );
}

/**
 * The routing of the latest analysis sample: its verdict, green's share of new queries against the
 * share intended, and blue and green side by side (the first line is the caller's to label).
 */
export function routingLines(view: RoutingView): string[] {
  const from = view.source === 'live' ? 'analysis heartbeat' : 'last recorded sample';
  return [
    `sample ${clock(view.at)} (${from}): ${verdictLine(view)}`,
    shareLine(view),
    ...[newErrorsLine(view), blueSourceLine(view)].filter((line): line is string => line !== undefined),
    ...clusterTable(view),
  ];
}
