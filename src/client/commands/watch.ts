import { setTimeout as sleep } from 'node:timers/promises';
import type { Client } from '@temporalio/client';
import type { Command } from 'commander';
import { changeWindowText } from '../../workflows/change-window-text';
import { FINAL_PHASES, type TimelineEntry, type UpgradeStatus } from '../../workflows/messages';
import {
  EXIT_FAILED,
  EXIT_OK,
  approveHint,
  printJson,
  routingLines,
  runVerb,
  sampleText,
  stepText,
  timelineLine,
  trafficSplit,
  withTemporal,
  type JsonOption,
} from '../output';
import { retryText } from '../pending-activity';
import { readUpgrade, type UpgradeView } from './upgrade-handle';

const POLL_EVERY_MS = 1_000;
const QUERY_TIMEOUT_MS = 5_000;

/** `cutover watch ID`: live timeline and progress until the upgrade ends; exit 0 only on SUCCEEDED. */
export function registerWatch(program: Command): void {
  program
    .command('watch')
    .description(
      'follow an upgrade live until it ends: timeline lines and a progress line (exit 0 on SUCCEEDED, 1 on ROLLED_BACK or FAILED)',
    )
    .argument('<id>', 'workflow id of the upgrade, e.g. cutover-adhoc')
    .option('--json', 'print one JSON status per change')
    .action((id: string, options: JsonOption) =>
      runVerb(options, () => withTemporal(({ client }) => followUpgrade(client, id, { json: options.json === true }))),
    );
}

/** Follows an upgrade until its run ends and returns the exit code its outcome deserves. */
export async function followUpgrade(client: Client, id: string, options: { json: boolean }): Promise<number> {
  const display = options.json ? new JsonDisplay() : new HumanDisplay(process.stdout);
  for (let first = true; ; first = false) {
    if (!first) await sleep(POLL_EVERY_MS);
    const view = await readUpgrade(client, id, QUERY_TIMEOUT_MS);
    display.show(view);
    const ending = endingOf(view);
    if (ending) {
      display.finish(view, ending);
      return ending.exitCode;
    }
  }
}

interface Ending {
  phase: string;
  exitCode: number;
  message: string;
}

/** An upgrade has ended when its phase is final, or when its run closed (terminated, cancelled, ...). */
function endingOf(view: UpgradeView): Ending | undefined {
  const phase = view.status?.phase ?? view.phase;
  const finalPhase = view.status ? FINAL_PHASES.has(view.status.phase) : false;
  if (!finalPhase && view.executionStatus === 'RUNNING') return undefined;
  const completed =
    view.executionStatus === 'RUNNING' || view.executionStatus === 'COMPLETED' || view.executionStatus === 'FAILED';
  const exitCode = phase === 'SUCCEEDED' && completed ? EXIT_OK : EXIT_FAILED;
  const message =
    phase && FINAL_PHASES.has(phase as never)
      ? `upgrade ${view.id} ended: ${phase}${view.status?.error ? ` (${view.status.error})` : ''}`
      : `upgrade ${view.id} ended: workflow ${view.executionStatus} in phase ${phase ?? 'unknown'}; check the gateway and \`cutover status ${view.id}\``;
  return { phase: phase ?? 'unknown', exitCode, message };
}

/** Plain lines on a pipe; on a terminal the progress line is redrawn in place under the timeline. */
class HumanDisplay {
  private readonly tty: boolean;
  private progress = '';
  private printed = 0;
  private lastPrintedAt = '';
  private approvalShown = false;
  private workerWarned = false;
  private routingShownAt = '';

  constructor(private readonly out: NodeJS.WriteStream) {
    this.tty = out.isTTY === true;
  }

  show(view: UpgradeView): void {
    const status = view.status;
    if (!status) {
      if (!this.workerWarned) {
        this.line(
          view.workerPolling === false
            ? `${view.workerProblem}: start one with \`cutover worker\`; still watching`
            : `no status from a worker (${view.workerProblem}); check the worker's log; still watching`,
        );
        this.workerWarned = true;
      }
      const traffic = view.trafficPercent === undefined ? '' : ` · ${trafficSplit(view.trafficPercent)}`;
      const stuck = view.failingWorkflowTaskAttempt
        ? ` · workflow task failing (attempt ${view.failingWorkflowTaskAttempt})`
        : '';
      this.setProgress(`${view.phase ?? 'unknown phase'}${traffic} · worker not answering${stuck}`);
      return;
    }
    if (this.workerWarned) {
      this.line('a worker answers again');
      this.workerWarned = false;
    }
    for (const entry of this.newEntries(status)) this.line(timelineLine(entry));
    if (status.awaitingApproval && !this.approvalShown) {
      this.line(
        `awaiting approval: test ${status.green.name} at ${status.green.url ?? 'its address'}, then ${approveHint(status.id)}`,
      );
    }
    this.approvalShown = status.awaitingApproval;
    if (view.analysis && view.analysis.at !== this.routingShownAt && !FINAL_PHASES.has(status.phase)) {
      // Each new analysis sample once: blue and green side by side, under the timeline.
      this.routingShownAt = view.analysis.at;
      const [first, ...rest] = routingLines(view.analysis);
      this.line(`routing: ${first}`);
      for (const line of rest) this.line(`  ${line}`);
    }
    const observation = FINAL_PHASES.has(status.phase) ? undefined : activityText(view);
    this.setProgress(
      `[${stepText(status)}] ${trafficSplit(status.trafficPercent)} · ${status.phase}${status.paused ? ' · PAUSED' : ''}${observation ? ` · ${observation}` : ''}`,
    );
  }

  finish(view: UpgradeView, ending: Ending): void {
    if (this.tty && this.progress) this.out.write('\r\x1b[2K');
    this.progress = '';
    const took = elapsed(view);
    this.out.write(`${ending.message}${took ? ` after ${took}` : ''}\n`);
  }

  /**
   * Timeline entries not printed yet, counted from the upgrade's first entry (the status keeps only
   * the latest ones); robust to a timeline that was restarted.
   */
  private newEntries(status: UpgradeStatus): TimelineEntry[] {
    const { timeline } = status;
    const dropped = status.timelineDropped ?? 0;
    const total = dropped + timeline.length;
    let start = Math.max(0, this.printed - dropped);
    if (total < this.printed || (start > 0 && timeline[start - 1]?.at !== this.lastPrintedAt)) {
      start = timeline.findIndex((entry) => entry.at > this.lastPrintedAt);
      if (start < 0) start = timeline.length;
    }
    const fresh = timeline.slice(start);
    this.printed = total;
    if (fresh.length) this.lastPrintedAt = fresh[fresh.length - 1].at;
    return fresh;
  }

  private line(text: string): void {
    if (this.tty) this.out.write(`\r\x1b[2K${text}\n${this.fit(this.progress)}`);
    else this.out.write(`${text}\n`);
  }

  private setProgress(text: string): void {
    if (text === this.progress) return;
    this.progress = text;
    if (this.tty) this.out.write(`\r\x1b[2K${this.fit(text)}`);
    else this.out.write(`${text}\n`);
  }

  private fit(text: string): string {
    const width = (this.out.columns || 100) - 1;
    return text.length > width ? `${text.slice(0, width - 1)}…` : text;
  }
}

/** One JSON line per change of what the CLI sees. */
class JsonDisplay {
  private last = '';

  show(view: UpgradeView): void {
    const line = JSON.stringify(view);
    if (line === this.last) return;
    this.last = line;
    printJson(view, true);
  }

  finish(): void {}
}

/** What the upgrade waits for (the change window), or what the running activity is doing: a retry and its failure, a live canary sample, or its last heartbeat. */
function activityText(view: UpgradeView): string | undefined {
  const window = view.status?.changeWindow;
  if (window?.state === 'waiting') return changeWindowText(window, Date.now());
  const retrying = retryText(view.pendingActivity, view.status);
  if (retrying) return retrying;
  if (view.liveSample) return `live sample ${view.liveSample.samples} ${sampleText(view.liveSample)}`;
  return view.pendingActivity?.summary;
}

function elapsed(view: UpgradeView): string | undefined {
  const end = view.closeTime ? Date.parse(view.closeTime) : Date.now();
  const ms = end - Date.parse(view.startTime);
  if (!Number.isFinite(ms) || ms < 0) return undefined;
  const seconds = Math.round(ms / 1000);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(s).padStart(2, '0')}s` : `${s}s`;
}
