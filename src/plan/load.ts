import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { checkPlan } from './problems';
import type { UpgradePlan } from './schema';

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

/** Parses YAML or JSON text (JSON is YAML) and validates it. */
export function parsePlan(text: string, source = 'plan'): UpgradePlan {
  let document: unknown;
  try {
    document = parseYaml(text, { prettyErrors: true });
  } catch (error) {
    throw new PlanError(source, [`cannot be parsed as YAML or JSON: ${(error as Error).message}`]);
  }
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    throw new PlanError(source, ['(plan): must be a mapping with at least gateway, routingGroup and green']);
  }
  return validatePlan(document, source);
}

/** Reads a plan file (YAML or JSON) and validates it. */
export async function loadPlanFile(path: string): Promise<UpgradePlan> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory'
            : (error as Error).message;
    throw new PlanError(path, [`cannot be read: ${reason}`]);
  }
  return parsePlan(text, path);
}
