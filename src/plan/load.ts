import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { upgradePlanSchema, type UpgradePlan } from './schema';

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

/** A zod issue path as a reader writes it: `green.provisioner.type`, `canary.steps[1].weight`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)),
    '',
  );
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const at = fieldPath(issue.path) || '(plan)';
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((key) => (at === '(plan)' ? key : `${at}.${key}`));
    return `${keys.join(', ')}: unknown field${keys.length > 1 ? 's' : ''}; remove ${keys.length > 1 ? 'them' : 'it'} (credentials belong in the worker's environment, never in a plan)`;
  }
  // A bad key of a record (parameter, profile or variable name): the key's own check says what is wrong.
  if (issue.code === 'invalid_key') return `${at}: ${issue.issues.map((inner) => inner.message).join('; ')}`;
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return `${at}: is required`;
  }
  return `${at}: ${issue.message}`;
}

/** Validates an already parsed document; throws PlanError naming every bad field. */
export function validatePlan(document: unknown, source = 'plan'): UpgradePlan {
  // reportInput: zod 4 leaves `issue.input` out otherwise, and every wrong type would read as "is required".
  const result = upgradePlanSchema.safeParse(document, { reportInput: true });
  if (!result.success) throw new PlanError(source, result.error.issues.map(describeIssue));
  return result.data;
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
