import { spawn } from 'node:child_process';
import { constants, createWriteStream } from 'node:fs';
import { access, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

/** The newest Temporal CLI tag that `go install` accepts (later tags carry replace directives). */
export const TEMPORAL_CLI_VERSION = '1.5.1';
const MODULE = 'github.com/temporalio/cli/cmd/temporal';

export interface TemporalCliLocation {
  path: string;
  source: 'TEMPORAL_CLI_PATH' | 'PATH' | 'cache' | 'built';
}

/** Per-user cache folder shared by every clone of the project on this machine. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'cutover', `temporal-${TEMPORAL_CLI_VERSION}`);
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function onPath(binary: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && (await isExecutable(join(dir, binary)))) return join(dir, binary);
  }
  return undefined;
}

/** Finds the Temporal CLI without building it: TEMPORAL_CLI_PATH, then `temporal` on PATH, then the cache. */
export async function findTemporalCli(env: NodeJS.ProcessEnv = process.env): Promise<TemporalCliLocation | undefined> {
  if (env.TEMPORAL_CLI_PATH) {
    if (!(await isExecutable(env.TEMPORAL_CLI_PATH))) {
      throw new Error(`TEMPORAL_CLI_PATH=${env.TEMPORAL_CLI_PATH} is not an executable file; fix it or unset it`);
    }
    return { path: env.TEMPORAL_CLI_PATH, source: 'TEMPORAL_CLI_PATH' };
  }
  const fromPath = await onPath('temporal', env);
  if (fromPath) return { path: fromPath, source: 'PATH' };
  const cached = join(cacheDir(env), 'temporal');
  if (await isExecutable(cached)) return { path: cached, source: 'cache' };
  return undefined;
}

/**
 * Returns a Temporal CLI, building it once from the Go module proxy into the per-user cache when
 * none is found. The build takes minutes on 2 cores, so it reports progress through `log`.
 */
export async function ensureTemporalCli(
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
  env: NodeJS.ProcessEnv = process.env,
): Promise<TemporalCliLocation> {
  const found = await findTemporalCli(env);
  if (found) return found;

  const target = cacheDir(env);
  await mkdir(target, { recursive: true });
  // Build into a private folder and rename, so an interrupted build never leaves a broken binary.
  const staging = await mkdtemp(join(target, 'build-'));
  const logPath = join(target, 'build.log');
  log(
    `temporal CLI not found: building ${MODULE}@v${TEMPORAL_CLI_VERSION} into ${target} (first time only; several minutes; log ${logPath})`,
  );
  const started = Date.now();
  const ticker = setInterval(
    () => log(`  still building the temporal CLI (${Math.round((Date.now() - started) / 1000)} s)`),
    20_000,
  );
  try {
    await runGoInstall(staging, logPath, env);
    await rename(join(staging, 'temporal'), join(target, 'temporal'));
  } finally {
    clearInterval(ticker);
    await rm(staging, { recursive: true, force: true });
  }
  log(`temporal CLI built in ${Math.round((Date.now() - started) / 1000)} s: ${join(target, 'temporal')}`);
  return { path: join(target, 'temporal'), source: 'built' };
}

function runGoInstall(gobin: string, logPath: string, env: NodeJS.ProcessEnv): Promise<void> {
  const ldflags = `-s -w -X github.com/temporalio/cli/temporalcli.Version=${TEMPORAL_CLI_VERSION}`;
  const args = ['install', '-ldflags', ldflags, `${MODULE}@v${TEMPORAL_CLI_VERSION}`];
  const output = createWriteStream(logPath);
  return new Promise((resolve, reject) => {
    const child = spawn('go', args, {
      env: {
        ...env,
        GOBIN: gobin,
        CGO_ENABLED: '0',
        GOFLAGS: '-buildvcs=false',
        GOTOOLCHAIN: env.GOTOOLCHAIN ?? 'auto',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.pipe(output, { end: false });
    child.stderr.pipe(output, { end: false });
    child.on('error', (error) => {
      output.end();
      reject(
        new Error(`cannot run go (${error.message}); install Go 1.25+ or set TEMPORAL_CLI_PATH to a temporal binary`),
      );
    });
    child.on('close', (code) => {
      output.end();
      if (code === 0) resolve();
      else
        reject(
          new Error(`go install ${MODULE}@v${TEMPORAL_CLI_VERSION} failed with exit code ${code}; see ${logPath}`),
        );
    });
  });
}
