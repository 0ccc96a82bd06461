import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { sleep } from '../../src/devserver/wait';

/** Progress lines of the real stack, on stderr (the test runner keeps stdout for its report). */
export function progress(message: string): void {
  process.stderr.write(`[real-stack ${new Date().toISOString().slice(11, 23)}] ${message}\n`);
}

/** A free TCP port on 127.0.0.1 (closed again before it is returned). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** A server process started in its own process group, output to a log file. */
export interface ServerProcess {
  name: string;
  pid: number;
  logFile: string;
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited: Promise<string>;
  /** SIGTERM to the process group, SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
  /** The last `lines` lines of its log, for failure messages. */
  tail(lines?: number): string;
}

const running = new Set<ChildProcess>();
const servers = new Set<ServerProcess>();

/** Stops every server started by this process that is still running (also those still starting). */
export async function stopAllServers(): Promise<void> {
  await Promise.all([...servers].map((server) => server.stop()));
}
let exitHookInstalled = false;

/** Kills every process group still running when the test process exits, whatever the reason. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const killAll = () => {
    for (const child of running) {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      // Someone else (scripts/real-stack/start.ts) handles the signal and stops things gracefully.
      if (process.listenerCount(signal) > 0) return;
      killAll();
      process.exit(130);
    });
  }
}

/** Starts `command` detached (own process group) with stdout and stderr appended to `logFile`. */
export function startServer(
  name: string,
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; logFile: string; uid?: number; gid?: number },
): ServerProcess {
  installExitHook();
  const log = createWriteStream(options.logFile, { flags: 'a' });
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.uid !== undefined ? { uid: options.uid, gid: options.gid } : {}),
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  running.add(child);
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve(signal ?? String(code));
    });
  });
  const pid = child.pid;
  const tail = (lines = 30) => {
    try {
      return readFileSync(options.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };
  const server: ServerProcess = {
    name,
    pid,
    logFile: options.logFile,
    exited,
    tail,
    async stop(graceMs = 10_000) {
      if (!running.has(child)) return;
      const signalGroup = (signal: NodeJS.Signals) => {
        try {
          process.kill(-pid, signal);
        } catch {
          // already gone
        }
      };
      signalGroup('SIGTERM');
      const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      // Children of the leader that outlived it (none expected) go with the group.
      signalGroup('SIGKILL');
    },
  };
  servers.add(server);
  void exited.then(() => servers.delete(server));
  return server;
}

/**
 * Polls `check` until it returns true; fails early when `server` exits, with its log tail. A check
 * that has not answered within `checkTimeoutMs` counts as false and the next one starts: a fetch
 * whose own abort signal never fired once held a whole test file for 15 minutes on a gateway that
 * had been ready for 14 of them.
 */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  options: { timeoutMs: number; server?: ServerProcess; intervalMs?: number; checkTimeoutMs?: number },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let exitedWith: string | undefined;
  void options.server?.exited.then((code) => (exitedWith = code));
  for (;;) {
    if (exitedWith !== undefined) {
      throw new Error(
        `${options.server!.name} exited (${exitedWith}) before ${what}; ${options.server!.logFile}:\n${options.server!.tail()}`,
      );
    }
    if (await within(check(), options.checkTimeoutMs ?? 5_000)) return;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${options.timeoutMs / 1000} s waiting for ${what}${options.server ? `; ${options.server.logFile}:\n${options.server.tail()}` : ''}`,
      );
    }
    await sleep(options.intervalMs ?? 250);
  }
}

/** `answer`, or false once `ms` have passed without it (or when it fails). */
async function within(answer: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([answer.catch(() => false), late]);
  } finally {
    clearTimeout(timer);
  }
}
