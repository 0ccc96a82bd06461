import { counted } from '../plural';
import { FINAL_PHASES, type UpgradeStatus } from './messages';

/** Markdown for the Temporal UI's "Current details": where the upgrade is and what an operator can do. */
export function renderDetails(status: UpgradeStatus): string {
  const lines = [
    `### ${status.strategy} ${status.routingGroup}: ${status.blue.join(', ') || 'blue'}${status.blueVersion ? ` (${status.blueVersion})` : ''} → ${status.green.name} (${status.green.version})`,
    '',
    `**Phase:** ${status.phase}${status.paused ? ' (PAUSED: `cutover resume ' + status.id + '`)' : ''}  `,
    `**Traffic:** ${100 - status.trafficPercent}% blue / ${status.trafficPercent}% green  `,
    `**Step ${Math.min(status.step.index + 1, status.step.total)} of ${status.step.total}:** ${status.step.description}  `,
  ];
  const running = !FINAL_PHASES.has(status.phase) && status.phase !== 'ROLLING_BACK';
  if (status.green.url)
    lines.push(
      `**Green address${running && status.trafficPercent === 0 ? ' (test it here)' : ''}:** ${status.green.url}  `,
    );
  // A blue/green bake records its checks only when it ends: until then the health shown is the verify's.
  const bakingBlueGreen = status.phase === 'BAKING' && status.strategy === 'blue-green';
  if (status.health.message) {
    const checked = status.health.checkedAt ? ` (checked ${status.health.checkedAt.slice(11, 19)})` : '';
    lines.push(`**Health${bakingBlueGreen ? ' before this bake' : ''}:** ${status.health.message}${checked}  `);
  }
  if (bakingBlueGreen) {
    lines.push(
      `Bake checks: the pending bake activity's heartbeat details (Pending Activities), or \`cutover status ${status.id}\`.  `,
    );
  }
  const sample = status.analysis?.last;
  if (sample) {
    lines.push(
      `**Analysis (${counted(status.analysis!.samples, 'sample')}, ${status.analysis!.consecutiveFailures} failed in a row):** ` +
        `${sample.at.slice(11, 19)} gateway ${sample.gatewayStatus ?? '?'}, version ${sample.version ?? '?'}, ` +
        `${sample.finished} finished / ${sample.failed} failed (error rate ${(sample.errorRate * 100).toFixed(1)}%), ${sample.queued ?? '?'} queued` +
        `${sample.problem ? ` — **${sample.problem}**` : ''}` +
        `${sample.verdict === 'inconclusive' ? ` — **inconclusive: ${sample.inconclusive}; the bake clock holds**` : ''}  `,
    );
  }
  if (status.strategy === 'canary' && status.phase === 'BAKING') {
    // Healthy samples are not recorded in history; the running analysis activity heartbeats each one.
    lines.push(
      `Live samples: the pending \`analyseCanary\` activity's heartbeat details (Pending Activities), or \`cutover status ${status.id}\`; above is the last recorded one.  `,
    );
    lines.push(`Skip this bake: \`cutover promote ${status.id}\` (\`--full\` skips every remaining step).  `);
  }
  if (status.awaitingApproval) {
    lines.push(
      '',
      `**Next gate: approval.** Run \`cutover approve ${status.id} --by <you>\`, or use "Send signal" here with name \`approve\` and input \`{"by": "<you>"}\`.`,
      `To abort: \`cutover rollback ${status.id} --reason "..."\`.`,
    );
  }
  if (status.error) lines.push('', `**Error:** ${status.error}`);
  const recent = status.timeline
    .slice(-5)
    .map((entry) => `- ${entry.at.slice(11, 19)} ${entry.phase}: ${entry.message}`);
  const dropped = status.timelineDropped
    ? [`(${counted(status.timelineDropped, 'earlier timeline entry', 'earlier timeline entries')} not kept)`]
    : [];
  lines.push('', '**Recent:**', ...recent, ...dropped);
  return lines.join('\n');
}
