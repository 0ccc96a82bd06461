import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import type { Command } from 'commander';
import { CutoverFleet, CutoverPhase, CutoverTargetVersion } from '../../workflows/search-attributes';
import { printJson, printLines, runVerb, table, withTemporal, type JsonOption } from '../output';
import { FLEET_WORKFLOW_TYPE, fleetNameOf } from './fleet-handle';
import { explainListFailure, localDateTime, parseLimit, rowOf, upgradeTable } from './list';

interface FleetListOptions extends JsonOption {
  all?: boolean;
  limit: number;
}

/** A fleet as `cutover fleet list` shows it. */
export interface FleetRow {
  id: string;
  runId: string;
  name?: string;
  targetVersion?: string;
  phase?: string;
  startTime: string;
  closeTime?: string;
  status: string;
}

/** `cutover fleet list [NAME]`: fleets, or with NAME the upgrades of that fleet's groups, from Temporal's visibility store. */
export function registerFleetList(fleet: Command): void {
  fleet
    .command('list')
    .description(
      "list running fleets (with --all, finished ones too), newest first; with a fleet's name, its groups' upgrades (running and ended)",
    )
    .argument('[fleet]', "a fleet's name or id: list the upgrades it started instead")
    .option('--all', 'include finished fleets')
    .option('--limit <n>', 'at most this many rows', parseLimit, 50)
    .option('--json', 'print the rows as a JSON array')
    .action((nameOrId: string | undefined, options: FleetListOptions) =>
      runVerb(options, () => {
        const name = nameOrId === undefined ? undefined : fleetNameOf(nameOrId);
        return withTemporal(async ({ client }) => {
          if (name !== undefined) {
            const rows = await listRows(client, fleetMembersQuery(name), options.limit, rowOf);
            if (options.json) return printJson(rows);
            if (!rows.length)
              return printLines(
                `fleet ${name} started no upgrade yet (or its workflows are gone from visibility); see \`cutover fleet status ${name}\``,
              );
            return printLines(upgradeTable(rows));
          }
          const rows = await listRows(client, fleetListQuery(options), options.limit, fleetRowOf);
          if (options.json) return printJson(rows);
          if (!rows.length)
            return printLines(
              `no ${options.all ? '' : 'running '}fleets${options.all ? '' : '; add --all to include finished ones'}`,
            );
          printLines(
            table(
              ['ID', 'NAME', 'TARGET', 'PHASE', 'STARTED', 'STATUS'],
              rows.map((row) => [
                row.id,
                row.name ?? '-',
                row.targetVersion ?? '-',
                row.phase ?? '-',
                localDateTime(row.startTime),
                row.status,
              ]),
            ),
          );
        });
      }),
    );
}

/** The visibility query of `cutover fleet list`: fleets, running ones only unless --all. */
export function fleetListQuery(options: { all?: boolean }): string {
  return [`WorkflowType = '${FLEET_WORKFLOW_TYPE}'`, ...(options.all ? [] : [`ExecutionStatus = 'Running'`])].join(
    ' AND ',
  );
}

/** The visibility query of `cutover fleet list NAME`: the upgrades the fleet started, not the fleet itself. */
export function fleetMembersQuery(name: string): string {
  return `${CutoverFleet.name} = '${name}' AND WorkflowType != '${FLEET_WORKFLOW_TYPE}'`;
}

async function listRows<Row>(
  client: Client,
  query: string,
  limit: number,
  row: (execution: WorkflowExecutionInfo) => Row,
): Promise<Row[]> {
  const rows: Row[] = [];
  try {
    for await (const execution of client.workflow.list({ query })) {
      rows.push(row(execution));
      if (rows.length >= limit) break;
    }
  } catch (error) {
    throw explainListFailure(error);
  }
  return rows;
}

function fleetRowOf(execution: WorkflowExecutionInfo): FleetRow {
  const attributes = execution.typedSearchAttributes;
  return {
    id: execution.workflowId,
    runId: execution.runId,
    name: attributes.get(CutoverFleet),
    targetVersion: attributes.get(CutoverTargetVersion),
    phase: attributes.get(CutoverPhase),
    startTime: execution.startTime.toISOString(),
    closeTime: execution.closeTime?.toISOString(),
    status: execution.status.name,
  };
}
