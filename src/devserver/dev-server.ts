import { TestWorkflowEnvironment } from '@temporalio/testing';
import { CUTOVER_SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { ensureTemporalCli } from './temporal-cli';

export interface DevServerOptions {
  /** gRPC port; default: a free one. */
  port?: number;
  /** Serve the Temporal UI on this port (`cutover dev` uses 8233). */
  uiPort?: number;
  /** Persist to this SQLite file so a restarted server keeps its workflows. */
  dbFilename?: string;
  log?: (line: string) => void;
  /** More `temporal server start-dev` flags, e.g. `--dynamic-config-value KEY=VALUE`. */
  extraArgs?: string[];
}

/**
 * A real Temporal dev server (`temporal server start-dev`) from the CLI found or built by
 * ensureTemporalCli, with cutover's search attributes registered.
 */
export async function startDevServer(options: DevServerOptions = {}): Promise<TestWorkflowEnvironment> {
  const cli = await ensureTemporalCli(options.log);
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: cli.path },
      ip: '127.0.0.1',
      port: options.port,
      ui: options.uiPort !== undefined,
      uiPort: options.uiPort,
      dbFilename: options.dbFilename,
      searchAttributes: [...CUTOVER_SEARCH_ATTRIBUTES],
      log: { format: 'json', level: 'error' },
      extraArgs: options.extraArgs,
    },
  });
}
