import { execFile, execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { java25Home } from './artifacts';
import { freePort, progress, startServer, waitFor, type ServerProcess } from './processes';

/** Repository root (for the config files under deploy/). */
export const REPO_ROOT = resolve(__dirname, '..', '..');

/** PostgreSQL binaries: `CUTOVER_PG_BIN`, else /usr/local/bin, else PATH. */
function pgBin(name: string): string {
  return process.env.CUTOVER_PG_BIN ? join(process.env.CUTOVER_PG_BIN, name) : name;
}

/** A started component: its address and how to stop it. */
export interface Component {
  name: string;
  url: string;
  port: number;
  /** Seconds from spawn until it answered. */
  startupSeconds: number;
  process: ServerProcess;
}

/** Where PostgreSQL's processes run as: PostgreSQL refuses to run as root. */
function pgUser(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
      return { uid, gid };
    } catch {
      // try the next one
    }
  }
  throw new Error('running as root and there is neither a postgres nor a nobody user to run PostgreSQL as');
}

/**
 * A private PostgreSQL: own data directory under `dir`, own port, 127.0.0.1 only, trust
 * authentication, with a database and a superuser `gateway`.
 */
export async function startPostgres(dir: string): Promise<Component> {
  const started = Date.now();
  const owner = pgUser();
  const data = join(dir, 'pgdata');
  const sockets = join(dir, 'pgsock');
  mkdirSync(data, { recursive: true });
  mkdirSync(sockets, { recursive: true });
  if (owner) {
    chmodSync(dir, 0o755);
    for (const path of [data, sockets]) chownSync(path, owner.uid, owner.gid);
  }
  const as = owner ? { uid: owner.uid, gid: owner.gid } : {};
  await new Promise<void>((resolveInit, reject) => {
    execFile(
      pgBin('initdb'),
      ['-D', data, '-U', 'gateway', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'],
      { ...as },
      (error, stdout, stderr) => (error ? reject(new Error(`initdb failed: ${stderr || stdout}`)) : resolveInit()),
    );
  });
  // CREATE DATABASE in single-user mode: no client binaries (psql, createdb) are needed.
  await new Promise<void>((resolveCreate, reject) => {
    const single = spawn(pgBin('postgres'), ['--single', '-D', data, 'postgres'], {
      ...as,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    single.stdout.on('data', (chunk) => (output += chunk));
    single.stderr.on('data', (chunk) => (output += chunk));
    single.on('exit', (code) =>
      code === 0 ? resolveCreate() : reject(new Error(`postgres --single failed (${code}): ${output}`)),
    );
    single.stdin.end('CREATE DATABASE gateway;\n');
  });
  const port = await freePort();
  const server = startServer(
    'postgres',
    pgBin('postgres'),
    [
      '-D',
      data,
      '-p',
      String(port),
      '-k',
      sockets,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'fsync=off',
      '-c',
      'full_page_writes=off',
    ],
    { logFile: join(dir, 'postgres.log'), ...as },
  );
  await waitFor('PostgreSQL accepting connections', () => canConnect(port), { timeoutMs: 30_000, server });
  const component = {
    name: 'postgres',
    url: `postgresql://127.0.0.1:${port}/gateway`,
    port,
    startupSeconds: (Date.now() - started) / 1000,
    process: server,
  };
  progress(`PostgreSQL on 127.0.0.1:${port} in ${component.startupSeconds.toFixed(1)} s`);
  return component;
}

async function canConnect(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolveConnect) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolveConnect(true);
    });
    socket.once('error', () => resolveConnect(false));
  });
}

/**
 * True when `url` answers 2xx with a body `accept` likes, within 2 s. The timer is our own: Node's
 * `AbortSignal.timeout` holds its signal only weakly, so a collected signal never aborts the fetch.
 */
async function httpOk(url: string, accept: (body: string) => boolean = () => true): Promise<boolean> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 2_000);
  try {
    const response = await fetch(url, { signal: controller.signal });
    const body = await response.text();
    return response.ok && accept(body);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A real Trino Gateway from its jar on Java 25, configured by deploy/real-stack/gateway-config.yaml
 * with a writable copy of deploy/gateway/routing-rules.yaml.
 */
export async function startGateway(
  dir: string,
  options: { jar: string; dbPort: number; analyzeRequest: boolean },
): Promise<Component & { rulesPath: string }> {
  const started = Date.now();
  const rulesPath = join(dir, 'routing-rules.yaml');
  copyFileSync(join(REPO_ROOT, 'deploy', 'gateway', 'routing-rules.yaml'), rulesPath);
  const port = await freePort();
  const java = java25Home();
  const server = startServer(
    'trino-gateway',
    join(java, 'bin', 'java'),
    [
      '-Xmx512m',
      '-XX:TieredStopAtLevel=1',
      '-jar',
      options.jar,
      join(REPO_ROOT, 'deploy', 'real-stack', 'gateway-config.yaml'),
    ],
    {
      cwd: dir,
      logFile: join(dir, 'gateway.log'),
      env: {
        ...process.env,
        JAVA_HOME: java,
        REAL_GATEWAY_PORT: String(port),
        REAL_GATEWAY_DB_PORT: String(options.dbPort),
        REAL_GATEWAY_DB_PASSWORD: 'unused-trust-auth',
        REAL_GATEWAY_RULES_PATH: rulesPath,
        REAL_GATEWAY_ANALYZE_REQUEST: String(options.analyzeRequest),
      },
    },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor('Trino Gateway ready (/trino-gateway/readyz)', () => httpOk(`${url}/trino-gateway/readyz`), {
    timeoutMs: 120_000,
    server,
  });
  const component = {
    name: 'trino-gateway',
    url,
    port,
    startupSeconds: (Date.now() - started) / 1000,
    process: server,
    rulesPath,
  };
  progress(`Trino Gateway on ${url} in ${component.startupSeconds.toFixed(1)} s`);
  return component;
}

/**
 * Starts a single-node (coordinator-only) Trino; resolves once it has started (`starting: false`).
 * `accessControlRules`: Trino's file-based system access control (`access-control.name=file`)
 * with these rules (the JSON of its `security.config-file`); default Trino's `default` access control.
 */
export async function startTrino(
  dir: string,
  options: { name: string; home: string; version: string; heap?: string; accessControlRules?: unknown },
): Promise<Component & { version: string }> {
  const started = Date.now();
  const port = await freePort();
  const base = join(dir, options.name);
  const etc = join(base, 'etc');
  const data = join(base, 'data');
  mkdirSync(etc, { recursive: true });
  mkdirSync(data, { recursive: true });
  writeFileSync(
    join(etc, 'node.properties'),
    [
      `node.environment=cutover`,
      `node.id=${options.name}`,
      `node.data-dir=${data}`,
      'node.bind-ip=127.0.0.1',
      'node.internal-address=127.0.0.1',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(etc, 'config.properties'),
    [
      'coordinator=true',
      'node-scheduler.include-coordinator=true',
      `http-server.http.port=${port}`,
      `discovery.uri=http://127.0.0.1:${port}`,
      // Behind Trino Gateway: nextUri/infoUri from the X-Forwarded-* headers, so clients keep polling through it.
      'http-server.process-forwarded=true',
      'query.max-memory=512MB',
      'query.max-memory-per-node=256MB',
      // Keep every query of the run in /v1/query: the test cross-checks the gateway's attribution with it.
      'query.max-history=100000',
      'query.min-expire-age=60m',
      ...(options.accessControlRules === undefined
        ? []
        : [`access-control.config-files=${join(etc, 'access-control.properties')}`]),
      '',
    ].join('\n'),
  );
  if (existsSync(join(options.home, 'plugin', 'tpch'))) {
    mkdirSync(join(etc, 'catalog'), { recursive: true });
    writeFileSync(join(etc, 'catalog', 'tpch.properties'), 'connector.name=tpch\n');
  }
  if (options.accessControlRules !== undefined) {
    writeFileSync(join(etc, 'rules.json'), JSON.stringify(options.accessControlRules, null, 2));
    writeFileSync(
      join(etc, 'access-control.properties'),
      ['access-control.name=file', `security.config-file=${join(etc, 'rules.json')}`, ''].join('\n'),
    );
  }
  writeFileSync(
    join(etc, 'jvm.config'),
    [
      '-server',
      `-Xmx${options.heap ?? '1G'}`,
      '-XX:+UseG1GC',
      '-XX:+ExitOnOutOfMemoryError',
      '-XX:ReservedCodeCacheSize=256M',
      '-Djdk.attach.allowAttachSelf=true',
      '-XX:+EnableDynamicAgentLoading',
      '',
    ].join('\n'),
  );
  writeFileSync(join(etc, 'log.properties'), 'io.trino=INFO\n');
  const java = java25Home();
  const server = startServer(
    'trino-' + options.name,
    join(options.home, 'bin', 'launcher'),
    ['run', `--etc-dir=${etc}`, `--data-dir=${data}`],
    {
      cwd: base,
      logFile: join(base, 'server.log'),
      env: { ...process.env, JAVA_HOME: java, PATH: `${join(java, 'bin')}:${process.env.PATH}` },
    },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    `Trino ${options.name} started`,
    () => httpOk(`${url}/v1/info`, (body) => (JSON.parse(body) as { starting?: boolean }).starting === false),
    {
      timeoutMs: 180_000,
      server,
      intervalMs: 500,
    },
  );
  const component = {
    name: options.name,
    url,
    port,
    version: options.version,
    startupSeconds: (Date.now() - started) / 1000,
    process: server,
  };
  progress(`Trino ${options.version} (${options.name}) on ${url} in ${component.startupSeconds.toFixed(1)} s`);
  return component;
}
