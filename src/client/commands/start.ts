import type { Command } from 'commander';
import { loadPlanFile } from '../../plan/load';
import { findUiLink } from '../connection';
import { UsageError, operatorName, printJson, printLines, runVerb, withTemporal, type JsonOption } from '../output';
import { startUpgrade } from '../upgrades';
import { followUpgrade } from './watch';

interface StartOptions extends JsonOption {
  id?: string;
  wait?: boolean;
}

/** `cutover start PLAN`: validates the plan before connecting, starts the upgrade, says what to do next. */
export function registerStart(program: Command): void {
  program
    .command('start')
    .description('validate an upgrade plan (YAML or JSON) and start the upgrade it describes')
    .argument('<plan>', 'path of the plan file, e.g. plans/sandbox-blue-green.yaml')
    .option('--id <id>', 'workflow id (default: cutover-<routingGroup>, one upgrade per routing group)')
    .option('--wait', 'follow the upgrade like `cutover watch` and exit 0 on SUCCEEDED, 1 on ROLLED_BACK or FAILED')
    .option('--json', 'print machine-readable JSON')
    .action((planPath: string, options: StartOptions) =>
      runVerb(options, async () => {
        if (options.id !== undefined && !options.id.trim()) throw new UsageError('--id must not be empty');
        // An invalid plan never reaches Temporal: nothing is started.
        const plan = await loadPlanFile(planPath);
        return withTemporal(async (temporal) => {
          const { client, namespace } = temporal;
          const handle = await startUpgrade(client, plan, { workflowId: options.id, startedBy: operatorName() });
          const id = handle.workflowId;
          const ui = await findUiLink(temporal, id, handle.firstExecutionRunId);
          if (options.json) {
            printJson(
              {
                workflowId: id,
                runId: handle.firstExecutionRunId,
                namespace,
                ...('url' in ui ? { uiUrl: ui.url } : {}),
                routingGroup: plan.routingGroup,
                green: plan.green,
              },
              options.wait,
            );
          } else {
            printLines(
              `started upgrade ${id}: ${plan.strategy} ${plan.routingGroup} -> ${plan.green.name} (Trino ${plan.green.version})`,
              `  UI:      ${'url' in ui ? ui.url : ui.hint}`,
              `  watch:   cutover watch ${id}`,
              `  status:  cutover status ${id}   (shows green's address for testing)`,
              plan.approval.required
                ? `  approve: cutover approve ${id}   (once green passed your tests)`
                : '  approval is not required: traffic shifts as soon as green is healthy',
              `  abort:   cutover rollback ${id} --reason "..."`,
            );
          }
          if (!options.wait) return undefined;
          return followUpgrade(client, id, { json: options.json === true });
        });
      }),
    );
}
