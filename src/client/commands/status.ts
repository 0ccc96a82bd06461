import type { Command } from 'commander';
import { counted } from '../../plural';
import { describeShadowMismatch, shadowCounts } from '../../shadow-report';
import { changeWindowText } from '../../workflows/change-window-text';
import { FINAL_PHASES, type UpgradeStatus } from '../../workflows/messages';
import { findUiLink } from '../connection';
import {
  approveHint,
  clock,
  printJson,
  printLines,
  routingLines,
  runVerb,
  sampleText,
  stepText,
  timelineLine,
  trafficSplit,
  withTemporal,
  type JsonOption,
} from '../output';
import { retryText, type LiveSample, type PendingActivityView } from '../pending-activity';
import { readUpgrade, type UpgradeView } from './upgrade-handle';

const STATUS_QUERY_TIMEOUT_MS = 10_000;
const RECENT_TIMELINE_LINES = 8;

/** `cutover status ID`: where an upgrade is, what to test, and what the operator can do next. */
export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('show the phase, traffic split, step, green address, health and recent timeline of an upgrade')
    .argument('<id>', 'workflow id of the upgrade, e.g. cutover-adhoc')
    .option('--json', 'print the status as JSON')
    .action((id: string, options: JsonOption) =>
      runVerb(options, () =>
        withTemporal(async (temporal) => {
          const view = await readUpgrade(temporal.client, id, STATUS_QUERY_TIMEOUT_MS);
          const ui = await findUiLink(temporal, view.id, view.runId);
          if (options.json) printJson({ ...view, ...('url' in ui ? { uiUrl: ui.url } : {}) });
          else printLines(...renderView(view), `  UI:        ${'url' in ui ? ui.url : ui.hint}`);
        }),
      ),
    );
}

/** Human lines for an upgrade: the full status when a worker answered, else what describe knows. */
export function renderView(view: UpgradeView): string[] {
  const ended =
    view.executionStatus !== 'RUNNING'
      ? ` (workflow ${view.executionStatus}${view.closeTime ? ` at ${clock(view.closeTime)}` : ''})`
      : '';
  if (!view.status) {
    return [
      `${view.id}  ${view.workflowType}${ended}`,
      `  phase:     ${view.phase ?? 'unknown'} (from search attributes)`,
      `  traffic:   ${view.trafficPercent === undefined ? 'unknown' : trafficSplit(view.trafficPercent)}`,
      `  started:   ${view.startTime}`,
      ...activityLines(view.pendingActivity, undefined),
      ...workflowTaskLines(view),
      view.workerPolling === false
        ? `  ${view.workerProblem}: start one with \`cutover worker\` (or \`cutover dev\`) for the full status and to act on the upgrade`
        : `  no status from the worker (${view.workerProblem}); check the worker's log and the run in the UI`,
    ];
  }
  return [
    ...renderStatus(view, view.status, ended),
    ...liveSampleLines(view.liveSample),
    ...routingBlock(view),
    ...activityLines(view.pendingActivity, view.status),
    ...workflowTaskLines(view),
    ...recentLines(view.status),
  ];
}

/** `10% of SELECT queries from superset, ...`: the canary's share of its selected traffic, in words. */
function selectionText(status: UpgradeStatus): string {
  const share = status.trafficPercent > 0 && status.trafficPercent < 100 ? `${status.trafficPercent}% of ` : '';
  return `${share}${status.selection} (the share by hash of X-Trino-User; at 100% green takes all traffic)`;
}

function workflowTaskLines(view: UpgradeView): string[] {
  if (!view.failingWorkflowTaskAttempt) return [];
  return [
    `  WORKFLOW TASK FAILING (attempt ${view.failingWorkflowTaskAttempt}): the upgrade is stuck until the worker's code is fixed; see the worker's log`,
  ];
}

function renderStatus(view: UpgradeView, status: UpgradeStatus, ended: string): string[] {
  const blue = status.blue.length ? status.blue.join(', ') : 'not read yet';
  const lines = [
    `${status.id}  ${status.strategy} ${status.routingGroup}: ${blue}${status.blueVersion ? ` (${status.blueVersion})` : ''} -> ${status.green.name} (${status.green.version})${ended}`,
    `  phase:     ${status.phase}${status.paused ? `  PAUSED (resume with \`cutover resume ${status.id}\`)` : ''}`,
    `  traffic:   ${trafficSplit(status.trafficPercent)}`,
    ...(status.selection ? [`  selector:  ${selectionText(status)}`] : []),
    `  ${stepText(status)}`,
    `  green:     ${status.green.name} ${status.green.version}${greenWhere(status)}`,
    `  blue:      ${blue}`,
  ];
  if (status.changeWindow && !FINAL_PHASES.has(status.phase))
    lines.push(`  window:    ${changeWindowText(status.changeWindow, Date.now())}`);
  const health = healthLine(view, status);
  if (health) lines.push(`  health:    ${health}`);
  const sample = status.analysis?.last;
  if (sample) {
    lines.push(
      `  analysis:  ${counted(status.analysis!.samples, 'sample')}, ${status.analysis!.consecutiveFailures} bad in a row; last ${sampleText(sample)}`,
    );
  }
  lines.push(...shadowLines(status));
  if (status.strategy === 'canary' && status.phase === 'BAKING')
    lines.push(`  promote:   \`cutover promote ${status.id}\` ends this bake (--full: straight to 100%)`);
  if (status.awaitingApproval && status.gate.endsWith(':shadow'))
    lines.push(
      `  AWAITING ACKNOWLEDGEMENT of the shadow report: ${approveHint(status.id)} acknowledges it, \`cutover rollback ${status.id}\` stops`,
    );
  else if (status.awaitingApproval) lines.push(`  AWAITING APPROVAL: test green, then ${approveHint(status.id)}`);
  if (status.error) lines.push(`  error:     ${status.error}`);
  return lines;
}

/** The shadow report: counts, what a mismatch does, and the first listed mismatches. */
function shadowLines(status: UpgradeStatus): string[] {
  const shadow = status.shadow;
  if (!shadow) return [];
  const { report } = shadow;
  const acknowledged = shadow.acknowledgedBy ? `, acknowledged by ${shadow.acknowledgedBy}` : '';
  return [
    `  shadow:    ${shadowCounts(report)} (onMismatch ${shadow.onMismatch}${acknowledged})`,
    ...(report.inconclusive ? [`             INCONCLUSIVE: ${report.inconclusive}`] : []),
    ...(report.historyRestricted ? [`             ${report.historyRestricted}`] : []),
    ...report.mismatches.slice(0, 5).map((mismatch) => `             ${describeShadowMismatch(mismatch)}`),
    ...(report.mismatches.length + report.unlisted > 5
      ? [
          `             and ${report.mismatches.length + report.unlisted - 5} more (--json lists ${report.mismatches.length})`,
        ]
      : []),
  ];
}

/** Green's address, and whether to test it there: only before it takes traffic, while the upgrade runs. */
function greenWhere(status: UpgradeStatus): string {
  const running = !FINAL_PHASES.has(status.phase) && status.phase !== 'ROLLING_BACK';
  if (!status.green.url) return running ? ' (no address yet)' : '';
  return ` at ${status.green.url}${running && status.trafficPercent === 0 ? ' (test it there)' : ''}`;
}

/** The activities that run a bake: their heartbeat carries the bake's latest check of green. */
const BAKE_ACTIVITIES = new Set(['bakeGreen', 'watchGreen']);

/**
 * Green's health as of the latest check. During a bake that is the bake's own check (from its
 * activity's heartbeat, or the canary analysis's latest sample), not the verify before it.
 */
function healthLine(view: UpgradeView, status: UpgradeStatus): string | undefined {
  const activity = view.pendingActivity;
  if (status.phase === 'BAKING' && activity?.type === 'analyseCanary') {
    const sample = view.liveSample ?? status.analysis?.last;
    if (!sample) return 'no analysis sample of this bake yet';
    const verdict =
      sample.problem ?? (sample.verdict === 'inconclusive' ? `inconclusive: ${sample.inconclusive}` : 'healthy');
    const facts = [sample.gatewayStatus, sample.version && `version ${sample.version}`, verdict];
    return `${facts.filter(Boolean).join(', ')} (analysis sample ${clock(sample.at)})`;
  }
  if (status.phase === 'BAKING' && activity && BAKE_ACTIVITIES.has(activity.type)) {
    if (!activity.summary) return 'the bake has reported no check of green yet';
    return `${activity.summary} (bake check, reported ${clock(activity.lastHeartbeat)})`;
  }
  return healthText(status.health);
}

function healthText(h: UpgradeStatus['health']): string | undefined {
  const facts = [
    h.gatewayStatus,
    h.version && `version ${h.version}`,
    h.activeWorkers !== undefined && counted(h.activeWorkers, 'active worker'),
    (h.runningQueries !== undefined || h.queuedQueries !== undefined) &&
      `${h.runningQueries ?? 0} running / ${h.queuedQueries ?? 0} queued ${(h.queuedQueries ?? 0) === 1 ? 'query' : 'queries'}`,
    h.message,
  ].filter((fact): fact is string => typeof fact === 'string' && fact.length > 0);
  if (!facts.length) return undefined;
  return `${facts.join(', ')}${h.checkedAt ? ` (checked ${clock(h.checkedAt)})` : ''}`;
}

/** The latest sample from the canary analysis's heartbeat: healthy samples are not recorded in the workflow. */
function liveSampleLines(sample: LiveSample | undefined): string[] {
  return sample ? [`  live:      sample ${sample.samples} (analysis heartbeat) ${sampleText(sample)}`] : [];
}

/** Blue and green in the latest analysis sample, under a `routing:` label. */
function routingBlock(view: UpgradeView): string[] {
  if (!view.analysis) return [];
  const [first, ...rest] = routingLines(view.analysis);
  return [`  routing:   ${first}`, ...rest.map((line) => `             ${line}`)];
}

function activityLines(activity: PendingActivityView | undefined, status: UpgradeStatus | undefined): string[] {
  if (!activity) return [];
  const retrying = retryText(activity, status);
  if (retrying) return [`  activity:  ${retrying}`];
  const heartbeat =
    activity.summary &&
    `last heartbeat${activity.lastHeartbeat ? ` ${clock(activity.lastHeartbeat)}` : ''}: ${activity.summary}`;
  return [`  activity:  ${activity.type}${heartbeat ? ` (${heartbeat})` : ''}`];
}

function recentLines(status: UpgradeStatus): string[] {
  const recent = status.timeline.slice(-RECENT_TIMELINE_LINES);
  if (!recent.length) return [];
  const dropped = status.timelineDropped
    ? [
        `    (${counted(status.timelineDropped, 'earlier timeline entry', 'earlier timeline entries')} not kept; the workflow's history has every event)`,
      ]
    : [];
  return ['  recent:', ...recent.map((entry) => `    ${timelineLine(entry)}`), ...dropped];
}
