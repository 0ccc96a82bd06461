import type { Command } from 'commander';
import type { FleetGroup, FleetWaveOf } from '../../fleet/expand';
import { checkFleetPlan, readFleetFile, type FleetCheck } from '../../fleet/load';
import { YamlFileProblem } from '../../plan/yaml-file';
import { counted } from '../../plural';
import { policyProblems } from '../../policy/check-plan';
import { fixedPolicy } from '../../policy/load';
import type { WorkerPolicy } from '../../policy/schema';
import { integrationsFromEnv } from '../../worker/integrations';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, printJson, printLines, type JsonOption, runVerb } from '../output';
import { policyOption } from './validate';

export interface FleetValidateOptions extends JsonOption {
  policy?: string;
  /** `--gateway` alone: the fleet's gateway.url; `--gateway URL`: that address instead. */
  gateway?: string | true;
}

/** What the gateway lists: its routing groups, or why they could not be read. */
interface GatewayGroups {
  url: string;
  groups?: string[];
  problem?: string;
}

/** `cutover fleet validate FLEET`: the waves and every group's upgrade plan a fleet would run, without starting anything. */
export function registerFleetValidate(fleet: Command): void {
  fleet
    .command('validate')
    .description(
      "check a fleet plan: every group's upgrade plan and the waves, with --gateway the gateway's routing groups (patterns resolved); starts nothing",
    )
    .argument('<fleet>', 'path of the fleet plan file, e.g. plans/sandbox-fleet.yaml')
    .option(
      '--gateway [url]',
      "read the gateway's routing groups (GET /gateway/backend/all, read-only; default url: the fleet's gateway.url)",
    )
    .option(
      '--policy <file>',
      "check each group's plan against this worker policy, which also says where gateway credentials may go (default: $CUTOVER_POLICY_FILE when set)",
    )
    .option('--json', 'print the waves, each group and every problem as JSON')
    .action((fleetPath: string, options: FleetValidateOptions) =>
      runVerb(options, () => validateFleet(fleetPath, options)),
    );
}

/** A fleet plan file checked as `cutover fleet validate` checks it. */
export interface FleetFileCheck {
  document: Record<string, unknown>;
  policyFile?: string;
  gateway?: GatewayGroups;
  /** The check of the plan alone, and with each group's plan against the policy. */
  schema: FleetCheck;
  check: FleetCheck;
  /** Problems only the policy found. */
  refused: string[];
  /** Every problem, the gateway's first. */
  problems: string[];
}

/**
 * Reads a fleet plan file, the policy and (with `--gateway`) the gateway's routing groups, and
 * checks the plan. A file or policy that cannot be read, or `--gateway` without a URL, is reported
 * here (stderr, or JSON with --json) and its exit code returned instead.
 */
export async function checkFleetFile(
  fleetPath: string,
  options: FleetValidateOptions,
): Promise<FleetFileCheck | number> {
  let document: Record<string, unknown>;
  try {
    document = await readFleetFile(fleetPath);
  } catch (error) {
    if (!(error instanceof YamlFileProblem)) throw error;
    if (options.json) printJson({ fleet: fleetPath, valid: false, problems: [error.message] });
    else process.stderr.write(`cutover: ${fleetPath} ${error.message}\n`);
    return EXIT_USAGE;
  }
  const chosen = await policyOption(options.policy);
  if ('error' in chosen) {
    if (options.json)
      printJson({ fleet: fleetPath, valid: false, policy: chosen.file, problems: chosen.error.problems });
    else process.stderr.write(`cutover: ${chosen.error.message}\n`);
    return EXIT_USAGE;
  }
  const { file: policyFile, policy } = chosen;
  let gateway: GatewayGroups | undefined;
  if (options.gateway !== undefined) {
    const url = options.gateway === true ? gatewayUrlOf(document) : options.gateway;
    if (!url) {
      const problem = 'gateway.url: is required to read the gateway (or give --gateway URL)';
      if (options.json) printJson({ fleet: fleetPath, valid: false, problems: [problem] });
      else process.stderr.write(`cutover: ${fleetPath} would be refused:\n  - ${problem}\n`);
      return EXIT_FAILED;
    }
    gateway = await readGatewayGroups(url, policy);
  }
  // Each group's plan also against the policy (as `cutover validate PLAN --policy`), its problems named by fleet field.
  const schema = checkFleetPlan(document, gateway?.groups);
  const check = checkFleetPlan(document, gateway?.groups, (plan) => policyProblems(plan, policy));
  const refused = check.problems.filter((problem) => !schema.problems.includes(problem));
  const problems = [...(gateway?.problem ? [`gateway.url: ${gateway.problem}`] : []), ...check.problems];
  return { document, policyFile, gateway, schema, check, refused, problems };
}

/** The refusal of a fleet plan with problems: each on its own line, on stderr. */
export function refusalText(fleetPath: string, problems: string[]): string {
  return `cutover: ${fleetPath} would be refused:\n${problems.map((problem) => `  - ${problem}`).join('\n')}\n`;
}

async function validateFleet(fleetPath: string, options: FleetValidateOptions): Promise<number> {
  const result = await checkFleetFile(fleetPath, options);
  if (typeof result === 'number') return result;
  const { policyFile, gateway, schema, check, refused, problems } = result;
  const expansion = check.expansion;
  const unresolved = gateway?.groups ? [] : (expansion?.unresolvedPatterns ?? []);
  const awaiting = expansion?.ok ? expansion.awaitingPatterns : [];

  if (options.json) {
    printJson({
      fleet: fleetPath,
      valid: problems.length === 0,
      ...(check.fleet
        ? {
            name: check.fleet.name,
            workflowId: `cutover-fleet-${check.fleet.name}`,
            version: check.fleet.version,
            onFailure: check.fleet.onFailure,
          }
        : {}),
      policy: { file: policyFile, problems: refused },
      ...(gateway ? { gateway } : {}),
      ...(unresolved.length ? { unresolvedPatterns: unresolved } : {}),
      ...(awaiting.length ? { awaitingPatterns: awaiting } : {}),
      waves: expansion?.waves.map((wave) => ({ ...wave, groups: wave.groups.map(groupJson) })) ?? [],
      problems,
    });
    return problems.length ? EXIT_FAILED : EXIT_OK;
  }
  const waves: FleetWaveOf<FleetGroup | string>[] = expansion?.waves ?? [];
  const groups = waves.reduce((sum, wave) => sum + wave.groups.length, 0);
  printLines(
    check.fleet
      ? `${fleetPath}: fleet ${check.fleet.name} (workflow cutover-fleet-${check.fleet.name}): ${counted(groups, 'routing group')} to Trino ${check.fleet.version} in ${counted(waves.length, 'wave')}, on failure ${check.fleet.onFailure}`
      : `${fleetPath}: fleet plan`,
    `  schema:  ${schema.problems.length ? 'invalid (problems below)' : 'valid'}`,
    policyFile
      ? `  policy:  ${refused.length ? `${policyFile} refuses some (below)` : `${policyFile} allows every group's plan`}`
      : `  policy:  none given (--policy FILE or CUTOVER_POLICY_FILE): checked against the default bounds only`,
    gateway
      ? `  gateway: ${gateway.url}: ${gateway.groups ? `${counted(gateway.groups.length, 'routing group')} (${gateway.groups.join(', ')})` : 'could not be read (below)'}`
      : `  gateway: not read (add --gateway to resolve patterns and check the groups exist)`,
    ...(unresolved.length
      ? [
          `  patterns not resolved (${gateway ? 'the gateway could not be read' : 'add --gateway'}): ${unresolved.join(', ')}; the waves below hold the listed groups only`,
          ...(awaiting.length ? [`  named in waves, left for the patterns: ${awaiting.join(', ')}`] : []),
        ]
      : []),
    ...waves.flatMap((wave, index) => waveLines(wave, index)),
  );
  if (problems.length) process.stderr.write(refusalText(fleetPath, problems));
  printLines('nothing was started');
  return problems.length ? EXIT_FAILED : EXIT_OK;
}

/** A wave's lines in the summary: how it runs, then each group and its plan. */
export function waveLines(wave: FleetWaveOf<FleetGroup | string>, index: number): string[] {
  const how = [
    ...(wave.approval ? ['approval first'] : []),
    `${wave.maxParallel} at a time`,
    ...(wave.soak ? [`soak ${wave.soak} after`] : []),
  ].join(', ');
  return [
    `  wave ${index + 1} ${wave.name} (${how}): ${wave.groups.length ? counted(wave.groups.length, 'group') : 'no group'}`,
    ...wave.groups.map((group) =>
      typeof group === 'string'
        ? `    ${group}`
        : `    ${group.routingGroup}: ${group.plan.strategy} -> ${group.plan.green.name} (Trino ${group.plan.green.version}), from ${group.entry}`,
    ),
  ];
}

function groupJson(group: FleetGroup | string): unknown {
  return typeof group === 'string'
    ? { routingGroup: group }
    : {
        routingGroup: group.routingGroup,
        entry: group.entry,
        workflowId: `cutover-${group.routingGroup}`,
        strategy: group.plan.strategy,
        green: { name: group.plan.green.name, version: group.plan.green.version },
        plan: group.plan,
      };
}

function gatewayUrlOf(document: Record<string, unknown>): string | undefined {
  const gateway = document.gateway as { url?: unknown } | undefined;
  return typeof gateway?.url === 'string' ? gateway.url.replace(/\/+$/, '') : undefined;
}

/** The distinct routing groups of the gateway's backends, sorted; credentials only where the policy allows, as on the worker. */
async function readGatewayGroups(url: string, policy: WorkerPolicy | undefined): Promise<GatewayGroups> {
  const deps = integrationsFromEnv(process.env, fixedPolicy(policy));
  try {
    const backends = await deps.gateway({ url, requestTimeout: '10s' }).listBackends();
    return { url, groups: [...new Set(backends.map((backend) => backend.routingGroup))].sort() };
  } catch (error) {
    return { url, problem: (error as Error).message };
  } finally {
    await deps.close();
  }
}
