import { readdirSync, readFileSync } from 'node:fs';
import { sleep } from '../src/devserver/wait';
import type { UpgradeResult } from '../src/workflows/messages';
import { benchPlan } from './plans';
import { out, table, type Row } from './report';
import { progress, type Stack } from './stack';
import { median, percentile } from './stats';

const CLUSTERS_PER_FLEET = 50;
const DEADLINE_MS = 20 * 60_000;

interface ScaleResult {
  n: number;
  wallMs: number;
  succeeded: number;
  failures: string[];
  upgradeMedianMs: number;
  upgradeP95Ms: number;
  workerCpuS: number;
  workerPeakRssMiB: number;
  fleetCpuS: number;
  serverCpuS?: number;
}

/** CPU ticks of the Temporal dev server listening on `port` (found in /proc by its command line), if visible. */
function devServerTicks(port: string): number | undefined {
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (!cmdline.includes('start-dev') || !cmdline.includes(port)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone or not ours
    }
  }
  return undefined;
}

async function runScale(stack: Stack, n: number): Promise<ScaleResult> {
  const prefix = stack.group('s');
  const groups = Array.from({ length: n }, (_, i) => `${prefix}x${i}`);
  progress(`scale ${n}: starting ${Math.ceil(n / CLUSTERS_PER_FLEET)} sandbox fleet(s) with ${n} blue clusters`);
  const fleets = [];
  for (let i = 0; i < n; i += CLUSTERS_PER_FLEET) {
    const slice = groups.slice(i, i + CLUSTERS_PER_FLEET);
    fleets.push({
      groups: slice,
      fleet: await stack.fleet({
        healthIntervalMs: 1000,
        clusters: slice.map((group) => ({ name: `${group}-blue`, version: '470', routingGroup: group })),
      }),
    });
  }
  const worker = await stack.startWorker();
  await sleep(2000); // let the fleets' first health rounds pass
  const port = stack.env.address.split(':').pop() ?? '';
  const serverBefore = devServerTicks(port);
  const fleetCpuBefore = process.cpuUsage();
  worker.resetCounters();
  const t0 = Date.now();
  progress(`scale ${n}: starting ${n} blue/green upgrades`);
  const plans = fleets.flatMap(({ groups: slice, fleet }) =>
    slice.map((group) =>
      benchPlan(fleet.gatewayUrl, group, {
        green: { provisioner: { startupDelay: '1s' } },
        health: { interval: '1s' },
        bake: '5s',
        drain: { interval: '1s' },
        retire: { keepBlueFor: '1s' },
      }),
    ),
  );
  const outcomes: Promise<UpgradeResult | Error>[] = [];
  for (let i = 0; i < plans.length; i += 50) {
    const handles = await Promise.all(plans.slice(i, i + 50).map((plan) => stack.start(plan)));
    for (const handle of handles) outcomes.push(stack.result(handle).catch((error: Error) => error));
  }
  progress(`scale ${n}: all started in ${((Date.now() - t0) / 1000).toFixed(1)} s; waiting for them to finish`);
  let done = 0;
  const ticker = setInterval(
    () =>
      progress(
        `scale ${n}: ${done}/${n} finished after ${((Date.now() - t0) / 1000).toFixed(0)} s; worker CPU ${worker.cpuSeconds().toFixed(1)} s, peak RSS ${worker.peakRssMiB().toFixed(0)} MiB`,
      ),
    15_000,
  );
  for (const outcome of outcomes) void outcome.then(() => (done += 1));
  const deadline = new Promise<'deadline'>((resolve) => setTimeout(() => resolve('deadline'), DEADLINE_MS).unref());
  const settled = await Promise.race([Promise.all(outcomes), deadline]);
  clearInterval(ticker);
  const wallMs = Date.now() - t0;
  const workerCpuS = worker.cpuSeconds();
  const workerPeakRssMiB = worker.peakRssMiB();
  const fleetCpu = process.cpuUsage(fleetCpuBefore);
  const serverAfter = devServerTicks(port);
  const failures: string[] = [];
  const durations: number[] = [];
  let succeeded = 0;
  if (settled === 'deadline') failures.push(`${n - done} did not finish within ${DEADLINE_MS / 60_000} min`);
  for (const outcome of settled === 'deadline' ? [] : settled) {
    if (outcome instanceof Error) failures.push(outcome.message);
    else if (outcome.outcome !== 'SUCCEEDED')
      failures.push(`${outcome.status.id}: ${outcome.outcome} ${outcome.reason ?? ''}`);
    else {
      succeeded += 1;
      const timeline = outcome.status.timeline;
      durations.push(Date.parse(timeline[timeline.length - 1].at) - Date.parse(timeline[0].at));
    }
  }
  await stack.terminateOpen();
  await stack.stopWorker();
  await stack.stopFleets();
  const result: ScaleResult = {
    n,
    wallMs,
    succeeded,
    failures,
    upgradeMedianMs: median(durations),
    upgradeP95Ms: percentile(durations, 95),
    workerCpuS,
    workerPeakRssMiB,
    fleetCpuS: (fleetCpu.user + fleetCpu.system) / 1e6,
    serverCpuS:
      serverBefore !== undefined && serverAfter !== undefined ? (serverAfter - serverBefore) / 100 : undefined,
  };
  progress(
    `scale ${n}: ${succeeded}/${n} succeeded in ${(wallMs / 1000).toFixed(1)} s; worker CPU ${workerCpuS.toFixed(1)} s, peak RSS ${workerPeakRssMiB.toFixed(0)} MiB${failures.length ? `; failures: ${failures.slice(0, 3).join(' | ')}` : ''}`,
  );
  return result;
}

/** Row 4: N concurrent blue/green upgrades on one worker process. */
export async function scale(stack: Stack, sizes: number[]): Promise<Row[]> {
  const results: ScaleResult[] = [];
  for (const n of sizes) results.push(await runScale(stack, n));
  out(
    '## 4. Scale: N concurrent blue/green upgrades on one `cutover worker` process (2 cores shared with the dev server and the fleets)',
  );
  out(
    'each: own routing group, sandbox provisioner (startupDelay 1s), health.interval 1s, bake 5s, drain.interval 1s, keepBlueFor 1s; fleets of ≤50 clusters, gateway health every 1s',
  );
  out(
    table(
      [
        'N',
        'all done in',
        'succeeded',
        'failures',
        'upgrade median / p95',
        'worker CPU',
        'worker peak RSS',
        'fleets+client CPU',
        'dev server CPU',
      ],
      results.map((r) => [
        String(r.n),
        `${(r.wallMs / 1000).toFixed(1)} s`,
        String(r.succeeded),
        String(r.failures.length),
        `${(r.upgradeMedianMs / 1000).toFixed(1)} / ${(r.upgradeP95Ms / 1000).toFixed(1)} s`,
        `${r.workerCpuS.toFixed(1)} s (${((100 * r.workerCpuS * 1000) / r.wallMs).toFixed(0)}% of a core)`,
        `${r.workerPeakRssMiB.toFixed(0)} MiB`,
        `${r.fleetCpuS.toFixed(1)} s`,
        r.serverCpuS === undefined ? 'n/a' : `${r.serverCpuS.toFixed(1)} s`,
      ]),
    ),
  );
  for (const r of results.filter((r) => r.failures.length))
    out(`failures at N=${r.n}: ${r.failures.slice(0, 5).join(' | ')}`);
  out(
    'method: worker CPU = utime+stime of the worker process (all threads, incl. the Rust core) from /proc/<pid>/stat, from the first start to the last result; ' +
      "peak RSS = VmHWM after resetting it (clear_refs) once the worker was up, cross-checked with 250 ms VmRSS samples; upgrade time from each result's timeline.",
  );
  out();
  return results.map((r) => ({
    row: `4. scale N=${r.n}: time to complete, worker CPU, peak RSS, failures`,
    measured: `${(r.wallMs / 1000).toFixed(1)} s, ${r.workerCpuS.toFixed(1)} s CPU, ${r.workerPeakRssMiB.toFixed(0)} MiB, ${r.failures.length} failures`,
    target: `${r.n} complete, 0 failures`,
    met: r.succeeded === r.n && r.failures.length === 0,
    note: r.failures.length ? r.failures[0] : undefined,
  }));
}
