import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatewayJar, REAL_STACK_VERSIONS, trinoServer } from './artifacts';
import { startGateway, startPostgres, startTrino, type Component } from './components';
import { progress, stopAllServers } from './processes';

export { REAL_STACK_VERSIONS } from './artifacts';
export { progress } from './processes';

/** PostgreSQL, a real Trino Gateway and two real Trino coordinators (blue and green), all on 127.0.0.1. */
export interface RealStack {
  dir: string;
  postgres: Component;
  gateway: Component & { rulesPath: string };
  blue: Component & { version: string };
  green: Component & { version: string };
  /** Seconds from the first start until every component answered (artifacts already fetched). */
  startupSeconds: number;
  /** Seconds spent fetching and unpacking artifacts (0 when cached). */
  fetchSeconds: number;
  /** Stops everything started (process groups), keeps the directory when `keepDir` (logs after a failure). */
  stop(options?: { keepDir?: boolean }): Promise<void>;
}

/** Choices for one stack. */
export interface RealStackOptions {
  /** Blue runs Trino's file-based access control with these rules (`security.config-file` JSON). */
  blueAccessControlRules?: unknown;
  /** The gateway's `requestAnalyzerConfig.analyzeRequest` (default false, as in Trino Gateway). */
  analyzeRequest?: boolean;
}

/**
 * Fetches (Maven, cached) and starts the whole stack in parallel. Whatever it started is stopped
 * again if any component fails to start.
 */
export async function startRealStack(options: RealStackOptions = {}): Promise<RealStack> {
  const fetchStarted = Date.now();
  const [blueServer, greenServer, jar] = await Promise.all([
    trinoServer(REAL_STACK_VERSIONS.blue),
    trinoServer(REAL_STACK_VERSIONS.green),
    gatewayJar(),
  ]);
  const fetchSeconds = (Date.now() - fetchStarted) / 1000;
  const dir = mkdtempSync(join(process.env.CUTOVER_REAL_STACK_TMP ?? tmpdir(), 'cutover-real-'));
  progress(`working directory ${dir} (data directories and logs)`);
  const started = Date.now();
  const components: Component[] = [];
  const track = <T extends Component>(promise: Promise<T>): Promise<T> =>
    promise.then((component) => (components.push(component), component));
  const stopAll = async () => {
    await Promise.all(components.map((component) => component.process.stop()));
  };
  const postgres = track(startPostgres(dir));
  const blue = track(
    startTrino(dir, { name: 'trino-blue', ...blueServer, accessControlRules: options.blueAccessControlRules }),
  );
  const green = track(startTrino(dir, { name: 'trino-green', ...greenServer }));
  const gateway = track(
    postgres.then((pg) => startGateway(dir, { jar, dbPort: pg.port, analyzeRequest: options.analyzeRequest ?? false })),
  );
  const all = await Promise.allSettled([postgres, blue, green, gateway]);
  const failed = all.find((outcome) => outcome.status === 'rejected');
  if (failed) {
    // Also the components still starting, which are not in `components` yet.
    await stopAll();
    await stopAllServers();
    progress(`start-up failed; logs kept in ${dir}`);
    throw failed.reason;
  }
  const startupSeconds = (Date.now() - started) / 1000;
  progress(`stack up in ${startupSeconds.toFixed(1)} s (artifacts ${fetchSeconds.toFixed(1)} s)`);
  return {
    dir,
    postgres: await postgres,
    gateway: await gateway,
    blue: await blue,
    green: await green,
    startupSeconds,
    fetchSeconds,
    async stop(options = {}) {
      await stopAll();
      if (options.keepDir) progress(`stopped; logs kept in ${dir}`);
      else {
        rmSync(dir, { recursive: true, force: true });
        progress('stopped');
      }
    },
  };
}
