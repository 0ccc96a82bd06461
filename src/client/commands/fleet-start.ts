import type { Command } from 'commander';
import { counted } from '../../plural';
import { fleetWorkflowId } from '../../workflows/fleet/messages';
import { findUiLink } from '../connection';
import { startFleet } from '../fleets';
import { EXIT_FAILED, operatorName, printJson, printLines, runVerb, withTemporal } from '../output';
import { checkFleetFile, refusalText, waveLines, type FleetValidateOptions } from './fleet-validate';
import { followFleet } from './fleet-watch';

interface FleetStartOptions extends FleetValidateOptions {
  watch?: boolean;
}

/** `cutover fleet start FLEET`: checks the fleet plan as `fleet validate` does, starts the fleet, says what to do next. */
export function registerFleetStart(fleet: Command): void {
  fleet
    .command('start')
    .description('check a fleet plan as `cutover fleet validate` does and start the fleet it describes')
    .argument('<fleet>', 'path of the fleet plan file, e.g. plans/sandbox-fleet.yaml')
    .option(
      '--gateway [url]',
      "check the groups against the gateway's routing groups first (default url: the fleet's gateway.url); the worker resolves patterns anyway",
    )
    .option(
      '--policy <file>',
      "check each group's plan against this worker policy first (default: $CUTOVER_POLICY_FILE when set)",
    )
    .option('--watch', 'follow the fleet like `cutover fleet watch` and exit 0 on SUCCEEDED, 1 otherwise')
    .option('--json', 'print machine-readable JSON')
    .action((fleetPath: string, options: FleetStartOptions) =>
      runVerb(options, async () => {
        // A fleet plan with problems never reaches Temporal: nothing is started.
        const checked = await checkFleetFile(fleetPath, options);
        if (typeof checked === 'number') return checked;
        const { document, check, problems } = checked;
        if (problems.length || !check.fleet || !check.expansion) {
          if (options.json) printJson({ fleet: fleetPath, valid: false, problems });
          else process.stderr.write(`${refusalText(fleetPath, problems)}nothing was started\n`);
          return EXIT_FAILED;
        }
        const plan = check.fleet;
        const { waves, unresolvedPatterns } = check.expansion;
        return withTemporal(async (temporal) => {
          const handle = await startFleet(temporal.client, document, plan, { startedBy: operatorName() });
          const id = handle.workflowId;
          const ui = await findUiLink(temporal, id, handle.firstExecutionRunId);
          if (options.json) {
            printJson(
              {
                id,
                runId: handle.firstExecutionRunId,
                namespace: temporal.namespace,
                ...('url' in ui ? { uiUrl: ui.url } : {}),
                name: plan.name,
                version: plan.version,
                onFailure: plan.onFailure,
                waves: waves.map((wave) => ({
                  name: wave.name,
                  maxParallel: wave.maxParallel,
                  approval: wave.approval,
                  ...(wave.soak ? { soak: wave.soak } : {}),
                  groups: wave.groups.map((group) => (typeof group === 'string' ? group : group.routingGroup)),
                })),
                ...(unresolvedPatterns.length ? { unresolvedPatterns } : {}),
              },
              options.watch,
            );
          } else {
            const groups = waves.reduce((sum, wave) => sum + wave.groups.length, 0);
            printLines(
              `started fleet ${id}: ${counted(groups, 'routing group')}${unresolvedPatterns.length ? ` and the patterns ${unresolvedPatterns.join(', ')}` : ''} to Trino ${plan.version} in ${counted(waves.length, 'wave')}, on failure ${plan.onFailure}`,
              ...(unresolvedPatterns.length
                ? [
                    '  the worker resolves the patterns from the gateway: its waves may hold more groups than these, which hold the listed groups only (--gateway resolves them here)',
                  ]
                : []),
              ...waves.flatMap((wave, index) => waveLines(wave, index)),
              `  UI:      ${'url' in ui ? ui.url : ui.hint}`,
              `  watch:   cutover fleet watch ${plan.name}`,
              `  status:  cutover fleet status ${plan.name}`,
              `  groups:  cutover fleet list ${plan.name}   (each group's upgrade, cutover-<group>)`,
              ...(waves.some((wave) => wave.approval)
                ? [`  approve: cutover fleet approve ${plan.name}   (before each wave with approval first)`]
                : []),
              `  stop:    cutover fleet cancel ${plan.name}   (running groups roll back, no new group starts)`,
            );
          }
          if (!options.watch) return undefined;
          return followFleet(temporal.client, fleetWorkflowId(plan.name), { json: options.json === true });
        });
      }),
    );
}
