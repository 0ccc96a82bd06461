import type { MetricMeter, MetricTags } from '@temporalio/common';

/**
 * cutover's own Prometheus metrics, served with the Temporal SDK's at CUTOVER_METRICS_ADDRESS.
 * They are recorded through the SDK's metric meter: the workflow's (which drops what a replay
 * would record twice) for the upgrade's course, the activity's for analysis samples as they are
 * taken. Labels stay few and bounded: no workflow ids, since a series never leaves the registry.
 */

export const METRIC_NAMES = {
  phaseTransitions: 'cutover_phase_transitions_total',
  rollbacks: 'cutover_rollbacks_total',
  stepDuration: 'cutover_step_duration_seconds',
  analysisSamples: 'cutover_analysis_samples_total',
  clusterErrorRate: 'cutover_cluster_error_rate',
  clusterLatencyP95: 'cutover_cluster_latency_p95_seconds',
} as const;

/** Buckets of the step duration histogram, in seconds: from quick steps to day-long gates. */
export const STEP_DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21_600, 86_400];

/** Why an upgrade rolled back, as the `reason` label says it. */
export type RollbackReason =
  /** `cutover rollback`, the Temporal UI's signal. */
  | 'operator'
  /** The workflow was cancelled from Temporal. */
  | 'cancelled'
  /** A step failed (an error, a retry budget that ran out). */
  | 'step-failed'
  /** The canary analysis judged green bad. */
  | 'analysis'
  /** Another decision of the step (`step` says which): health checks in a bake, an approval or drain timeout. */
  | 'automatic';

/** How a step ended: done, or `stopped` (a rollback or a failure of the upgrade followed). */
export type StepEnd = 'completed' | 'stopped';

/** The metrics of an upgrade's course; the workflow records them with its own meter. */
export function upgradeMetrics(meter: MetricMeter) {
  const phaseTransitions = meter.createCounter(
    METRIC_NAMES.phaseTransitions,
    undefined,
    'upgrades entering a phase (final phases count upgrades by outcome; PROVISIONING counts upgrades started)',
  );
  const rollbacks = meter.createCounter(METRIC_NAMES.rollbacks, undefined, 'rollbacks started, by reason and step');
  const stepDuration = meter.createHistogram(
    METRIC_NAMES.stepDuration,
    'float',
    's',
    'how long each step took, by step kind and how it ended (completed, or stopped: a rollback or a failure followed)',
  );
  return {
    phaseEntered(phase: string, strategy: string): void {
      phaseTransitions.add(1, { phase, strategy });
    },
    rollbackStarted(reason: RollbackReason, step: string, strategy: string): void {
      rollbacks.add(1, { reason, step, strategy });
    },
    stepEnded(step: string, strategy: string, seconds: number, end: StepEnd): void {
      stepDuration.record(Math.max(0, seconds), { step, strategy, end });
    },
  };
}

/** How one analysis sample judged green (`inconclusive`: it could not decide). */
export type SampleVerdict = 'healthy' | 'bad' | 'inconclusive';

/**
 * One cluster's figures in an analysis sample. A figure the sample could not measure is absent,
 * never 0: its gauge keeps its last measured value instead of showing a healthy zero.
 */
export interface ClusterFigures {
  cluster: string;
  role: 'green' | 'blue';
  /** Failed / ended queries in the sample's window. */
  errorRate?: number;
  /** 95th percentile of query latency in the sample's window. */
  latencyP95Seconds?: number;
}

/** The metrics of canary analysis samples; the analysis activity records them with its meter. */
export function analysisMetrics(meter: MetricMeter) {
  const samples = meter.createCounter(METRIC_NAMES.analysisSamples, undefined, 'analysis samples taken, by verdict');
  const errorRate = meter.createGauge(
    METRIC_NAMES.clusterErrorRate,
    'float',
    undefined,
    'error rate of a cluster in the latest analysis sample that measured it',
  );
  const latencyP95 = meter.createGauge(
    METRIC_NAMES.clusterLatencyP95,
    'float',
    's',
    'p95 query latency of a cluster in the latest analysis sample that measured it',
  );
  return {
    sampleTaken(verdict: SampleVerdict, clusters: readonly ClusterFigures[]): void {
      samples.add(1, { verdict });
      for (const figures of clusters) {
        const tags: MetricTags = { cluster: figures.cluster, role: figures.role };
        if (figures.errorRate !== undefined) errorRate.set(figures.errorRate, tags);
        if (figures.latencyP95Seconds !== undefined) latencyP95.set(figures.latencyP95Seconds, tags);
      }
    },
  };
}
