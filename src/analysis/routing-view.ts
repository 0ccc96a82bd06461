/**
 * What the analysis saw of routing in one sample, for `cutover status`/`watch`, their `--json`, and
 * the Temporal UI's current details: per cluster the queries routed, running, queued, finished and
 * failed and the p95 latency, and the share of new queries green got against the share intended.
 * Pure: the workflow bundle imports it too.
 */
import type { CanaryMeasurement, ClusterWindow, SampleVerdict } from '../observations';

/** The routing figures of one analysis sample, as `--json` carries them. */
export interface RoutingView {
  /** When the sample was taken. */
  at: string;
  /** `live`: the running analysis activity's last heartbeat; `recorded`: the workflow's last recorded sample. */
  source: 'live' | 'recorded';
  verdict?: SampleVerdict;
  inconclusive?: string;
  problem?: string;
  /** The share of new queries the step intends for green, and the share green got (percent). */
  intendedPercent?: number;
  actualPercent?: number;
  blue?: ClusterWindow;
  green?: ClusterWindow;
  /** Error names seen on green and not on blue in the sample's window. */
  newErrorNames: string[];
}

/** The routing view of a sample; undefined for samples recorded before the analysis compared green with blue. */
export function routingView(sample: CanaryMeasurement, source: RoutingView['source']): RoutingView | undefined {
  if (!sample.green && !sample.blue) return undefined;
  return {
    at: sample.at,
    source,
    verdict: sample.verdict,
    inconclusive: sample.inconclusive,
    problem: sample.problem,
    intendedPercent: sample.intendedPercent,
    actualPercent: sample.actualPercent,
    blue: sample.blue,
    green: sample.green,
    newErrorNames: sample.newErrorNames ?? [],
  };
}

const ROWS: [string, (window: ClusterWindow) => string][] = [
  ['routed', (w) => count(w.routed)],
  ['running', (w) => count(w.running)],
  ['queued', (w) => count(w.queued)],
  ['finished', (w) => count(w.finished)],
  ['failed', (w) => count(w.failed)],
  ['p95', (w) => (w.p95Ms === undefined ? '-' : latency(w.p95Ms))],
];

/**
 * The per-cluster table in aligned plain text, a dashed rule under its header. A figure that could
 * not be read shows `?` (never 0); a p95 with no finished query to measure shows `-`.
 */
export function clusterTable(view: RoutingView): string[] {
  const columns = [view.blue, view.green];
  const header = ['', 'blue', view.green?.name ? `green (${view.green.name})` : 'green'];
  const rows = ROWS.map(([label, cell]) => [label, ...columns.map((window) => (window ? cell(window) : '?'))]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column])))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)];
}

/** `green got 9.8% of new queries (intended 10%)`, or why the share is not known. */
export function shareLine(view: RoutingView): string {
  const intended = view.intendedPercent === undefined ? '' : ` (intended ${view.intendedPercent}%)`;
  if (view.actualPercent === undefined)
    return `green's share of new queries not known${intended}: no query routed in the window, or a query list could not be read`;
  return `green got ${view.actualPercent}% of new queries${intended}`;
}

/** The verdict in words, with why a sample failed or was inconclusive. */
export function verdictLine(view: RoutingView): string {
  const verdict = view.verdict ?? (view.problem ? 'fail' : 'pass');
  if (verdict === 'fail') return `fail: ${view.problem ?? 'see the timeline'}`;
  if (verdict === 'inconclusive')
    return `inconclusive: ${view.inconclusive ?? 'too little traffic'}; the bake clock holds`;
  return 'pass';
}

/** Where blue's figures come from: its baseline before the flip, its queries of the canary's selected traffic. */
export function blueSourceLine(view: RoutingView): string | undefined {
  const parts = [
    view.blue?.baselineOf && `blue's figures are its baseline: ${view.blue.baselineOf}`,
    view.blue?.selection,
  ].filter((part): part is string => typeof part === 'string');
  return parts.length ? parts.join('; ') : undefined;
}

/** `errors new on green: A, B`, when green failed with error names blue did not. */
export function newErrorsLine(view: RoutingView): string | undefined {
  return view.newErrorNames.length ? `errors new on green: ${view.newErrorNames.join(', ')}` : undefined;
}

function count(value: number | undefined): string {
  return value === undefined ? '?' : String(value);
}

function latency(ms: number): string {
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}
