import { counted } from '../../plural';
import type { FleetMemberStatus, FleetStatus, MemberState } from './messages';

/** Groups shown per wave in the UI's details; the rest are counted (`cutover fleet status` lists them all). */
const ROWS_PER_WAVE = 60;

const STATE_ORDER: MemberState[] = [
  'RUNNING',
  'WARM',
  'SUCCEEDED',
  'UP_TO_DATE',
  'ROLLED_BACK',
  'FAILED',
  'BLOCKED',
  'PENDING',
  'SKIPPED',
];

/** `3 SUCCEEDED, 2 RUNNING, 1 PENDING`: the members by state, in a fixed order. */
export function memberCounts(members: readonly FleetMemberStatus[]): string {
  return STATE_ORDER.flatMap((state) => {
    const count = members.filter((member) => member.state === state).length;
    return count > 0 ? [`${count} ${state}`] : [];
  }).join(', ');
}

/** The fleet's current details in the Temporal UI: its phase, then a table of groups by wave (phase, traffic, result). */
export function renderFleetDetails(status: FleetStatus): string {
  const lines = [
    `### Fleet ${status.name}: Trino ${status.version}, ${status.phase}${status.paused ? ' (paused)' : ''}`,
    '',
    `- ${counted(status.members.length, 'routing group')} behind ${status.gateway}: ${memberCounts(status.members)}`,
    `- wave ${Math.min(status.wave + 1, status.waves.length)} of ${status.waves.length}: ${status.waves[status.wave]?.name ?? 'done'}; on failure: ${status.onFailure}`,
    ...(status.halted
      ? [
          `- **halted**: ${status.halted.routingGroup}: ${status.halted.reason}. Running groups finish; \`cutover fleet resume ${status.name}\` goes on, \`cutover fleet rollback ${status.name}\` undoes the warm ones`,
        ]
      : []),
    ...(status.awaitingApproval
      ? [
          `- **waiting for an approval** of ${status.waves[status.wave]?.name}: \`cutover fleet approve ${status.name}\``,
        ]
      : []),
    ...(status.error ? [`- error: ${status.error}`] : []),
  ];
  status.waves.forEach((wave, index) => {
    const members = status.members.filter((member) => member.wave === index);
    lines.push(
      '',
      `#### ${index + 1}. ${wave.name}: ${wave.state}${wave.approvedBy ? `, approved by ${wave.approvedBy}` : ''}${wave.state === 'SOAKING' && wave.soakUntil ? ` until ${wave.soakUntil}` : ''}`,
      '',
      `${wave.maxParallel} at once${wave.approval ? ', approval first' : ''}${wave.soak ? `, soak ${wave.soak}` : ''}`,
      '',
      '| group | state | phase | traffic | step or result |',
      '| --- | --- | --- | --- | --- |',
      ...members.slice(0, ROWS_PER_WAVE).map(row),
    );
    if (members.length > ROWS_PER_WAVE)
      lines.push(
        '',
        `and ${counted(members.length - ROWS_PER_WAVE, 'more group')}: ${memberCounts(members.slice(ROWS_PER_WAVE))}`,
      );
  });
  const recent = status.timeline.slice(-5);
  if (recent.length > 0)
    lines.push('', '#### Recent', '', ...recent.map((entry) => `- ${entry.at.slice(11, 19)} ${entry.message}`));
  return lines.join('\n');
}

function row(member: FleetMemberStatus): string {
  const detail = member.reason ?? member.step ?? '';
  return `| ${member.routingGroup} | ${member.state} | ${member.phase ?? ''} | ${member.state === 'PENDING' ? '' : `${member.trafficPercent}%`} | ${cell(detail)} |`;
}

/** A table cell: no pipes or line breaks, at most 160 characters. */
function cell(text: string): string {
  const flat = text.replace(/\|/g, '/').replace(/\s*\n\s*/g, ' ');
  return flat.length > 160 ? `${flat.slice(0, 157)}...` : flat;
}
