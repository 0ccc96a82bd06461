import type { Command } from 'commander';
import type { UpgradeStatus } from '../../workflows/messages';
import { uiLink } from '../connection';
import {
  approveHint,
  clock,
  printJson,
  printLines,
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
        withTemporal(async ({ client, namespace }) => {
          const view = await readUpgrade(client, id, STATUS_QUERY_TIMEOUT_MS);
          const link = uiLink(namespace, view.id, view.runId);
          if (options.json) printJson({ ...view, uiUrl: link });
          else printLines(...renderView(view), `  UI:        ${link}`);
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
        ? `  the worker is not running (${view.workerProblem}): start one with \`cutover worker\` (or \`cutover dev\`) for the full status and to act on the upgrade`
        : `  no status from the worker (${view.workerProblem}); check the worker's log and the run in the UI`,
    ];
  }
  return [
    ...renderStatus(view.status, ended),
    ...liveSampleLines(view.liveSample),
    ...activityLines(view.pendingActivity, view.status),
    ...workflowTaskLines(view),
    ...recentLines(view.status),
  ];
}

function workflowTaskLines(view: UpgradeView): string[] {
  if (!view.failingWorkflowTaskAttempt) return [];
  return [
    `  WORKFLOW TASK FAILING (attempt ${view.failingWorkflowTaskAttempt}): the upgrade is stuck until the worker's code is fixed; see the worker's log`,
  ];
}

function renderStatus(status: UpgradeStatus, ended: string): string[] {
  const blue = status.blue.length ? status.blue.join(', ') : 'not read yet';
  const lines = [
    `${status.id}  ${status.strategy} ${status.routingGroup}: ${blue}${status.blueVersion ? ` (${status.blueVersion})` : ''} -> ${status.green.name} (${status.green.version})${ended}`,
    `  phase:     ${status.phase}${status.paused ? `  PAUSED (resume with \`cutover resume ${status.id}\`)` : ''}`,
    `  traffic:   ${trafficSplit(status.trafficPercent)}`,
    `  ${stepText(status)}`,
    `  green:     ${status.green.name} ${status.green.version}${status.green.url ? ` at ${status.green.url} (test it there)` : ' (no address yet)'}`,
    `  blue:      ${blue}`,
  ];
  const health = healthText(status);
  if (health) lines.push(`  health:    ${health}`);
  const sample = status.analysis?.last;
  if (sample) {
    lines.push(
      `  analysis:  ${status.analysis!.samples} samples, ${status.analysis!.consecutiveFailures} bad in a row; last ${sampleText(sample)}`,
    );
  }
  if (status.strategy === 'canary' && status.phase === 'BAKING')
    lines.push(`  promote:   \`cutover promote ${status.id}\` ends this bake (--full: straight to 100%)`);
  if (status.awaitingApproval) lines.push(`  AWAITING APPROVAL: test green, then ${approveHint(status.id)}`);
  if (status.error) lines.push(`  error:     ${status.error}`);
  return lines;
}

function healthText(status: UpgradeStatus): string | undefined {
  const h = status.health;
  const facts = [
    h.gatewayStatus,
    h.version && `version ${h.version}`,
    h.activeWorkers !== undefined && `${h.activeWorkers} active workers`,
    (h.runningQueries !== undefined || h.queuedQueries !== undefined) &&
      `${h.runningQueries ?? 0} running / ${h.queuedQueries ?? 0} queued queries`,
    h.message,
  ].filter((fact): fact is string => typeof fact === 'string' && fact.length > 0);
  if (!facts.length) return undefined;
  return `${facts.join(', ')}${h.checkedAt ? ` (checked ${clock(h.checkedAt)})` : ''}`;
}

/** The latest sample from the canary analysis's heartbeat: healthy samples are not recorded in the workflow. */
function liveSampleLines(sample: LiveSample | undefined): string[] {
  return sample ? [`  live:      sample ${sample.samples} (analysis heartbeat) ${sampleText(sample)}`] : [];
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
    ? [`    (${status.timelineDropped} earlier timeline entries not kept; the workflow's history has every event)`]
    : [];
  return ['  recent:', ...recent.map((entry) => `    ${timelineLine(entry)}`), ...dropped];
}
