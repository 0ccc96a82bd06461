import { checkPlan } from './problems';
import type { UpgradePlan } from './schema';
import { parseYamlMapping, readYamlText, YamlFileProblem } from './yaml-file';

/** A plan that cannot be used; `problems` name each field and what to fix. */
export class PlanError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source} is not a valid upgrade plan:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'PlanError';
  }
}

/** Validates an already parsed document; throws PlanError naming every bad field. */
export function validatePlan(document: unknown, source = 'plan'): UpgradePlan {
  // reportInput: zod 4 leaves `issue.input` out otherwise, and every wrong type would read as "is required".
  const result = checkPlan(document);
  if (!result.ok) throw new PlanError(source, result.problems);
  return result.plan;
}

/** Parses YAML (or JSON) text and validates it. */
export function parsePlan(text: string, source = 'plan'): UpgradePlan {
  try {
    return validatePlan(parseYamlMapping(text, '(plan)', 'gateway, routingGroup and green'), source);
  } catch (error) {
    if (error instanceof YamlFileProblem) throw new PlanError(source, [error.message]);
    throw error;
  }
}

/** Reads a plan file (YAML or JSON) and validates it. */
export async function loadPlanFile(path: string): Promise<UpgradePlan> {
  try {
    return parsePlan(await readYamlText(path), path);
  } catch (error) {
    if (error instanceof YamlFileProblem) throw new PlanError(path, [error.message]);
    throw error;
  }
}
