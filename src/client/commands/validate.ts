import type { Command } from 'commander';
import { REQUEST_ANALYZER_DISABLED } from '../../activities/request-analyzer';
import { trafficActivities } from '../../activities/traffic';
import type { GatewayTarget, InspectGatewayInput } from '../../activities/types';
import { trafficMode } from '../../integrations/traffic';
import { needsRequestAnalyzer } from '../../integrations/traffic/selector';
import { loadPlanFile, PlanError } from '../../plan/load';
import type { UpgradePlan } from '../../plan/schema';
import { counted } from '../../plural';
import { policyProblems } from '../../policy/check-plan';
import { fixedPolicy, loadPolicyFile, PolicyError } from '../../policy/load';
import type { WorkerPolicy } from '../../policy/schema';
import { integrationsFromEnv } from '../../worker/integrations';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, printJson, printLines, runVerb, type JsonOption } from '../output';

interface ValidateOptions extends JsonOption {
  policy?: string;
  /** `--gateway` alone: the plan's gateway.url; `--gateway URL`: that address instead. */
  gateway?: string | true;
}

/** A blue backend as the gateway lists it, with the version its coordinator reports. */
interface BlueFound {
  name: string;
  proxyTo: string;
  version?: string;
  versionProblem?: string;
}

interface GatewayFindings {
  url: string;
  blue: BlueFound[];
  /** What the gateway lists under green's name now, if anything. */
  green?: { routingGroup: string; active: boolean };
  problems: string[];
}

/** `cutover validate PLAN`: the checks a run would meet before it changes anything, without starting one. */
export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description(
      'check a plan against the schema, a worker policy and (with --gateway) the gateway, as a run would before it changes anything; starts nothing',
    )
    .argument('<plan>', 'path of the plan file, e.g. plans/sandbox-blue-green.yaml')
    .option('--policy <file>', 'check it against this worker policy (default: $CUTOVER_POLICY_FILE when set)')
    .option(
      '--gateway [url]',
      "read the routing group from the gateway as the preflight does (read-only; default url: the plan's gateway.url)",
    )
    .option('--json', 'print what was checked and every problem as JSON')
    .action((planPath: string, options: ValidateOptions) => runVerb(options, () => validate(planPath, options)));
}

async function validate(planPath: string, options: ValidateOptions): Promise<number> {
  let plan: UpgradePlan;
  try {
    plan = await loadPlanFile(planPath);
  } catch (error) {
    if (!(error instanceof PlanError)) throw error;
    if (options.json) printJson({ plan: planPath, valid: false, problems: error.problems });
    else process.stderr.write(`cutover: ${error.message}\n`);
    return EXIT_USAGE;
  }
  const chosen = await policyOption(options.policy);
  if ('error' in chosen) {
    if (options.json) printJson({ plan: planPath, valid: false, policy: chosen.file, problems: chosen.error.problems });
    else process.stderr.write(`cutover: ${chosen.error.message}\n`);
    return EXIT_USAGE;
  }
  const { file: policyFile, policy } = chosen;
  const refused = policyProblems(plan, policy);
  const gateway =
    options.gateway === undefined
      ? undefined
      : await inspectGateway(plan, options.gateway === true ? plan.gateway.url : options.gateway, policy);
  const problems = [...refused, ...(gateway?.problems ?? [])];

  if (options.json) {
    printJson({
      plan: planPath,
      valid: problems.length === 0,
      strategy: plan.strategy,
      routingGroup: plan.routingGroup,
      green: { name: plan.green.name, version: plan.green.version },
      policy: { file: policyFile, problems: refused },
      ...(gateway ? { gateway } : {}),
      problems,
    });
  } else {
    printLines(
      `${planPath}: ${plan.strategy} upgrade of routing group ${plan.routingGroup}: ${plan.blue?.backends.join(', ') ?? 'its active backends'} -> ${plan.green.name} (Trino ${plan.green.version})`,
      '  schema:  valid',
      policyFile
        ? `  policy:  ${refused.length ? `${policyFile} refuses it` : `${policyFile} allows it`}`
        : `  policy:  none given (--policy FILE or CUTOVER_POLICY_FILE): checked against the default bounds only`,
      ...(gateway
        ? gatewayLines(plan, gateway)
        : ['  gateway: not read (add --gateway to check it as the preflight does)']),
    );
    if (problems.length)
      process.stderr.write(
        `cutover: ${planPath} would be refused:\n${problems.map((problem) => `  - ${problem}`).join('\n')}\n`,
      );
    printLines('nothing was started');
  }
  return problems.length ? EXIT_FAILED : EXIT_OK;
}

/**
 * The preflight's read-only inspection (the same activity code, run here without Temporal), the
 * version each blue coordinator reports, and whether green's name is free: every problem is named
 * by the plan field it comes from. Credentials go only where the policy allows, as on the worker.
 */
async function inspectGateway(
  plan: UpgradePlan,
  url: string,
  policy: WorkerPolicy | undefined,
): Promise<GatewayFindings> {
  const deps = integrationsFromEnv(process.env, fixedPolicy(policy));
  // The plan's replicas are the plan's gateway's: checked only when inspecting that gateway.
  const replicas = url === plan.gateway.url ? plan.gateway.replicas : undefined;
  const target: GatewayTarget = { url, requestTimeout: plan.gateway.requestTimeout, ...(replicas ? { replicas } : {}) };
  const findings: GatewayFindings = { url, blue: [], problems: [] };
  try {
    const mode = plan.canary ? trafficMode(plan.canary.traffic) : undefined;
    const input: InspectGatewayInput = {
      gateway: target,
      routingGroup: plan.routingGroup,
      blue: plan.blue?.backends,
      green: plan.green.name,
      canary:
        plan.canary && mode?.separateEntry
          ? {
              group: plan.canary.canaryGroup ?? `${plan.routingGroup}-canary`,
              entry: mode.canaryEntry(plan.green.name),
              ...(needsRequestAnalyzer(plan.canary.selector) ? { requestAnalyzer: true } : {}),
            }
          : undefined,
    };
    // The inspection stops at its first refusal: one about green is noted, and blue is inspected without it.
    let greenRefused = false;
    for (const green of [plan.green.name, '']) {
      try {
        const found = await trafficActivities(deps).inspectGateway({ ...input, green });
        findings.blue = await Promise.all(found.blue.map((backend) => withVersion(deps, backend)));
        break;
      } catch (error) {
        const field = fieldOf(error, plan.green.name);
        findings.problems.push(`${field}: ${(error as Error).message}`);
        if (field === 'gateway.url') return findings;
        if (field !== 'green.name') break;
        greenRefused = true;
      }
    }
    findings.problems.sort((a, b) => a.slice(0, a.indexOf(':')).localeCompare(b.slice(0, b.indexOf(':'))));
    const green = (await deps.gateway(target).listBackends()).find((backend) => backend.name === plan.green.name);
    if (green) findings.green = { routingGroup: green.routingGroup, active: green.active };
    if (green?.active && !greenRefused) {
      findings.problems.push(
        `green.name: backend ${green.name} is already active in routing group ${green.routingGroup}; pick another green name`,
      );
    }
  } catch (error) {
    findings.problems.push(`gateway.url: ${(error as Error).message}`);
  } finally {
    await deps.close();
  }
  return findings;
}

async function withVersion(
  deps: ReturnType<typeof integrationsFromEnv>,
  backend: { name: string; proxyTo: string },
): Promise<BlueFound> {
  try {
    return { ...backend, version: (await deps.trino(backend.proxyTo).info()).nodeVersion.version };
  } catch (error) {
    return { ...backend, versionProblem: (error as Error).message };
  }
}

/** The plan field a refusal of the preflight's inspection comes from. */
function fieldOf(error: unknown, green: string): string {
  const type = (error as { type?: unknown }).type;
  if (type === 'ForeignBackend' && (error as Error).message.startsWith(`backend ${green} `)) return 'green.name';
  if (type === 'BlueNotFound' || type === 'BlueNotInGroup') return 'blue.backends';
  if (type === 'NoActiveBlue') return 'routingGroup';
  if (type === 'CanaryGroupInUse') return 'canary.canaryGroup';
  if (type === REQUEST_ANALYZER_DISABLED) return 'canary.selector';
  if (type === 'ReplicaNotOfGateway') return 'gateway.replicas';
  // Unreachable, refused credentials, an answer that is not the gateway's API.
  return 'gateway.url';
}

function gatewayLines(plan: UpgradePlan, gateway: GatewayFindings): string[] {
  if (!gateway.blue.length && gateway.problems.length)
    return [`  gateway: ${gateway.url}: ${counted(gateway.problems.length, 'problem')} (below)`];
  const green = gateway.green
    ? `${plan.green.name} is registered (routing group ${gateway.green.routingGroup}, ${gateway.green.active ? 'active' : 'inactive'})`
    : `${plan.green.name} is not registered yet`;
  return [
    `  gateway: ${gateway.url}: routing group ${plan.routingGroup}, ${counted(gateway.blue.length, 'blue backend')}; ${green}`,
    ...gateway.blue.map(
      (backend) =>
        `    blue ${backend.name} at ${backend.proxyTo}: ${backend.version ? `Trino ${backend.version}` : `version unknown (${backend.versionProblem})`}`,
    ),
  ];
}

/**
 * The worker policy a check uses (`--policy FILE`, else $CUTOVER_POLICY_FILE when set): its file
 * and contents (none given: both undefined), or the problems that make it unusable.
 */
export async function policyOption(
  option: string | undefined,
): Promise<{ file?: string; policy?: WorkerPolicy } | { file: string; error: PolicyError }> {
  const file = option ?? (process.env.CUTOVER_POLICY_FILE || undefined);
  if (!file) return {};
  try {
    return { file, policy: await loadPolicyFile(file) };
  } catch (error) {
    if (!(error instanceof PolicyError)) throw error;
    return { file, error };
  }
}
