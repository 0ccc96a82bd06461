import type { z } from 'zod';
import { fieldPath } from '../plan/problems';
import { workerPolicySchema, type WorkerPolicy } from './schema';
import { parseYamlMapping, readYamlText, YamlFileProblem } from '../plan/yaml-file';

/** A policy file that cannot be used; `problems` name each field and what to fix. */
export class PolicyError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source} is not a valid worker policy:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'PolicyError';
  }
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const at = fieldPath(issue.path) || '(policy)';
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((key) => (at === '(policy)' ? key : `${at}.${key}`));
    return `${keys.join(', ')}: unknown field${keys.length > 1 ? 's' : ''}; remove ${keys.length > 1 ? 'them' : 'it'} (README: Worker policy lists the fields)`;
  }
  // A bad key of a record (parameter, profile or variable name): the key's own check says what is wrong.
  if (issue.code === 'invalid_key') return `${at}: ${issue.issues.map((inner) => inner.message).join('; ')}`;
  if (issue.code === 'invalid_type' && issue.input === undefined) return `${at}: is required`;
  return `${at}: ${issue.message}`;
}

/** Validates an already parsed document; throws PolicyError naming every bad field. */
export function validatePolicy(document: unknown, source = 'policy'): WorkerPolicy {
  const result = workerPolicySchema.safeParse(document, { reportInput: true });
  if (!result.success) throw new PolicyError(source, result.error.issues.map(describeIssue));
  return result.data;
}

/** Parses YAML (or JSON) text and validates it. */
export function parsePolicy(text: string, source = 'policy'): WorkerPolicy {
  try {
    return validatePolicy(parseYamlMapping(text, '(policy)', 'gateways'), source);
  } catch (error) {
    if (error instanceof YamlFileProblem) throw new PolicyError(source, [error.message]);
    throw error;
  }
}

/** Reads a policy file (YAML or JSON) and validates it. */
export async function loadPolicyFile(path: string): Promise<WorkerPolicy> {
  try {
    return parsePolicy(await readYamlText(path), path);
  } catch (error) {
    if (error instanceof YamlFileProblem) throw new PolicyError(path, [error.message]);
    throw error;
  }
}

/** Where the worker's integrations and activities read the policy in force; undefined is no-policy mode. */
export interface PolicySource {
  current(): WorkerPolicy | undefined;
}

/** A policy that never changes (tests, benchmarks); undefined for no-policy mode. */
export function fixedPolicy(policy: WorkerPolicy | undefined): PolicySource {
  return { current: () => policy };
}

/** What the holder logs: pino's (fields, message) shape. */
export interface PolicyLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export const NO_POLICY_WARNING =
  'no worker policy: no credentials will be sent, command provisioning is refused; see README';

/**
 * The policy a worker runs with: read from CUTOVER_POLICY_FILE at start, read again on SIGHUP.
 * A bad file on reload keeps the policy in force; without the variable the worker runs in
 * no-policy mode (no credentials to anyone, no `command` provisioning).
 */
export class PolicyHolder implements PolicySource {
  private reloading: Promise<unknown> = Promise.resolve();

  private constructor(
    /** The policy file; undefined in no-policy mode. */
    readonly path: string | undefined,
    private policy: WorkerPolicy | undefined,
    private readonly log: PolicyLog,
  ) {}

  /** Loads `path`; throws PolicyError (every problem named) when it cannot be used. */
  static async fromFile(path: string, log: PolicyLog): Promise<PolicyHolder> {
    const holder = new PolicyHolder(path, await loadPolicyFile(path), log);
    log.info({ policyFile: path }, 'worker policy loaded');
    return holder;
  }

  /** Loads CUTOVER_POLICY_FILE, or warns once and holds no policy when it is not set. */
  static async fromEnv(env: Record<string, string | undefined>, log: PolicyLog): Promise<PolicyHolder> {
    const path = env.CUTOVER_POLICY_FILE;
    if (path) return PolicyHolder.fromFile(path, log);
    log.warn({}, NO_POLICY_WARNING);
    return new PolicyHolder(undefined, undefined, log);
  }

  current(): WorkerPolicy | undefined {
    return this.policy;
  }

  /** Reads the file again; returns false (and logs every problem) when it keeps the old policy. */
  reload(): Promise<boolean> {
    const next = this.reloading.then(() => this.reloadNow());
    this.reloading = next;
    return next;
  }

  /** Reloads on every SIGHUP until the returned function is called. */
  reloadOnSighup(): () => void {
    const onHangup = (): void => void this.reload();
    process.on('SIGHUP', onHangup);
    return () => process.off('SIGHUP', onHangup);
  }

  private async reloadNow(): Promise<boolean> {
    if (this.path === undefined) {
      this.log.info({}, 'no worker policy to reload: set CUTOVER_POLICY_FILE and restart the worker to use one');
      return false;
    }
    try {
      this.policy = await loadPolicyFile(this.path);
    } catch (error) {
      const problems = error instanceof PolicyError ? error.problems : [(error as Error).message];
      this.log.error(
        { policyFile: this.path, problems },
        `worker policy not reloaded, the previous one stays in force: ${this.path} is not valid:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      );
      return false;
    }
    this.log.info({ policyFile: this.path }, 'worker policy reloaded');
    return true;
  }
}
