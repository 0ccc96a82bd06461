import { InvalidArgumentError, type Command } from 'commander';
import type { WorkflowExecutionInfo } from '@temporalio/client';
import {
  CutoverPhase,
  CutoverRoutingGroup,
  CutoverStrategy,
  CutoverTargetVersion,
  CutoverTrafficPercent,
} from '../../workflows/search-attributes';
import { printJson, printLines, runVerb, table, withTemporal, type JsonOption } from '../output';
import { RefusedError } from '../upgrades';
import { UPGRADE_WORKFLOW_TYPES } from './upgrade-handle';

interface ListOptions extends JsonOption {
  all?: boolean;
  group?: string;
  limit: number;
}

/** An upgrade as `cutover list` shows it. */
export interface UpgradeRow {
  id: string;
  runId: string;
  strategy?: string;
  routingGroup?: string;
  targetVersion?: string;
  phase?: string;
  trafficPercent?: number;
  startTime: string;
  closeTime?: string;
  status: string;
}

/** `cutover list`: running upgrades (or all of them), newest first, from Temporal's visibility store. */
export function registerList(program: Command): void {
  program
    .command('list')
    .description('list running upgrades (with --all, finished ones too), newest first')
    .option('--all', 'include finished upgrades')
    .option('--group <group>', 'only upgrades of this routing group', parseGroup)
    .option('--limit <n>', 'at most this many rows', parseLimit, 50)
    .option('--json', 'print the upgrades as a JSON array')
    .action((options: ListOptions) =>
      runVerb(options, () =>
        withTemporal(async ({ client }) => {
          const rows: UpgradeRow[] = [];
          try {
            for await (const execution of client.workflow.list({ query: listQuery(options) })) {
              rows.push(rowOf(execution));
              if (rows.length >= options.limit) break;
            }
          } catch (error) {
            throw explainListFailure(error);
          }
          if (options.json) return printJson(rows);
          if (!rows.length) {
            return printLines(
              `no ${options.all ? '' : 'running '}upgrades${options.group ? ` of routing group ${options.group}` : ''}${options.all ? '' : '; add --all to include finished ones'}`,
            );
          }
          printLines(upgradeTable(rows));
        }),
      ),
    );
}

/** The upgrades' table of `cutover list`. */
export function upgradeTable(rows: UpgradeRow[]): string {
  return table(
    ['ID', 'STRATEGY', 'GROUP', 'TARGET', 'PHASE', 'TRAFFIC', 'STARTED', 'STATUS'],
    rows.map((row) => [
      row.id,
      row.strategy ?? '-',
      row.routingGroup ?? '-',
      row.targetVersion ?? '-',
      row.phase ?? '-',
      row.trafficPercent === undefined ? '-' : `${row.trafficPercent}%`,
      localDateTime(row.startTime),
      row.status,
    ]),
  );
}

function listQuery(options: ListOptions): string {
  const clauses = [`WorkflowType IN (${UPGRADE_WORKFLOW_TYPES.map((type) => `'${type}'`).join(', ')})`];
  if (!options.all) clauses.push(`ExecutionStatus = 'Running'`);
  if (options.group) clauses.push(`${CutoverRoutingGroup.name} = '${options.group}'`);
  return clauses.join(' AND ');
}

/** An upgrade's row from its visibility record. */
export function rowOf(execution: WorkflowExecutionInfo): UpgradeRow {
  const attributes = execution.typedSearchAttributes;
  return {
    id: execution.workflowId,
    runId: execution.runId,
    strategy: attributes.get(CutoverStrategy),
    routingGroup: attributes.get(CutoverRoutingGroup),
    targetVersion: attributes.get(CutoverTargetVersion),
    phase: attributes.get(CutoverPhase),
    trafficPercent: attributes.get(CutoverTrafficPercent),
    startTime: execution.startTime.toISOString(),
    closeTime: execution.closeTime?.toISOString(),
    status: execution.status.name,
  };
}

/** A namespace without cutover's search attributes refuses the query: say how to register them. */
export function explainListFailure(error: unknown): unknown {
  const message = `${(error as Error)?.message ?? ''} ${(error as { cause?: Error })?.cause?.message ?? ''}`;
  if (/Cutover\w+|not defined|invalid query/i.test(message)) {
    return new RefusedError(
      `the namespace refused the list query (${message.trim()}); cutover's search attributes may be missing: \`cutover dev\` registers them, ` +
        'on another server run `temporal operator search-attribute create --name CutoverRoutingGroup --type Keyword` (and CutoverPhase, CutoverStrategy, CutoverTargetVersion, CutoverFleet as Keyword, CutoverTrafficPercent as Int)',
    );
  }
  return error;
}

/** `YYYY-MM-DD HH:MM` in local time. */
export function localDateTime(iso: string): string {
  const date = new Date(iso);
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function parseGroup(value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(value))
    throw new InvalidArgumentError('must be a routing group name (letters, digits, ".", "_" and "-")');
  return value;
}

/** `--limit`: a positive whole number. */
export function parseLimit(value: string): number {
  const limit = Number(value);
  if (!Number.isInteger(limit) || limit < 1) throw new InvalidArgumentError('must be a positive whole number');
  return limit;
}
