import {
  blueSourceLine,
  clusterTable,
  newErrorsLine,
  routingView,
  shareLine,
  verdictLine,
} from '../analysis/routing-view';
import { counted } from '../plural';
import { describeShadowMismatch, shadowCounts } from '../shadow-report';
import { changeWindowText } from './change-window-text';
import { FINAL_PHASES, type UpgradeStatus } from './messages';

/**
 * Markdown for the Temporal UI's "Current details": where the upgrade is and what an operator can do.
 * The UI renders CommonMark without GitHub's extensions (no pipe tables), so every list and block
 * stands after a blank line, list items never span lines, and the per-cluster table is a code block.
 */
export function renderDetails(status: UpgradeStatus): string {
  const lines = [
    `### ${status.strategy} ${status.routingGroup}: ${status.blue.join(', ') || 'blue'}${status.blueVersion ? ` (${status.blueVersion})` : ''} → ${status.green.name} (${status.green.version})`,
    '',
    `**Phase:** ${status.phase}${status.paused ? ' (PAUSED: `cutover resume ' + status.id + '`)' : ''}  `,
    `**Traffic:** ${100 - status.trafficPercent}% blue / ${status.trafficPercent}% green  `,
    ...(status.selection
      ? [
          `**Canary selector:** ${status.trafficPercent > 0 && status.trafficPercent < 100 ? `${status.trafficPercent}% of ` : ''}${status.selection}  `,
        ]
      : []),
    `**Step ${Math.min(status.step.index + 1, status.step.total)} of ${status.step.total}:** ${status.step.description}  `,
  ];
  const running = !FINAL_PHASES.has(status.phase) && status.phase !== 'ROLLING_BACK';
  if (status.green.url)
    lines.push(
      `**Green address${running && status.trafficPercent === 0 ? ' (test it here)' : ''}:** ${status.green.url}  `,
    );
  if (status.health.message) {
    const checked = status.health.checkedAt ? ` (checked ${status.health.checkedAt.slice(11, 19)})` : '';
    const bakingBlueGreen = status.phase === 'BAKING' && status.strategy === 'blue-green' && !status.analysis?.last;
    lines.push(`**Health${bakingBlueGreen ? ' before this bake' : ''}:** ${status.health.message}${checked}  `);
  }
  if (status.changeWindow && running) {
    const text = changeWindowText(status.changeWindow);
    lines.push(
      status.changeWindow.state === 'waiting'
        ? `**Waiting for the change window:** ${text.replace(/^waiting for the change window: /, '')}  `
        : `**Change window:** ${text.replace(/^the change window is /, '')}  `,
    );
  }
  lines.push(...analysisLines(status));
  lines.push(...shadowDetails(status));
  if (status.phase === 'BAKING') {
    // Healthy samples are not recorded in history; the running analysis activity heartbeats each one.
    lines.push(
      '',
      `Live samples: the pending bake activity's heartbeat details (Pending Activities), or \`cutover status ${status.id}\`.`,
    );
    if (status.strategy === 'canary')
      lines.push('', `Skip this bake: \`cutover promote ${status.id}\` (\`--full\` skips every remaining step).`);
  }
  if (status.awaitingApproval && status.gate.endsWith(':shadow')) {
    lines.push(
      '',
      `**Next gate: acknowledge the shadow report.** Run \`cutover approve ${status.id} --by <you>\` to go on despite the mismatches.`,
      '',
      `To abort: \`cutover rollback ${status.id} --reason "..."\`.`,
    );
  } else if (status.awaitingApproval) {
    lines.push(
      '',
      `**Next gate: approval.** Run \`cutover approve ${status.id} --by <you>\`, or use "Send signal" here with name \`approve\` and input \`{"by": "<you>"}\`.`,
      '',
      `To abort: \`cutover rollback ${status.id} --reason "..."\`.`,
    );
  }
  if (status.error) lines.push('', `**Error:** ${oneLine(status.error)}`);
  const recent = status.timeline
    .slice(-5)
    .map((entry) => `- ${entry.at.slice(11, 19)} ${entry.phase}: ${oneLine(entry.message)}`);
  lines.push('', '**Recent:**', '', ...recent);
  if (status.timelineDropped)
    lines.push(
      '',
      `(${counted(status.timelineDropped, 'earlier timeline entry', 'earlier timeline entries')} not kept)`,
    );
  return lines.join('\n');
}

/** The last recorded analysis sample: its verdict, green's share of new queries and blue and green side by side. */
function analysisLines(status: UpgradeStatus): string[] {
  const analysis = status.analysis;
  const sample = analysis?.last;
  if (!analysis || !sample) return [];
  const heading = `**Analysis** (${counted(analysis.samples, 'sample')}, ${analysis.consecutiveFailures} failed in a row; last recorded sample ${sample.at.slice(11, 19)}):`;
  const health = `gateway ${sample.gatewayStatus ?? '?'}, version ${sample.version ?? '?'}, error rate ${(sample.errorRate * 100).toFixed(1)}%`;
  const view = routingView(sample, 'recorded');
  if (!view) {
    const verdict = sample.problem ? `fail: ${sample.problem}` : 'pass';
    return [
      '',
      heading,
      '',
      `- ${oneLine(verdict)}`,
      `- ${health}, ${sample.finished} finished / ${sample.failed} failed`,
    ];
  }
  const items = [
    verdictLine(view),
    shareLine(view),
    newErrorsLine(view),
    blueSourceLine(view),
    health,
    ...(sample.notes ?? []),
  ];
  return [
    '',
    heading,
    '',
    ...items.filter((item): item is string => item !== undefined).map((item) => `- ${oneLine(item)}`),
    '',
    '```',
    ...clusterTable(view),
    '```',
  ];
}

/** The shadow report: counts and the first mismatches (query ids, hashes, error names). */
function shadowDetails(status: UpgradeStatus): string[] {
  const shadow = status.shadow;
  if (!shadow) return [];
  const acknowledged = shadow.acknowledgedBy ? `; acknowledged by ${shadow.acknowledgedBy}` : '';
  return [
    '',
    `**Shadow validation:** ${shadowCounts(shadow.report)} (onMismatch: ${shadow.onMismatch}${acknowledged})`,
    ...(shadow.report.inconclusive ? ['', `**Inconclusive:** ${oneLine(shadow.report.inconclusive)}`] : []),
    ...(shadow.report.historyRestricted ? ['', oneLine(shadow.report.historyRestricted)] : []),
    ...(shadow.report.mismatches.length > 0 ? [''] : []),
    ...shadow.report.mismatches.slice(0, 5).map((mismatch) => `- ${oneLine(describeShadowMismatch(mismatch))}`),
  ];
}

/** Text that stays on one line: a line break would end a list item or a paragraph early. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}
