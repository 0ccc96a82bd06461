import { request, type Dispatcher } from 'undici';
import type { BackendHealth, BackendStore } from './gateway-backends';

/** How the monitor runs. */
export interface HealthMonitorOptions {
  /** Pause between the starts of two rounds (the real `monitor.taskDelay`). */
  intervalMs: number;
  /** Longest wait for one backend's answer before it counts as UNHEALTHY. */
  timeoutMs: number;
  dispatcher: Dispatcher;
}

/** The user the monitor logs into the coordinator UI with (any name works on an insecure Trino). */
const MONITOR_USER = 'trino-gateway';

async function getJson(
  url: string,
  options: Omit<Dispatcher.RequestOptions, 'origin' | 'path' | 'method'> & { dispatcher: Dispatcher },
): Promise<{ status: number; json?: unknown }> {
  const response = await request(url, { ...options, method: 'GET' });
  if (response.statusCode !== 200) {
    await response.body.dump();
    return { status: response.statusCode };
  }
  return { status: 200, json: await response.body.json() };
}

/** `/ui/api/stats` after a form login, as the UI_API monitor reads it; undefined when any step fails. */
async function clusterCounts(
  proxyTo: string,
  dispatcher: Dispatcher,
  signal: AbortSignal,
): Promise<Omit<BackendHealth, 'status'> | undefined> {
  try {
    const login = await request(`${proxyTo}/ui/login`, {
      method: 'POST',
      dispatcher,
      signal,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ username: MONITOR_USER, password: '' }).toString(),
    });
    await login.body.dump();
    const setCookie = login.headers['set-cookie'];
    const cookies = (Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []).map((c) => c.split(';')[0]);
    const stats = await getJson(`${proxyTo}/ui/api/stats`, {
      dispatcher,
      signal,
      headers: { cookie: cookies.join('; ') },
    });
    if (stats.status !== 200) return undefined;
    const body = stats.json as Record<string, unknown>;
    const count = (key: string): number => (typeof body[key] === 'number' ? body[key] : 0);
    return {
      runningQueryCount: count('runningQueries'),
      queuedQueryCount: count('queuedQueries'),
      numWorkerNodes: count('activeWorkers'),
    };
  } catch {
    return undefined;
  }
}

/**
 * One check like the INFO_API monitor: `GET {proxyTo}/v1/info`, 200 with starting=false is HEALTHY,
 * starting=true PENDING, anything else UNHEALTHY. Unlike the real INFO_API monitor (whose counts are
 * always 0), the sandbox also fills the query and worker counts as the UI_API monitor would, so
 * `/api/public/backends/{name}/state` and `/webapp/getAllBackends` show real numbers.
 */
async function checkBackend(proxyTo: string, options: HealthMonitorOptions, stop: AbortSignal): Promise<BackendHealth> {
  const signal = AbortSignal.any([stop, AbortSignal.timeout(options.timeoutMs)]);
  const unhealthy: BackendHealth = {
    status: 'UNHEALTHY',
    runningQueryCount: 0,
    queuedQueryCount: 0,
    numWorkerNodes: 0,
  };
  try {
    const info = await getJson(`${proxyTo}/v1/info`, { dispatcher: options.dispatcher, signal });
    if (info.status !== 200 || info.json === null || typeof info.json !== 'object') return unhealthy;
    const starting = (info.json as { starting?: unknown }).starting === true;
    const counts = await clusterCounts(proxyTo, options.dispatcher, signal);
    return {
      runningQueryCount: 0,
      queuedQueryCount: 0,
      numWorkerNodes: 0,
      ...counts,
      status: starting ? 'PENDING' : 'HEALTHY',
    };
  } catch {
    return unhealthy;
  }
}

/**
 * The gateway's ActiveClusterMonitor on release 17+: checks ALL backends, active or not, every
 * interval; the gateway is ready once the first round has finished.
 */
export class HealthMonitor {
  private readonly stopper = new AbortController();
  private timer?: NodeJS.Timeout;
  private rounds: Promise<void> = Promise.resolve();
  private ready = false;
  /** While true, rounds still run but their results are dropped: the health cache lags behind. */
  frozen = false;

  constructor(
    private readonly store: BackendStore,
    private readonly options: HealthMonitorOptions,
  ) {}

  /** True once a whole round has finished (what `/trino-gateway/readyz` reports). */
  get initialized(): boolean {
    return this.ready;
  }

  /** Starts the first round now and the next ones every interval. */
  start(): void {
    const loop = (): void => {
      const startedAt = Date.now();
      void this.checkNow().then(() => {
        if (this.stopper.signal.aborted) return;
        this.timer = setTimeout(loop, Math.max(0, startedAt + this.options.intervalMs - Date.now()));
      });
    };
    loop();
  }

  /** Runs one full round after any round in progress, so its results reflect the present. */
  checkNow(): Promise<void> {
    this.rounds = this.rounds.then(() => this.round());
    return this.rounds;
  }

  /** Stops scheduling and abandons checks in flight. */
  async stop(): Promise<void> {
    this.stopper.abort();
    clearTimeout(this.timer);
    await this.rounds;
  }

  private async round(): Promise<void> {
    if (this.stopper.signal.aborted) return;
    await Promise.all(
      this.store.all().map(async (backend) => {
        const health = await checkBackend(backend.proxyTo, this.options, this.stopper.signal);
        if (!this.stopper.signal.aborted && !this.frozen) this.store.applyHealth(backend.name, backend.proxyTo, health);
      }),
    );
    this.ready = true;
  }
}
