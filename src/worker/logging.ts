import { DefaultLogger, makeTelemetryFilterString, Runtime, type LogEntry, type LogLevel } from '@temporalio/worker';
import pino, { type Logger } from 'pino';
import { METRIC_NAMES, STEP_DURATION_BUCKETS } from '../metrics';

const PINO_LEVEL: Record<LogLevel, pino.Level> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

let installed: Logger | undefined;

/** The process's pino logger (JSON lines on stderr; level from CUTOVER_LOG_LEVEL, default info). */
export function rootLogger(): Logger {
  installed ??= pino(
    {
      level: process.env.CUTOVER_LOG_LEVEL ?? 'info',
      base: { service: 'cutover' },
      serializers: { error: pino.stdSerializers.err, failure: pino.stdSerializers.err },
    },
    pino.destination(2),
  );
  return installed;
}

/**
 * Binds Temporal's runtime logger (worker, workflow and activity logs, and the Rust core's) to
 * pino, and exposes the SDK's and cutover's own metrics (src/metrics.ts) to Prometheus when
 * CUTOVER_METRICS_ADDRESS is set. Must run
 * before any connection or worker is created; later calls are no-ops.
 */
export function installRuntime(options: { level?: LogLevel; metricsAddress?: string } = {}): Logger {
  const logger = rootLogger();
  const level = options.level ?? (process.env.CUTOVER_TEMPORAL_LOG_LEVEL as LogLevel | undefined) ?? 'INFO';
  try {
    Runtime.install({
      logger: new DefaultLogger(level, (entry: LogEntry) => {
        logger[PINO_LEVEL[entry.level]]({ ...entry.meta }, entry.message);
      }),
      telemetryOptions: {
        logging: { forward: {}, filter: makeTelemetryFilterString({ core: 'WARN', other: 'ERROR' }) },
        ...((options.metricsAddress ?? process.env.CUTOVER_METRICS_ADDRESS)
          ? {
              metrics: {
                prometheus: {
                  bindAddress: options.metricsAddress ?? process.env.CUTOVER_METRICS_ADDRESS!,
                  histogramBucketOverrides: { [METRIC_NAMES.stepDuration]: STEP_DURATION_BUCKETS },
                },
              },
            }
          : {}),
      },
    });
  } catch (error) {
    // Runtime.install refuses a second call; the first one's logger stays bound.
    if (!(error instanceof Error && /already/i.test(error.message))) throw error;
  }
  return logger;
}
