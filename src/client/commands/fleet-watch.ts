import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import type { Command } from 'commander';
import {
  FINAL_FLEET_PHASES,
  FINAL_MEMBER_STATES,
  type FleetMemberStatus,
  type FleetStatus,
  type FleetWaveStatus,
} from '../../workflows/fleet/messages';
import { EXIT_FAILED, EXIT_OK, clock, printJson, printLines, runVerb, withTemporal, type JsonOption } from '../output';
import { fleetIdOf, fleetJson, readFleet, type FleetView } from './fleet-handle';
import { fleetApproveHint } from './fleet-status';

const POLL_EVERY_MS = 1_000;
const QUERY_TIMEOUT_MS = 5_000;

/** `cutover fleet watch NAME|ID`: each change of the fleet, its waves and its groups until it ends; exit 0 only on SUCCEEDED. */
export function registerFleetWatch(fleet: Command): void {
  fleet
    .command('watch')
    .description(
      'follow a fleet until it ends: a line per change of its phase, a wave or a group (exit 0 on SUCCEEDED, 1 otherwise)',
    )
    .argument('<fleet>', 'name of the fleet (e.g. sandbox-480) or its workflow id (cutover-fleet-sandbox-480)')
    .option('--json', 'print one JSON object per change (the fleet as `fleet status --json` and its changes)')
    .action((nameOrId: string, options: JsonOption) =>
      runVerb(options, () => {
        const id = fleetIdOf(nameOrId);
        return withTemporal(({ client }) => followFleet(client, id, { json: options.json === true }));
      }),
    );
}

/** One change a watcher is told about, in words. */
export interface FleetChange {
  kind: 'fleet' | 'wave' | 'group';
  /** The fleet's name, the wave's name or the routing group. */
  subject: string;
  text: string;
}

/** Follows a fleet until its run ends and returns the exit code its outcome deserves. */
export async function followFleet(client: Client, id: string, options: { json: boolean }): Promise<number> {
  let previous: FleetView | undefined;
  let lastStatus: FleetStatus | undefined;
  for (let first = true; ; first = false) {
    if (!first) await sleep(POLL_EVERY_MS);
    const view = await readFleet(client, id, QUERY_TIMEOUT_MS);
    const changes = fleetViewChanges(previous, view, lastStatus);
    lastStatus = view.status ?? lastStatus;
    if (changes.length) {
      if (options.json) printJson({ ...fleetJson(view), changes }, true);
      else printLines(...changes.map((change) => `${clock(new Date())}  ${change.text}`));
    }
    previous = view;
    const ending = fleetEnding(view);
    if (ending) {
      if (!options.json) printLines(ending.message);
      return ending.exitCode;
    }
  }
}

/** A fleet has ended when its phase is final, or when its run closed (terminated, cancelled, ...). */
export function fleetEnding(view: FleetView): { phase: string; exitCode: number; message: string } | undefined {
  const phase = view.status?.phase ?? view.phase;
  const finalPhase = view.status ? FINAL_FLEET_PHASES.has(view.status.phase) : false;
  if (!finalPhase && view.executionStatus === 'RUNNING') return undefined;
  const completed = view.executionStatus === 'RUNNING' || view.executionStatus === 'COMPLETED';
  const exitCode = phase === 'SUCCEEDED' && completed ? EXIT_OK : EXIT_FAILED;
  const message =
    phase && FINAL_FLEET_PHASES.has(phase as never)
      ? `fleet ${view.id} ended: ${phase}${view.status?.error ? ` (${view.status.error})` : ''}`
      : `fleet ${view.id} ended: workflow ${view.executionStatus} in phase ${phase ?? 'unknown'}; check \`cutover fleet list ${view.status?.name ?? view.name ?? view.id}\` for its groups' upgrades`;
  return { phase: phase ?? 'unknown', exitCode, message };
}

/**
 * What changed between two readings of a fleet, worker answers or not; `lastStatus` is the latest
 * status a worker gave, so that a worker back after a gap reports only what changed meanwhile.
 */
export function fleetViewChanges(
  previous: FleetView | undefined,
  next: FleetView,
  lastStatus: FleetStatus | undefined,
): FleetChange[] {
  const name = next.status?.name ?? next.name ?? next.id;
  const changes: FleetChange[] = [];
  if (!next.status) {
    if (!previous || previous.status || previous.workerProblem !== next.workerProblem)
      changes.push({
        kind: 'fleet',
        subject: name,
        text:
          next.workerPolling === false
            ? `${next.workerProblem}: start one with \`cutover worker\`; still watching`
            : `no status from a worker (${next.workerProblem}); check the worker's log; still watching`,
      });
    const shown = previous && !previous.status ? previous.phase : lastStatus?.phase;
    if (next.phase !== shown)
      changes.push({ kind: 'fleet', subject: name, text: `fleet ${name}: ${next.phase ?? 'unknown phase'}` });
    return changes;
  }
  if (previous && !previous.status) changes.push({ kind: 'fleet', subject: name, text: 'a worker answers again' });
  return [...changes, ...fleetChanges(lastStatus, next.status)];
}

/**
 * What changed between two statuses of a fleet: its phase, pause and halt; each wave's state
 * (started, awaiting approval, approved, soaking, done); each group's state, phase, traffic and step.
 * Against no previous status, the fleet as it stands (groups still pending are not listed).
 */
export function fleetChanges(previous: FleetStatus | undefined, next: FleetStatus): FleetChange[] {
  const fleet = (text: string): FleetChange => ({ kind: 'fleet', subject: next.name, text });
  const changes: FleetChange[] = [];
  if (next.phase !== previous?.phase) {
    const wave = next.waves[next.wave] as FleetWaveStatus | undefined;
    const where = wave && !FINAL_FLEET_PHASES.has(next.phase) ? `, wave ${next.wave + 1}/${next.waves.length}` : '';
    changes.push(fleet(`fleet ${next.name}: ${next.phase}${where}${next.error ? ` (${next.error})` : ''}`));
  }
  if (next.paused !== (previous?.paused ?? false))
    changes.push(
      fleet(
        next.paused
          ? `fleet paused: no new group starts (resume with \`cutover fleet resume ${next.name}\`)`
          : 'fleet resumed',
      ),
    );
  if (next.halted && (next.halted.routingGroup !== previous?.halted?.routingGroup || !previous.halted))
    changes.push(
      fleet(
        `fleet HALTED by ${next.halted.routingGroup}: ${next.halted.reason}; \`cutover fleet status ${next.name}\` says how to resume, roll back or cancel`,
      ),
    );
  next.waves.forEach((wave, index) => {
    const before = previous?.waves[index];
    if (before?.state === wave.state || (!before && wave.state === 'PENDING')) return;
    changes.push({ kind: 'wave', subject: wave.name, text: `wave ${index + 1} ${wave.name}: ${waveText(next, wave)}` });
  });
  for (const member of next.members) {
    const before = previous?.members.find((each) => each.routingGroup === member.routingGroup);
    if (!before && member.state === 'PENDING') continue;
    if (
      before &&
      before.state === member.state &&
      before.phase === member.phase &&
      before.trafficPercent === member.trafficPercent &&
      before.step === member.step
    )
      continue;
    changes.push({ kind: 'group', subject: member.routingGroup, text: memberText(member) });
  }
  return changes;
}

function waveText(status: FleetStatus, wave: FleetWaveStatus): string {
  switch (wave.state) {
    case 'PENDING':
      return 'pending';
    case 'AWAITING_APPROVAL':
      return `awaits approval (${wave.groups.join(', ')}): ${fleetApproveHint(status.name)}`;
    case 'RUNNING':
      return `started (${wave.groups.join(', ')}, ${wave.maxParallel} at a time)${wave.approvedBy ? `, approved by ${wave.approvedBy}` : ''}`;
    case 'SOAKING':
      return `soaking${wave.soak ? ` ${wave.soak}` : ''}${wave.soakUntil ? ` until ${clock(wave.soakUntil)}` : ''}`;
    case 'DONE':
      return 'done';
    case 'STOPPED':
      return 'stopped';
    default: {
      const unknown: never = wave.state;
      return String(unknown);
    }
  }
}

function memberText(member: FleetMemberStatus): string {
  const facts = [
    member.state,
    ...(member.phase && member.phase !== member.state ? [member.phase] : []),
    `${member.trafficPercent}% green`,
    ...(FINAL_MEMBER_STATES.has(member.state)
      ? member.reason
        ? [member.reason]
        : []
      : member.step
        ? [member.step]
        : []),
  ];
  return `${member.routingGroup}: ${facts.join(' · ')}`;
}
