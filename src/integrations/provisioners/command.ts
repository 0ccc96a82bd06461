import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { IntegrationError } from '../errors';
import type { ClusterPresence, ClusterSpec, ProvisionedCluster, Provisioner } from './types';

/** The user's shell commands and how long one may run. */
export interface CommandProvisionerOptions {
  create: string;
  delete: string;
  status: string;
  timeoutMs: number;
  /** Stops a running command (its whole process group) when aborted. */
  signal?: AbortSignal;
}

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

/** Runs user-given create/delete/status commands (helm, terraform, ...) through `/bin/sh -c`. */
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

  private url(kind: CommandKind, line: string | undefined): string {
    if (line !== undefined && /^https?:\/\/\S+$/.test(line) && URL.canParse(line)) return line.replace(/\/+$/, '');
    throw new IntegrationError(
      `the ${kind} command must print the coordinator URL (http:// or https://) as its last line of output, ` +
        `but printed ${line === undefined ? 'nothing' : JSON.stringify(line.slice(0, 200))}`,
      'ProvisionerOutputInvalid',
      false,
    );
  }

  private failure(kind: CommandKind, outcome: CommandOutcome): IntegrationError {
    const ending =
      outcome.exitCode === null ? `was killed by ${outcome.exitSignal}` : `exited with code ${outcome.exitCode}`;
    const last = outcome.lastLine === undefined ? '' : ` (last output: ${outcome.lastLine.slice(0, 200)})`;
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
        env: { ...inheritedEnv(), ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      const outcome: CommandOutcome = { exitCode: null, exitSignal: null };
      let stopped: 'timeout' | 'abort' | undefined;
      let killTimer: NodeJS.Timeout | undefined;

      const stop = (reason: 'timeout' | 'abort'): void => {
        if (stopped) return;
        stopped = reason;
        signalGroup(child, 'SIGTERM');
        killTimer = setTimeout(() => signalGroup(child, 'SIGKILL'), KILL_GRACE_MS);
      };
      const timer = setTimeout(() => stop('timeout'), timeoutMs);
      const onAbort = (): void => stop('abort');
      signal?.addEventListener('abort', onAbort, { once: true });

      const follow = (stream: NodeJS.ReadableStream, isStdout: boolean): void => {
        createInterface({ input: stream, crlfDelay: Infinity }).on('line', (raw: string) => {
          const line = raw.trim();
          if (line === '') return;
          outcome.lastLine = line;
          if (isStdout) outcome.lastStdoutLine = line;
          onProgress?.(`${kind}: ${line}`);
        });
      };
      follow(child.stdout, true);
      follow(child.stderr, false);

      const settle = (): void => {
        clearTimeout(timer);
        clearTimeout(killTimer);
        signal?.removeEventListener('abort', onAbort);
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

/** The worker's environment without its own CUTOVER_* variables: no stale plan values, and its secrets stay in the worker. */
function inheritedEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('CUTOVER_')) env[key] = value;
  }
  return env;
}

function signalGroup(child: ChildProcess, name: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, name);
  } catch {
    // The group is already gone.
  }
}

function formatMs(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000}m` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
