import type { Command } from 'commander';
import { counted } from '../../plural';
import type { FleetMemberStatus, FleetStatus, FleetWaveStatus, MemberState } from '../../workflows/fleet/messages';
import { findUiLink } from '../connection';
import { clock, printJson, printLines, runVerb, table, withTemporal, type JsonOption } from '../output';
import { fleetIdOf, fleetJson, readFleet, type FleetView } from './fleet-handle';

const STATUS_QUERY_TIMEOUT_MS = 10_000;
const RECENT_TIMELINE_LINES = 8;

/** Member states in the order counts are shown. */
const MEMBER_STATES: readonly MemberState[] = [
  'RUNNING',
  'WARM',
  'SUCCEEDED',
  'UP_TO_DATE',
  'PENDING',
  'ROLLED_BACK',
  'FAILED',
  'BLOCKED',
  'SKIPPED',
];

/** `cutover fleet status NAME|ID`: where a fleet is, group by group and wave by wave. */
export function registerFleetStatus(fleet: Command): void {
  fleet
    .command('status')
    .description("show a fleet's phase, its waves with each group's state, phase and traffic, and its recent timeline")
    .argument('<fleet>', 'name of the fleet (e.g. sandbox-480) or its workflow id (cutover-fleet-sandbox-480)')
    .option('--json', 'print the status as JSON')
    .action((nameOrId: string, options: JsonOption) =>
      runVerb(options, () => {
        const id = fleetIdOf(nameOrId);
        return withTemporal(async (temporal) => {
          const view = await readFleet(temporal.client, id, STATUS_QUERY_TIMEOUT_MS);
          const ui = await findUiLink(temporal, view.id, view.runId);
          if (options.json) printJson({ ...fleetJson(view), ...('url' in ui ? { uiUrl: ui.url } : {}) });
          else printLines(...renderFleetView(view), `  UI:       ${'url' in ui ? ui.url : ui.hint}`);
        });
      }),
    );
}

/** Human lines for a fleet: the full status when a worker answered, else what describe knows. */
export function renderFleetView(view: FleetView): string[] {
  const ended =
    view.executionStatus !== 'RUNNING'
      ? ` (workflow ${view.executionStatus}${view.closeTime ? ` at ${clock(view.closeTime)}` : ''})`
      : '';
  const stuck = view.failingWorkflowTaskAttempt
    ? [
        `  WORKFLOW TASK FAILING (attempt ${view.failingWorkflowTaskAttempt}): the fleet is stuck until the worker's code is fixed; see the worker's log`,
      ]
    : [];
  if (view.status) return [...renderFleetStatus(view.status, ended), ...stuck];
  const name = view.name ?? view.id;
  return [
    `${view.id}  fleet ${name}${view.targetVersion ? ` -> Trino ${view.targetVersion}` : ''}${ended}`,
    `  phase:    ${view.phase ?? 'unknown'} (from search attributes)`,
    `  started:  ${view.startTime}`,
    ...stuck,
    view.workerPolling === false
      ? `  ${view.workerProblem}: start one with \`cutover worker\` (or \`cutover dev\`) for the full status and to act on the fleet`
      : `  no status from the worker (${view.workerProblem}); check the worker's log and the run in the UI`,
    `  groups:   \`cutover fleet list ${name}\` lists its groups' upgrades from the search attributes`,
  ];
}

/** The fleet's status: phase, what it waits for, counts per state, each wave's table, recent timeline. */
export function renderFleetStatus(status: FleetStatus, ended = ''): string[] {
  const wave = status.waves[status.wave] as FleetWaveStatus | undefined;
  return [
    `${status.id}  fleet ${status.name}: ${counted(status.members.length, 'group')} -> Trino ${status.version} behind ${status.gateway}, on failure ${status.onFailure}${ended}`,
    `  phase:    ${status.phase}${status.paused ? `  PAUSED (resume with \`cutover fleet resume ${status.name}\`)` : ''}`,
    ...(wave ? [`  wave:     ${status.wave + 1}/${status.waves.length} ${wave.name}: ${wave.state}`] : []),
    `  groups:   ${memberCounts(status.members)}`,
    ...attentionLines(status),
    ...(status.error ? [`  error:    ${status.error}`] : []),
    ...status.waves.flatMap((each, index) => waveBlock(status, each, index)),
    ...recentLines(status),
  ];
}

/** `2 RUNNING, 1 SUCCEEDED, 3 PENDING`: members per state, in a fixed order. */
export function memberCounts(members: FleetMemberStatus[]): string {
  const counts = MEMBER_STATES.map(
    (state) => [state, members.filter((member) => member.state === state).length] as const,
  )
    .filter(([, count]) => count > 0)
    .map(([state, count]) => `${count} ${state}`);
  return counts.length ? counts.join(', ') : 'none';
}

/** What the fleet waits for and the commands that answer it. */
function attentionLines(status: FleetStatus): string[] {
  const name = status.name;
  const lines: string[] = [];
  if (status.halted)
    lines.push(
      `  HALTED:   ${status.halted.routingGroup}: ${status.halted.reason}`,
      `            \`cutover fleet resume ${name}\` goes on with the groups not started, \`cutover fleet rollback ${name} --reason "..."\` rolls back the warm ones, \`cutover fleet cancel ${name}\` ends it`,
    );
  if (status.awaitingApproval) {
    const next = status.waves[status.wave] as FleetWaveStatus | undefined;
    lines.push(
      `  AWAITING APPROVAL${next ? ` of wave ${status.wave + 1} ${next.name} (${next.groups.join(', ')})` : ''}: ${fleetApproveHint(name)}`,
    );
  }
  return lines;
}

export function fleetApproveHint(name: string): string {
  return `approve with \`cutover fleet approve ${name}\`, or stop with \`cutover fleet cancel ${name}\``;
}

function waveBlock(status: FleetStatus, wave: FleetWaveStatus, index: number): string[] {
  const how = [
    ...(wave.approval ? [`approval first${wave.approvedBy ? ` (approved by ${wave.approvedBy})` : ''}`] : []),
    `${wave.maxParallel} at a time`,
    ...(wave.soak ? [`soak ${wave.soak}${wave.soakUntil ? ` until ${clock(wave.soakUntil)}` : ''}`] : []),
  ].join(', ');
  const when = wave.startedAt ? `, ${clock(wave.startedAt)}-${wave.endedAt ? clock(wave.endedAt) : ''}` : '';
  const rows = table(
    ['GROUP', 'STATE', 'PHASE', 'TRAFFIC', 'STEP OR REASON', 'STARTED', 'ENDED'],
    wave.groups.map((group) => {
      // A group the fleet has not reported yet waits for its turn.
      const member = status.members.find((each) => each.routingGroup === group);
      return [
        group,
        member?.state ?? 'PENDING',
        member?.phase ?? '-',
        `${member?.trafficPercent ?? 0}%`,
        member?.reason ?? member?.step ?? '-',
        member?.startedAt ? clock(member.startedAt) : '-',
        member?.endedAt ? clock(member.endedAt) : '-',
      ];
    }),
  );
  return [
    `  wave ${index + 1} ${wave.name}: ${wave.state} (${how}${when})`,
    ...rows.split('\n').map((line) => `    ${line}`),
  ];
}

function recentLines(status: FleetStatus): string[] {
  const recent = status.timeline.slice(-RECENT_TIMELINE_LINES);
  if (!recent.length) return [];
  const dropped = status.timelineDropped
    ? [
        `    (${counted(status.timelineDropped, 'earlier timeline entry', 'earlier timeline entries')} not kept; the workflow's history has every event)`,
      ]
    : [];
  return ['  recent:', ...recent.map((entry) => `    ${clock(entry.at)}  ${entry.message}`), ...dropped];
}
