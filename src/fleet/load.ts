import { issueProblems } from '../plan/problems';
import type { UpgradePlan } from '../plan/schema';
import { parseYamlMapping, readYamlText } from '../plan/yaml-file';
import { expandFleet, type FleetExpansion } from './expand';
import { fleetPlanSchema, type FleetPlan } from './schema';

/** A fleet plan checked as far as it could be: the plan when its own fields are valid, its waves, and every problem by field. */
export interface FleetCheck {
  fleet?: FleetPlan;
  expansion?: FleetExpansion;
  problems: string[];
}

/** Fields of the fleet plan that its expansion into waves does not read. */
const NOT_EXPANDED = ['name', 'onFailure'];

/**
 * Checks a fleet plan document and expands it with the gateway's routing groups (undefined: not
 * read). A problem in `name` or `onFailure` still lets the waves and every group's plan be checked,
 * so that all problems are named at once. `planProblems` checks each group's valid plan further
 * (a worker policy).
 */
export function checkFleetPlan(
  document: unknown,
  gatewayGroups: readonly string[] | undefined,
  planProblems?: (plan: UpgradePlan) => string[],
): FleetCheck {
  const parsed = fleetPlanSchema.safeParse(document, { reportInput: true });
  if (parsed.success) {
    const expansion = expandFleet(parsed.data, gatewayGroups, planProblems);
    return { fleet: parsed.data, expansion, problems: expansion.ok ? [] : expansion.problems };
  }
  const problems = issueProblems(parsed.error.issues, (field) => field || '(fleet)');
  const expandable = parsed.error.issues.every((issue) => NOT_EXPANDED.includes(String(issue.path[0])));
  if (!expandable || document === null || typeof document !== 'object') return { problems };
  const standIn = fleetPlanSchema.safeParse({ ...document, name: 'fleet', onFailure: 'halt' });
  if (!standIn.success) return { problems };
  const expansion = expandFleet(standIn.data, gatewayGroups, planProblems);
  return { expansion, problems: [...problems, ...(expansion.ok ? [] : expansion.problems)] };
}

/** Reads and parses a fleet plan file (YAML or JSON); throws YamlFileProblem when it is not a mapping. */
export async function readFleetFile(path: string): Promise<Record<string, unknown>> {
  return parseYamlMapping(await readYamlText(path), '(fleet)', 'name, gateway, version, base, groups and waves');
}
