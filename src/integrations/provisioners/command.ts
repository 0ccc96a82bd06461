import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { durationMs } from '../../plan/duration';
import type { ProvisionerConfig } from '../../plan/schema';
import type { WorkerPolicy } from '../../policy/schema';
import { IntegrationError } from '../errors';
import { cap, redact } from '../redact';
import type { ClusterPresence, ClusterSpec, ProvisionedCluster, Provisioner } from './types';

/** The shell commands of a provisioner profile and how long one may run. */
export interface CommandProvisionerOptions {
  create: string;
  delete: string;
  status: string;
  timeoutMs: number;
  /** Environment of every command besides PATH, HOME and the cluster's variables: the profile's env and the plan's parameters. */
  env?: Record<string, string>;
  /** Stops a running command (its whole process group) when aborted. */
  signal?: AbortSignal;
}

type CommandConfig = Extract<ProvisionerConfig, { type: 'command' }>;

type CommandKind = 'status' | 'create' | 'delete';

/** How a command ended. */
interface CommandOutcome {
  exitCode: number | null;
  exitSignal: NodeJS.Signals | null;
  /** Last non-empty line the command wrote to stdout. */
  lastStdoutLine?: string;
  /** Last non-empty line on stdout or stderr, for error messages. */
  lastLine?: string;
}

/** `status` exits with this code when the cluster does not exist. */
const STATUS_ABSENT = 3;
/** Time between SIGTERM and SIGKILL when a command is stopped. */
const KILL_GRACE_MS = 5_000;
/** Longest output line kept; longer lines are cut (a coordinator URL is far shorter). */
const LINE_LENGTH = 1_000;
/** Output of one command passed on to logs and heartbeats; the rest is counted, not kept. */
const OUTPUT_KEPT = 64_000;
/** Longest output line quoted in an error message. */
const QUOTED_LENGTH = 200;

/**
 * The options of the profile a plan's `{ type: command, profile, parameters }` names in the worker
 * policy; refuses (non-retryable `ProvisionerNotAllowed`) without a policy, for an unknown profile
 * and for a parameter the profile does not declare.
 */
export function profileOptions(
  config: CommandConfig,
  policy: WorkerPolicy | undefined,
  gatewayUrl: string,
): Omit<CommandProvisionerOptions, 'signal'> {
  if (policy === undefined) {
    throw notAllowed(
      `the command provisioner (profile "${config.profile}") needs a worker policy, and this worker runs without one ` +
        '(CUTOVER_POLICY_FILE is not set): it runs no commands. Its operators define profiles in the policy (README: Worker policy)',
    );
  }
  const profiles = policy.provisioners.profiles;
  const profile = Object.hasOwn(profiles, config.profile) ? profiles[config.profile] : undefined;
  if (profile === undefined) {
    const known = Object.keys(profiles);
    throw notAllowed(
      `the worker policy has no provisioner profile "${config.profile}" (${known.length ? `profiles: ${known.join(', ')}` : 'it defines none'}): ` +
        "name one of its profiles in green.provisioner.profile, or ask the worker's operators to add it",
    );
  }
  const undeclared = Object.keys(config.parameters).filter((name) => !profile.parameters.includes(name));
  if (undeclared.length > 0) {
    throw notAllowed(
      `provisioner profile "${config.profile}" does not declare the parameter${undeclared.length > 1 ? 's' : ''} ${undeclared.join(', ')} ` +
        `(${profile.parameters.length ? `it declares: ${profile.parameters.join(', ')}` : 'it declares none'}): remove ${undeclared.length > 1 ? 'them' : 'it'} from green.provisioner.parameters`,
    );
  }
  const env: Record<string, string> = { ...profile.env, CUTOVER_GATEWAY_URL: gatewayUrl };
  for (const [name, value] of Object.entries(config.parameters)) env[parameterVariable(name)] = value;
  return {
    create: profile.create,
    delete: profile.delete,
    status: profile.status,
    timeoutMs: durationMs(profile.timeout),
    env,
  };
}

/** `valuesFile` → `CUTOVER_PARAM_VALUES_FILE`: one underscore before each capital, so two names never share a variable. */
export function parameterVariable(name: string): string {
  return `CUTOVER_PARAM_${name.replace(/[A-Z]/g, (capital) => `_${capital}`).toUpperCase()}`;
}

function notAllowed(message: string): IntegrationError {
  return new IntegrationError(message, 'ProvisionerNotAllowed', false);
}

/** Runs the create/delete/status commands of a worker policy profile (helm, terraform, ...) through `/bin/sh -c`. */
export class CommandProvisioner implements Provisioner {
  constructor(private readonly options: CommandProvisionerOptions) {}

  /** Runs `status`, and `create` only when the cluster is absent. */
  async ensureCluster(spec: ClusterSpec, onProgress?: (message: string) => void): Promise<ProvisionedCluster> {
    const env = specEnv(spec);
    const presence = await this.presence(env, onProgress);
    if (presence.state === 'present') {
      onProgress?.(`command: cluster ${spec.name} already exists at ${presence.url}`);
      return { name: spec.name, url: presence.url, created: false };
    }
    const outcome = await this.run('create', env, onProgress);
    if (outcome.exitCode !== 0) throw this.failure('create', outcome);
    const url = spec.url ?? this.url('create', outcome.lastStdoutLine);
    onProgress?.(`command: cluster ${spec.name} created at ${url}`);
    return { name: spec.name, url, created: true };
  }

  /** Runs `status` with CUTOVER_CLUSTER_NAME set. */
  async describeCluster(name: string): Promise<ClusterPresence> {
    return this.presence({ CUTOVER_CLUSTER_NAME: name });
  }

  /** Runs `status`, and `delete` only when the cluster is present. */
  async deleteCluster(name: string, onProgress?: (message: string) => void): Promise<boolean> {
    const presence = await this.presence({ CUTOVER_CLUSTER_NAME: name }, onProgress);
    if (presence.state === 'absent') {
      onProgress?.(`command: cluster ${name} is already absent`);
      return false;
    }
    const outcome = await this.run(
      'delete',
      { CUTOVER_CLUSTER_NAME: name, CUTOVER_CLUSTER_URL: presence.url },
      onProgress,
    );
    if (outcome.exitCode !== 0) throw this.failure('delete', outcome);
    onProgress?.(`command: cluster ${name} deleted`);
    return true;
  }

  /** Nothing to release: commands end with their calls. */
  async close(): Promise<void> {}

  /** Absent on exit code 3 or on exit 0 without output; present on exit 0 with a URL as the last stdout line. */
  private async presence(
    env: Record<string, string>,
    onProgress?: (message: string) => void,
  ): Promise<ClusterPresence> {
    const outcome = await this.run('status', env, onProgress);
    if (outcome.exitCode === STATUS_ABSENT || (outcome.exitCode === 0 && outcome.lastStdoutLine === undefined)) {
      return { state: 'absent' };
    }
    if (outcome.exitCode !== 0) throw this.failure('status', outcome);
    return { state: 'present', url: this.url('status', outcome.lastStdoutLine) };
  }

  /** The coordinator URL a command printed: http(s), without user info, query or fragment (it is kept in history). */
  private url(kind: CommandKind, line: string | undefined): string {
    if (line !== undefined && /^https?:\/\/\S+$/.test(line) && URL.canParse(line)) {
      const url = new URL(line);
      if (url.username === '' && url.password === '' && url.search === '' && url.hash === '') {
        return line.replace(/\/+$/, '');
      }
    }
    throw new IntegrationError(
      `the ${kind} command must print the coordinator URL (http:// or https://, without user info, query or fragment) as its last line of output, ` +
        `but printed ${line === undefined ? 'nothing' : JSON.stringify(cap(redact(line), QUOTED_LENGTH))}`,
      'ProvisionerOutputInvalid',
      false,
    );
  }

  private failure(kind: CommandKind, outcome: CommandOutcome): IntegrationError {
    const ending =
      outcome.exitCode === null ? `was killed by ${outcome.exitSignal}` : `exited with code ${outcome.exitCode}`;
    const last = outcome.lastLine === undefined ? '' : ` (last output: ${cap(outcome.lastLine, QUOTED_LENGTH)})`;
    return new IntegrationError(`the ${kind} command ${ending}${last}`, 'ProvisionerCommandFailed', true);
  }

  /** Runs one command in its own process group, streaming its output lines as they come. */
  private run(
    kind: CommandKind,
    env: Record<string, string>,
    onProgress?: (message: string) => void,
  ): Promise<CommandOutcome> {
    const { signal, timeoutMs } = this.options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      // detached: the shell leads a new process group, so stopping it also stops what it started.
      const child = spawn('/bin/sh', ['-c', this.options[kind]], {
        env: { ...inheritedEnv(), ...this.options.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      const outcome: CommandOutcome = { exitCode: null, exitSignal: null };
      let stopped: 'timeout' | 'abort' | undefined;
      let killTimer: NodeJS.Timeout | undefined;

      // SIGTERM to the group, SIGKILL after the grace: the SIGKILL goes even when the shell is gone by
      // then, since a child that ignores SIGTERM (or was started in the background) outlives it.
      const endGroup = (): void => {
        if (!signalGroup(child, 'SIGTERM') || killTimer) return;
        killTimer = setTimeout(() => signalGroup(child, 'SIGKILL'), KILL_GRACE_MS);
        killTimer.unref();
      };
      const stop = (reason: 'timeout' | 'abort'): void => {
        if (stopped) return;
        stopped = reason;
        endGroup();
      };
      // A command ends with its shell: what it left running in its group would outlive the call.
      child.on('exit', endGroup);
      const timer = setTimeout(() => stop('timeout'), timeoutMs);
      const onAbort = (): void => stop('abort');
      signal?.addEventListener('abort', onAbort, { once: true });

      // Output goes to logs, heartbeats and error messages: each line capped and redacted, the total capped.
      let passedOn = 0;
      let linesCut = 0;
      const follow = (stream: NodeJS.ReadableStream, isStdout: boolean): void => {
        createInterface({ input: stream, crlfDelay: Infinity }).on('line', (raw: string) => {
          const trimmed = raw.trim();
          if (trimmed === '') return;
          const line = cap(redact(trimmed), LINE_LENGTH);
          outcome.lastLine = line;
          // The URL is parsed from the line as printed; what is quoted of it is redacted then.
          if (isStdout) outcome.lastStdoutLine = cap(trimmed, LINE_LENGTH);
          if (passedOn >= OUTPUT_KEPT) {
            linesCut += 1;
            return;
          }
          passedOn += line.length;
          onProgress?.(`${kind}: ${line}`);
        });
      };
      follow(child.stdout, true);
      follow(child.stderr, false);

      const settle = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (linesCut > 0) onProgress?.(`${kind}: … ${linesCut} more lines of output not shown`);
      };
      child.on('error', (error) => {
        settle();
        reject(
          new IntegrationError(
            `the ${kind} command could not be started: ${error.message}`,
            'ProvisionerCommandFailed',
            true,
          ),
        );
      });
      child.on('close', (code, exitSignal) => {
        settle();
        if (stopped === 'abort') return reject(signal?.reason);
        if (stopped === 'timeout') {
          return reject(
            new IntegrationError(
              `the ${kind} command did not finish within ${formatMs(timeoutMs)} and was stopped`,
              'ProvisionerCommandTimedOut',
              true,
            ),
          );
        }
        outcome.exitCode = code;
        outcome.exitSignal = exitSignal;
        resolve(outcome);
      });
    });
  }
}

function specEnv(spec: ClusterSpec): Record<string, string> {
  const env: Record<string, string> = {
    CUTOVER_CLUSTER_NAME: spec.name,
    CUTOVER_TRINO_VERSION: spec.version,
    CUTOVER_ROUTING_GROUP: spec.routingGroup,
  };
  if (spec.url !== undefined) env.CUTOVER_CLUSTER_URL = spec.url;
  return env;
}

/** Only PATH and HOME of the worker's environment: its credentials and other secrets stay in the worker. */
function inheritedEnv(): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin' };
  if (process.env.HOME !== undefined) env.HOME = process.env.HOME;
  return env;
}

/** Signals the command's process group; false when it has no process left. */
function signalGroup(child: ChildProcess, name: NodeJS.Signals): boolean {
  if (child.pid === undefined) return false;
  try {
    process.kill(-child.pid, name);
    return true;
  } catch {
    // The group is already gone.
    return false;
  }
}

function formatMs(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000}m` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
