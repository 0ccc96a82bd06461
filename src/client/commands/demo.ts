import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Option, type Command } from 'commander';
import type { WorkflowHandle } from '@temporalio/client';
import { SANDBOX_RULES_REFRESH_MS, startLocalStack, type LocalStack } from '../../devserver/local-stack';
import { validatePlan } from '../../plan/load';
import type { UpgradePlan } from '../../plan/schema';
import { startQueryLoad, type LoadReport } from '../../sandbox/load';
import { FINAL_PHASES, statusQuery, type UpgradeResult, type UpgradeStatus } from '../../workflows/messages';
import { runPage } from '../connection';
import { EXIT_FAILED, EXIT_OK, printLines, UsageError } from '../output';
import { startUpgrade } from '../upgrades';
import { FLEET_DEMO_GROUPS, runFleetDemo } from './demo-fleet';
import { DEMO_USER_NAMES, DEMO_USERS } from './demo-users';
import { parseClusterList, stackOptions, type StackFlags } from './stack-flags';

interface DemoFlags extends StackFlags {
  exit?: boolean;
  fleet?: boolean;
  bake: string;
  strategy: 'blue-green' | 'canary';
}

/** `cutover demo`: the embedded stack plus a real upgrade under query load, approved from the CLI. */
export function registerDemo(program: Command): void {
  stackOptions(
    program
      .command('demo')
      .description(
        'run `cutover dev` plus a real upgrade (blue/green or canary) under query load, approved from the CLI, and print what clients saw',
      )
      .option('--exit', 'stop everything when the upgrade ends (default: keep the Temporal UI up until Ctrl-C)')
      .addOption(
        new Option('--strategy <strategy>', 'upgrade strategy').choices(['blue-green', 'canary']).default('blue-green'),
      )
      .option('--bake <duration>', 'bake time after the flip', '10s')
      .option(
        '--fleet',
        `upgrade a fleet of ${FLEET_DEMO_GROUPS.length} routing groups (${FLEET_DEMO_GROUPS.join(', ')}) in 3 waves instead, each group under query load`,
      ),
  ).action(async (flags: DemoFlags, command: Command) => {
    if (flags.fleet) {
      const clash = ['clusters', 'routingGroup', 'strategy', 'bake'].find(
        (option) => command.getOptionValueSource(option) === 'cli',
      );
      if (clash) throw new UsageError(`--fleet starts its own clusters and plan: drop --${kebab(clash)}`);
      process.exitCode = await runFleetDemo(flags);
      return;
    }
    process.exitCode = await runDemo(flags);
  });
}

const kebab = (name: string) => name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);

const say = (line: string) => process.stderr.write(`${line}\n`);

async function runDemo(flags: DemoFlags): Promise<number> {
  const started = Date.now();
  let stack: LocalStack | undefined;
  try {
    stack = await startLocalStack({ ...flags, clusters: parseClusterList(flags.clusters, flags.routingGroup), say });
    const plan = demoPlan(stack.fleet.gatewayUrl, flags);
    const namespace = stack.env.namespace ?? 'default';
    const load = startQueryLoad({
      gatewayUrl: stack.fleet.gatewayUrl,
      users: DEMO_USER_NAMES,
      concurrency: DEMO_CONCURRENCY,
      durationMs: [200, 2500],
    });
    const handle = await startUpgrade(stack.env.client, plan, { startedBy: 'cutover demo' });
    printLines(
      '',
      `upgrade ${handle.workflowId} started: ${plan.routingGroup} ${plan.blue?.backends.join(', ') ?? 'blue'} -> ${plan.green.name} ${plan.green.version}`,
      `watch it in the Temporal UI: ${runPage(stack.uiUrl, namespace, handle.workflowId)}`,
      `query load: ${DEMO_USERS} users, ${DEMO_CONCURRENCY} at a time, through ${stack.fleet.gatewayUrl}`,
      '',
    );
    const result = await follow(handle, stack);
    const report = await load.stop();
    const events = (await handle.fetchHistory()).events?.length ?? 0;
    printSummary(result, report, events, Date.now() - started);
    const ok = result.outcome === 'SUCCEEDED' && report.failed === 0;
    if (!flags.exit) {
      printLines(
        '',
        `The Temporal UI stays up at ${stack.uiUrl} (the run: ${runPage(stack.uiUrl, namespace, handle.workflowId)}). Ctrl-C stops everything.`,
      );
      await stack.running;
    }
    return ok ? EXIT_OK : EXIT_FAILED;
  } catch (error) {
    say(`cutover demo: ${(error as Error).message}`);
    return EXIT_FAILED;
  } finally {
    await stack?.stop();
  }
}

/**
 * Queries in flight: about 9 a second at 200-2500 ms each, so that a 10% canary ends about 4
 * queries in each 5 s analysis sample (with fewer, samples with none were inconclusive).
 */
const DEMO_CONCURRENCY = 12;

function demoPlan(gatewayUrl: string, flags: DemoFlags): UpgradePlan {
  const canary = {
    traffic: 'routing-rule',
    steps: [{ weight: 10, bake: '10s' }, { weight: 50, bake: '10s' }, { weight: 100 }],
    rulesRefresh: `${SANDBOX_RULES_REFRESH_MS}ms`,
    analysis: { interval: '5s' },
  };
  return validatePlan(
    {
      strategy: flags.strategy,
      // Blue/green bakes are analysed too: a sample every 2 s fits several into the demo's bake.
      ...(flags.strategy === 'canary' ? { canary } : { analysis: { interval: '2s' } }),
      gateway: { url: gatewayUrl },
      routingGroup: flags.routingGroup,
      green: { name: 'trino-green', version: '480', provisioner: { type: 'sandbox', startupDelay: '3s' } },
      health: { interval: '1s', timeout: '2m', smokeQueries: ['SELECT 1', 'SELECT version()'] },
      approval: { required: true, timeout: '10m' },
      bake: flags.bake,
      drain: { timeout: '5m', interval: '1s', resultGrace: '2s' },
      retire: { keepBlueFor: '10s', teardown: true },
    },
    'demo plan',
  );
}

/** Prints the timeline as it grows, and approves through the real CLI once green is ready. */
async function follow(handle: WorkflowHandle, stack: LocalStack): Promise<UpgradeResult> {
  let printed = 0;
  let approved = false;
  for (;;) {
    const status = await handle.query(statusQuery).catch(() => undefined);
    if (status) {
      // `printed` counts from the first entry: the status keeps only the latest ones.
      const dropped = status.timelineDropped ?? 0;
      for (const entry of status.timeline.slice(Math.max(0, printed - dropped)))
        printLines(`${entry.at.slice(11, 19)}  ${entry.phase.padEnd(17)} ${entry.message}`);
      printed = dropped + status.timeline.length;
      if (status.awaitingApproval && !approved) {
        approved = true;
        await approveWithCli(status, stack);
      }
      if (FINAL_PHASES.has(status.phase)) return handle.result() as Promise<UpgradeResult>;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function approveWithCli(status: UpgradeStatus, stack: LocalStack): Promise<void> {
  printLines(
    '',
    `green is ready for testing at ${status.green.url}; approving in 3 s with: cutover approve ${status.id} --by demo`,
    '',
  );
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const cli = join(__dirname, '..', '..', '..', 'bin', 'cutover.js');
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [cli, 'approve', status.id, '--by', 'demo', '--comment', 'approved by cutover demo'],
    {
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: stack.temporalAddress,
        TEMPORAL_NAMESPACE: stack.env.namespace ?? 'default',
      },
    },
  );
  printLines(`$ cutover approve ${status.id} --by demo`, stdout.trim(), '');
}

function printSummary(result: UpgradeResult, report: LoadReport, events: number, elapsedMs: number): void {
  const rows = Object.entries(report.byBackend).map(
    ([backend, counts]) =>
      `  ${backend.padEnd(14)} ${String(counts.submitted).padStart(9)} ${String(counts.finished).padStart(9)} ${String(counts.failed).padStart(7)}`,
  );
  printLines(
    '',
    `== cutover demo: ${result.outcome}${result.reason ? ` (${result.reason})` : ''} in ${(elapsedMs / 1000).toFixed(1)} s, ${events} history events`,
    `  ${'backend'.padEnd(14)} ${'submitted'.padStart(9)} ${'finished'.padStart(9)} ${'failed'.padStart(7)}`,
    ...rows,
    `  ${'total'.padEnd(14)} ${String(report.submitted).padStart(9)} ${String(report.finished).padStart(9)} ${String(report.failed).padStart(7)}`,
    report.failed === 0 ? '  no client saw a failed query' : `  ${report.failed} queries FAILED`,
  );
}
