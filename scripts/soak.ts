/**
 * `npm run soak`: a long run under query load on one routing group of the sandbox fleet, with
 * real `cutover worker` processes on a real Temporal dev server:
 *
 *   1. blue/green  soak-470 -> soak-480  (the worker is killed with SIGKILL while it bakes; a new one takes over)
 *   2. canary      soak-480 -> soak-481  (routing-rule traffic 10% -> 50% -> 100%, FILE rules in the gateway)
 *   3. rollback    soak-481 -> soak-482  (blue/green rolled back by `rollback` during its bake)
 *
 * Each upgrade starts from the state the previous one left: the green of one is the blue of the
 * next. The query load runs across all three and goes on until at least `--queries` were submitted.
 * Exit 0 only when every upgrade ended as expected and no query failed.
 *
 * Flags: --queries N (default 10000), --concurrency N (default 16), --users N (default 400).
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { table } from '../src/client/output';
import { startUpgrade } from '../src/client/upgrades';
import { startDevServer } from '../src/devserver/dev-server';
import { sleep, untilHealthy, waitForStatus } from '../src/devserver/wait';
import { startWorkerProcess, type WorkerProcess } from '../src/devserver/worker-process';
import { canaryReadyRules } from '../src/sandbox/canary-rules';
import { merge, type Overrides } from '../src/plan/merge';
import type { UpgradePlan } from '../src/plan/schema';
import { startSandboxFleet, type SandboxFleet } from '../src/sandbox/fleet';
import { sandboxPlan } from '../src/sandbox/plan';
import { startQueryLoad, type LoadCounts, type LoadReport, type QueryLoad } from '../src/sandbox/load';
import { rollbackUpdate, statusQuery, type UpgradeResult } from '../src/workflows/messages';

const GROUP = 'soak';
const RULES_REFRESH_MS = 500;
const HEALTH_INTERVAL_MS = 200;

function flag(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  if (index < 0) return fallback;
  const value = Number(process.argv[index + 1]);
  if (!Number.isInteger(value) || value <= 0) {
    process.stderr.write(`soak: --${name} needs a positive whole number\n`);
    process.exit(2);
  }
  return value;
}

const TARGET_QUERIES = flag('queries', 10_000);
const CONCURRENCY = flag('concurrency', 16);
const USERS = flag('users', 400);

const started = Date.now();
const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s`;
const say = (line: string): void => void process.stdout.write(`[${elapsed()}] ${line}\n`);

/** One upgrade of the sequence: how it is started, driven and what it must end as. */
interface Stage {
  title: string;
  expect: UpgradeResult['outcome'];
  plan: UpgradePlan;
  /** Drives the upgrade while it runs (kill the worker, send a rollback). */
  drive?: (handle: WorkflowHandle) => Promise<void>;
}

interface StageResult {
  title: string;
  expect: string;
  outcome: string;
  seconds: number;
  detail: string;
}

function plan(green: { name: string; version: string }, extra: Overrides, gatewayUrl: string): UpgradePlan {
  const soak: Overrides = {
    gateway: { requestTimeout: '5s' },
    green: { name: green.name, version: green.version, provisioner: { startupDelay: '1s' } },
    health: { interval: '250ms', timeout: '1m', smokeQueries: ['SELECT 1', 'SELECT version()'] },
    approval: { required: false },
    bake: '5s',
    drain: { timeout: '2m', interval: '250ms' },
    retire: { keepBlueFor: '2s' },
  };
  return sandboxPlan(gatewayUrl, GROUP, merge(soak, extra), `soak plan for ${green.name}`);
}

async function main(): Promise<number> {
  let env: TestWorkflowEnvironment | undefined;
  let fleet: SandboxFleet | undefined;
  let load: QueryLoad | undefined;
  const workers: WorkerProcess[] = [];
  let progress: NodeJS.Timeout | undefined;
  let current: { title: string; handle: WorkflowHandle } | undefined;

  const cleanup = async (): Promise<void> => {
    if (progress) clearInterval(progress);
    await Promise.all(workers.map((worker) => worker.kill('SIGTERM')));
    await fleet?.stop().catch(() => undefined);
    await env?.teardown().catch(() => undefined);
  };
  process.once('SIGINT', () => {
    say('interrupted: stopping');
    void cleanup().then(() => process.exit(130));
  });

  try {
    say(`soak: ${TARGET_QUERIES} queries or more, ${CONCURRENCY} in flight, ${USERS} users, routing group ${GROUP}`);
    env = await startDevServer({ log: (line) => say(line) });
    say(`Temporal dev server at ${env.address}`);
    fleet = await startSandboxFleet({
      healthIntervalMs: HEALTH_INTERVAL_MS,
      rulesRefreshMs: RULES_REFRESH_MS,
      // FILE rules as a canary-ready gateway has them: the routing-group header, then cutover's canary rule at 0%.
      rules: canaryReadyRules(`${GROUP}-canary`),
      clusters: [{ name: 'soak-470', version: '470', routingGroup: GROUP }],
    });
    say(`sandbox fleet: gateway ${fleet.gatewayUrl}, soak-470 (Trino 470) active in ${GROUP}`);
    const gatewayUrl = fleet.gatewayUrl;
    await untilHealthy(fleet, 'soak-470', 15_000);

    const first = startWorkerProcess(env.address);
    workers.push(first);
    await first.ready;
    say(`worker pid ${first.child.pid} polls task queue cutover`);

    load = startQueryLoad({
      gatewayUrl,
      users: USERS,
      concurrency: CONCURRENCY,
      durationMs: [20, 400],
      routingGroup: GROUP,
    });
    const running = load;
    progress = setInterval(() => void printProgress(env!.client, running, current), 5_000);

    const stages: Stage[] = [
      {
        title: 'blue/green 470 -> 480 (worker SIGKILLed while baking)',
        expect: 'SUCCEEDED',
        plan: plan({ name: 'soak-480', version: '480' }, { bake: '20s' }, gatewayUrl),
        drive: async (handle) => {
          await waitForStatus(handle, (s) => s.phase === 'BAKING', 'BAKING', 120_000);
          await sleep(3_000);
          const victim = workers.at(-1)!;
          say(`killing worker pid ${victim.child.pid} with SIGKILL while ${GROUP} bakes on soak-480`);
          await victim.kill('SIGKILL');
          const next = startWorkerProcess(env!.address);
          workers.push(next);
          await next.ready;
          say(`new worker pid ${next.child.pid} started; the bake resumes after the heartbeat timeout`);
        },
      },
      {
        title: 'canary 480 -> 481 (routing-rule 10% -> 50% -> 100%)',
        expect: 'SUCCEEDED',
        plan: plan(
          { name: 'soak-481', version: '481' },
          {
            strategy: 'canary',
            bake: '4s',
            canary: {
              traffic: 'routing-rule',
              rulesRefresh: `${RULES_REFRESH_MS}ms`,
              steps: [
                { weight: 10, bake: '20s' },
                { weight: 50, bake: '20s' },
                { weight: 100, bake: '5s' },
              ],
              analysis: { interval: '1s', maxConsecutiveFailures: 2 },
            },
          },
          gatewayUrl,
        ),
      },
      {
        title: 'blue/green 481 -> 482, rolled back while baking',
        expect: 'ROLLED_BACK',
        plan: plan({ name: 'soak-482', version: '482' }, { bake: '10m' }, gatewayUrl),
        drive: async (handle) => {
          await waitForStatus(handle, (s) => s.phase === 'BAKING', 'BAKING', 120_000);
          await sleep(15_000);
          const ack = await handle.executeUpdate(rollbackUpdate, {
            args: [{ by: 'soak', reason: 'soak: rollback drill during the bake' }],
          });
          say(`rollback sent: ${ack.message}`);
        },
      },
    ];

    const results: StageResult[] = [];
    for (const stage of stages) {
      const stageStart = Date.now();
      const blue = (await activeBackends(gatewayUrl)).join(', ');
      say(`== ${stage.title}: blue ${blue} -> green ${stage.plan.green.name} (Trino ${stage.plan.green.version})`);
      const handle = (await startUpgrade(env.client, stage.plan, { startedBy: 'soak' })) as unknown as WorkflowHandle;
      current = { title: stage.title, handle };
      const driving = stage.drive?.(handle);
      let outcome: string;
      let detail = '';
      try {
        const result = (await handle.result()) as UpgradeResult;
        outcome = result.outcome;
        detail = result.reason ?? `${result.status.green.name} serves ${GROUP}`;
      } catch (error) {
        outcome = 'FAILED';
        detail = (error as { cause?: Error }).cause?.message ?? (error as Error).message;
      }
      await driving?.catch((error: Error) => {
        detail += `; driver failed: ${error.message}`;
        outcome = `${outcome} (driver failed)`;
      });
      current = undefined;
      const seconds = (Date.now() - stageStart) / 1000;
      results.push({ title: stage.title, expect: stage.expect, outcome, seconds, detail });
      say(
        `== ${stage.title}: ${outcome} in ${seconds.toFixed(1)} s (${detail}); now serving ${GROUP}: ${(await activeBackends(gatewayUrl)).join(', ')}`,
      );
    }

    while (running.report().submitted < TARGET_QUERIES) await sleep(250);
    say(`${running.report().submitted} queries submitted: stopping the load and waiting for queries in flight`);
    const report = await running.stop();
    load = undefined;
    if (progress) clearInterval(progress);

    const groupUnserved = fleet
      .journal(started)
      .filter((entry) => entry.kind === 'group.unserved' && entry.group === GROUP).length;
    const ok = printSummary(report, results, groupUnserved, workers.length);
    return ok ? 0 : 1;
  } catch (error) {
    say(`soak aborted: ${(error as Error).stack ?? String(error)}`);
    for (const worker of workers)
      process.stderr.write(`--- worker pid ${worker.child.pid} output (tail) ---\n${worker.output().slice(-3000)}\n`);
    return 1;
  } finally {
    if (load) await load.stop().catch(() => undefined);
    await cleanup();
  }
}

async function printProgress(
  client: Client,
  load: QueryLoad,
  current: { title: string; handle: WorkflowHandle } | undefined,
): Promise<void> {
  let where = 'between upgrades';
  if (current) {
    try {
      // A query waits for a worker: while the killed one is replaced, give up after 2 s.
      const handle = client.workflow.getHandle(current.handle.workflowId);
      const status = await client.connection.withDeadline(Date.now() + 2_000, () => handle.query(statusQuery));
      where = `${status.strategy} ${status.phase}${status.paused ? ' (paused)' : ''}, ${status.trafficPercent}% on ${status.green.name}`;
    } catch {
      where = `${current.title}: no worker answers the status query (restarting?)`;
    }
  }
  const counts = load.report();
  say(`queries ${counts.submitted} submitted / ${counts.finished} finished / ${counts.failed} failed; ${where}`);
}

/** Per cluster: `soak-481-canary` is green's second gateway entry and counts as soak-481. */
function byCluster(report: LoadReport): [string, LoadCounts][] {
  const clusters = new Map<string, LoadCounts>();
  for (const [backend, counts] of Object.entries(report.byBackend)) {
    const name = backend.replace(/-canary$/, '');
    const sum = clusters.get(name) ?? { submitted: 0, finished: 0, failed: 0 };
    sum.submitted += counts.submitted;
    sum.finished += counts.finished;
    sum.failed += counts.failed;
    clusters.set(name, sum);
  }
  return [...clusters.entries()].sort(([a], [b]) => a.localeCompare(b));
}

function printSummary(report: LoadReport, results: StageResult[], groupUnserved: number, workerCount: number): boolean {
  const seconds = (Date.now() - started) / 1000;
  const rows = byCluster(report).map(([name, c]) => [name, String(c.submitted), String(c.finished), String(c.failed)]);
  rows.push(['total', String(report.submitted), String(report.finished), String(report.failed)]);
  const allExpected = results.every((result) => result.outcome === result.expect);
  const enough = report.submitted >= TARGET_QUERIES;
  const ok = allExpected && report.failed === 0 && enough;
  const lines = [
    '',
    `== soak ${ok ? 'PASSED' : 'FAILED'} in ${seconds.toFixed(1)} s: ${report.submitted} queries (${(report.submitted / seconds).toFixed(0)}/s), ${workerCount} worker processes (one SIGKILLed)`,
    '',
    table(['cluster', 'submitted', 'finished', 'failed'], rows),
    '',
    table(
      ['upgrade', 'expected', 'outcome', 'duration', 'detail'],
      results.map((r) => [r.title, r.expect, r.outcome, `${r.seconds.toFixed(1)} s`, r.detail]),
    ),
    '',
    `routing group ${GROUP} without an active HEALTHY backend: ${groupUnserved} time(s)`,
  ];
  if (!enough) lines.push(`only ${report.submitted} of ${TARGET_QUERIES} queries were submitted`);
  if (!allExpected) lines.push('an upgrade did not end as expected');
  const failed = report.queries.filter((query) => query.state === 'FAILED');
  if (failed.length > 0) {
    lines.push(`${failed.length} queries failed, e.g.:`);
    for (const query of failed.slice(0, 5))
      lines.push(`  ${query.user} on ${query.backend}: ${query.error ?? 'FAILED'}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return ok;
}

async function activeBackends(gatewayUrl: string): Promise<string[]> {
  const backends = (await (await fetch(`${gatewayUrl}/gateway/backend/active`)).json()) as {
    name: string;
    routingGroup: string;
  }[];
  return backends.filter((backend) => backend.routingGroup === GROUP).map((backend) => backend.name);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`soak: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
