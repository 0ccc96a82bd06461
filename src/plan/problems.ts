import type { z } from 'zod';
import { upgradePlanSchema, type UpgradePlan } from './schema';

/**
 * Validates a plan document against the schema without I/O, so the CLI and the workflow itself
 * (a run started from the Temporal UI or CLI skips cutover's CLI) judge it the same way.
 */
export function checkPlan(document: unknown): { ok: true; plan: UpgradePlan } | { ok: false; problems: string[] } {
  // reportInput: zod 4 leaves `issue.input` out otherwise, and every wrong type would read as "is required".
  const result = upgradePlanSchema.safeParse(document, { reportInput: true });
  return result.success ? { ok: true, plan: result.data } : { ok: false, problems: issueProblems(result.error.issues) };
}

/**
 * Every problem of a failed parse, each named by its field; `fieldOf` renames a field (a fleet
 * plan names the fields of the upgrade plans it builds by its own fields).
 */
export function issueProblems(
  issues: readonly z.core.$ZodIssue[],
  fieldOf: (field: string) => string = (field) => field,
): string[] {
  return issues.map((issue) => describeIssue(issue, fieldOf));
}

/** A zod issue path as a reader writes it: `green.provisioner.type`, `canary.steps[1].weight`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)),
    '',
  );
}

function describeIssue(issue: z.core.$ZodIssue, fieldOf: (field: string) => string): string {
  const at = fieldOf(fieldPath(issue.path)) || '(plan)';
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((key) => fieldOf(fieldPath([...issue.path, key])));
    return `${keys.join(', ')}: unknown field${keys.length > 1 ? 's' : ''}; remove ${keys.length > 1 ? 'them' : 'it'} (credentials belong in the worker's environment, never in a plan)`;
  }
  // A bad key of a record (parameter, profile or variable name): the key's own check says what is wrong.
  if (issue.code === 'invalid_key') return `${at}: ${issue.issues.map((inner) => inner.message).join('; ')}`;
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return `${at}: is required`;
  }
  return `${at}: ${issue.message}`;
}
