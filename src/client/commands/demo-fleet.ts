import type { WorkflowHandle } from '@temporalio/client';
import { startLocalStack, type LocalStack } from '../../devserver/local-stack';
import { fleetPlanSchema } from '../../fleet/schema';
import { startQueryLoad, type LoadCounts, type LoadReport, type QueryLoad } from '../../sandbox/load';
import {
  FINAL_FLEET_PHASES,
  fleetStatusQuery,
  type FleetResult,
  type FleetStatus,
  type FleetWorkflow,
} from '../../workflows/fleet/messages';
import { runPage } from '../connection';
import { fleetRunHistories, startFleet } from '../fleets';
import { EXIT_FAILED, EXIT_OK, printLines } from '../output';
import { DEMO_USER_NAMES } from './demo-users';
import type { StackFlags } from './stack-flags';

/** The demo fleet's routing groups, each served by `<group>-blue` (Trino 470). */
export const FLEET_DEMO_GROUPS = ['adhoc', 'etl', 'bi', 'team-a', 'team-b', 'team-c'];
/** Queries in flight per group (6 groups: 18 at once), each 200-1500 ms. */
const CONCURRENCY_PER_GROUP = 3;
const QUERY_MS: [number, number] = [200, 1500];

const say = (line: string) => process.stderr.write(`${line}\n`);
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * `cutover demo --fleet`: six routing groups upgraded 470 -> 480 in three waves by the
 * `fleetUpgrade` workflow, under query load on every group through the gateway; progress as
 * waves and groups change, then a summary by wave and by group.
 */
export async function runFleetDemo(flags: StackFlags & { exit?: boolean }): Promise<number> {
  const started = Date.now();
  let stack: LocalStack | undefined;
  try {
    stack = await startLocalStack({
      ...flags,
      clusters: FLEET_DEMO_GROUPS.map((group) => ({ name: `${group}-blue`, version: '470', routingGroup: group })),
      routingGroup: FLEET_DEMO_GROUPS[0],
      say,
    });
    const namespace = stack.env.namespace ?? 'default';
    const document = fleetDemoDocument(stack.fleet.gatewayUrl);
    const fleet = fleetPlanSchema.parse(document);
    const loads = new Map<string, QueryLoad>(
      FLEET_DEMO_GROUPS.map((group) => [
        group,
        startQueryLoad({
          gatewayUrl: stack!.fleet.gatewayUrl,
          users: DEMO_USER_NAMES,
          concurrency: CONCURRENCY_PER_GROUP,
          durationMs: QUERY_MS,
          routingGroup: group,
        }),
      ]),
    );
    const handle = await startFleet(stack.env.client, document, fleet, { startedBy: 'cutover demo --fleet' });
    const link = runPage(stack.uiUrl, namespace, handle.workflowId);
    printLines(
      '',
      `fleet ${handle.workflowId} started: ${FLEET_DEMO_GROUPS.length} routing groups -> Trino ${fleet.version} in ${fleet.waves.length} waves`,
      `watch it in the Temporal UI: ${link}`,
      `query load: ${CONCURRENCY_PER_GROUP} queries at a time on each group (X-Trino-Routing-Group), through ${stack.fleet.gatewayUrl}`,
      '',
    );
    const result = await follow(handle, loads, started);
    const reports = new Map<string, LoadReport>();
    for (const [group, load] of loads) reports.set(group, await load.stop());
    const histories = await fleetRunHistories(stack.env.client, handle.workflowId);
    const events = histories.reduce((sum, history) => sum + (history.events?.length ?? 0), 0);
    const failed = printFleetSummary(result, reports, { events, runs: histories.length, link }, Date.now() - started);
    const ok = result.outcome === 'SUCCEEDED' && failed === 0;
    if (!flags.exit) {
      printLines('', `The Temporal UI stays up at ${stack.uiUrl} (the fleet: ${link}). Ctrl-C stops everything.`);
      await stack.running;
    }
    return ok ? EXIT_OK : EXIT_FAILED;
  } catch (error) {
    say(`cutover demo --fleet: ${(error as Error).message}`);
    return EXIT_FAILED;
  } finally {
    await stack?.stop();
  }
}

/** The fleet plan as an operator would write it: short timings so that the demo takes about a minute. */
export function fleetDemoDocument(gatewayUrl: string): Record<string, unknown> {
  return {
    name: 'demo-480',
    gateway: { url: gatewayUrl },
    version: '480',
    base: {
      strategy: 'blue-green',
      green: { provisioner: { type: 'sandbox', startupDelay: '1s' } },
      health: { interval: '500ms', timeout: '2m', smokeQueries: ['SELECT 1', 'SELECT version()'] },
      approval: { required: false },
      analysis: { interval: '1s' },
      bake: '4s',
      drain: { timeout: '2m', interval: '500ms', resultGrace: '1s' },
      retire: { keepBlueFor: '5s', teardown: true },
    },
    groups: [{ routingGroup: 'adhoc' }, { routingGroup: 'etl' }, { routingGroup: 'bi' }, { pattern: 'team-.*' }],
    waves: [
      { name: 'canary-groups', groups: ['adhoc'] },
      { name: 'quarter', share: '25%', maxParallel: 2, soak: '3s' },
      { name: 'rest', rest: true, maxParallel: 3 },
    ],
    onFailure: 'halt',
  };
}

/** Prints the fleet's timeline and each group's phase changes as they happen, until the fleet ends. */
async function follow(
  handle: WorkflowHandle<FleetWorkflow>,
  loads: Map<string, QueryLoad>,
  started: number,
): Promise<FleetResult> {
  let printed = 0;
  const phases = new Map<string, string>();
  let lastLoadLine = Date.now();
  for (;;) {
    const status = await handle.query(fleetStatusQuery).catch(() => undefined);
    if (status) {
      const dropped = status.timelineDropped ?? 0;
      for (const entry of status.timeline.slice(Math.max(0, printed - dropped)))
        printLines(`${entry.at.slice(11, 19)}  fleet   ${entry.message}`);
      printed = dropped + status.timeline.length;
      for (const member of status.members) {
        const shown = `${member.state}${member.phase && member.phase !== member.state ? ` ${member.phase}` : ''}`;
        if (member.state === 'PENDING' || phases.get(member.routingGroup) === shown) continue;
        phases.set(member.routingGroup, shown);
        printLines(
          `${new Date().toISOString().slice(11, 19)}  ${member.routingGroup.padEnd(7)} ${shown}, ${member.trafficPercent}% on ${member.green.name}`,
        );
      }
      if (Date.now() - lastLoadLine >= 10_000) {
        lastLoadLine = Date.now();
        const total = sum([...loads.values()].map((load) => load.report()));
        printLines(
          `${new Date().toISOString().slice(11, 19)}  load    ${total.finished} queries finished, ${total.failed} failed (${secs(Date.now() - started)})`,
        );
      }
      if (FINAL_FLEET_PHASES.has(status.phase)) return handle.result();
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function sum(counts: LoadCounts[]): LoadCounts {
  return counts.reduce(
    (total, count) => ({
      submitted: total.submitted + count.submitted,
      finished: total.finished + count.finished,
      failed: total.failed + count.failed,
    }),
    { submitted: 0, finished: 0, failed: 0 },
  );
}

const span = (from?: string, to?: string) => (from && to ? secs(Date.parse(to) - Date.parse(from)) : '-');

/** The summary; returns the number of failed queries. */
function printFleetSummary(
  result: FleetResult,
  reports: Map<string, LoadReport>,
  history: { events: number; runs: number; link: string },
  elapsedMs: number,
): number {
  const status: FleetStatus = result.status;
  const total = sum([...reports.values()]);
  const waveRows = status.waves.map(
    (wave) =>
      `  ${wave.name.padEnd(14)} ${wave.state.padEnd(8)} ${span(wave.startedAt, wave.endedAt).padStart(8)}  ${wave.groups.join(', ')}`,
  );
  const groupRows = status.members.map((member) => {
    const counts = reports.get(member.routingGroup) ?? { submitted: 0, finished: 0, failed: 0 };
    return `  ${member.routingGroup.padEnd(8)} ${(status.waves[member.wave]?.name ?? '').padEnd(14)} ${member.state.padEnd(11)} ${span(member.startedAt, member.endedAt).padStart(8)} ${String(counts.finished).padStart(9)} ${String(counts.failed).padStart(7)}`;
  });
  printLines(
    '',
    `== cutover demo --fleet: ${result.outcome} in ${secs(elapsedMs)}, ${status.members.length} groups, ${history.events} parent history events (${history.runs} run${history.runs === 1 ? '' : 's'})`,
    `  ${'wave'.padEnd(14)} ${'state'.padEnd(8)} ${'time'.padStart(8)}  groups`,
    ...waveRows,
    '',
    `  ${'group'.padEnd(8)} ${'wave'.padEnd(14)} ${'result'.padEnd(11)} ${'time'.padStart(8)} ${'finished'.padStart(9)} ${'failed'.padStart(7)}`,
    ...groupRows,
    `  ${'total'.padEnd(8)} ${''.padEnd(14)} ${''.padEnd(11)} ${''.padStart(8)} ${String(total.finished).padStart(9)} ${String(total.failed).padStart(7)}`,
    total.failed === 0
      ? `  ${total.submitted} queries, no client saw a failed query`
      : `  ${total.failed} of ${total.submitted} queries FAILED`,
    `  the fleet in the Temporal UI: ${history.link}`,
  );
  return total.failed;
}
