import { once } from 'node:events';
import { InvalidArgumentError, type Command } from 'commander';
import { durationMs } from '../../plan/duration';
import { RefusedError } from '../upgrades';
import { printJson, printLines, runVerb, type JsonOption } from '../output';
import { parseClusterList } from './stack-flags';

const EXAMPLE_PLAN = 'plans/sandbox-blue-green.yaml';
const DEFAULT_CLUSTER = 'trino-blue=470';
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

interface SandboxOptions extends JsonOption {
  port: number;
  clusters?: string[];
  group: string;
  healthInterval: number;
}

/** `cutover sandbox`: the local fleet (Trino Gateway look-alike and simulated coordinators) until Ctrl-C. */
export function registerSandbox(program: Command): void {
  program
    .command('sandbox')
    .description(
      'run the sandbox fleet on 127.0.0.1: a Trino-Gateway-compatible server and simulated Trino clusters, until Ctrl-C',
    )
    .option('--port <port>', 'gateway port', parsePort, 8080)
    .option(
      '--clusters <name=version@group...>',
      `blue clusters to start, each in its routing group (@group optional: default --group; default ${DEFAULT_CLUSTER})`,
    )
    .option('--group <group>', 'routing group of the clusters that name none', parseGroup, 'adhoc')
    .option('--health-interval <duration>', 'gateway health-check interval, e.g. 1s or 500ms', parseInterval, 1000)
    .option('--json', 'print the gateway URL and clusters as JSON')
    .action((options: SandboxOptions) =>
      runVerb(options, async () => {
        const clusters = parseClusterList(options.clusters ?? [DEFAULT_CLUSTER], options.group);
        // Loaded on use: fastify and the simulated coordinators are not needed by any other verb.
        const { startSandboxFleet } = require('../../sandbox/fleet') as typeof import('../../sandbox/fleet');
        const fleet = await startSandboxFleet({
          port: options.port,
          healthIntervalMs: options.healthInterval,
          clusters,
        }).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'EADDRINUSE') throw error;
          throw new RefusedError(
            `port ${options.port} is in use (another \`cutover sandbox\` or \`cutover dev\`?); pick another with --port`,
          );
        });
        const running = clusters.map((cluster) => ({
          name: cluster.name,
          version: cluster.version,
          url: fleet.cluster(cluster.name)!.url,
          routingGroup: cluster.routingGroup,
        }));
        if (options.json) {
          printJson({
            gatewayUrl: fleet.gatewayUrl,
            controlUrl: `${fleet.gatewayUrl}/sandbox/v1`,
            clusters: running,
            examplePlan: EXAMPLE_PLAN,
          });
        } else {
          const matchesExample = options.port === 8080 && clusters.some((cluster) => cluster.routingGroup === 'adhoc');
          printLines(
            `Trino Gateway (sandbox)  ${fleet.gatewayUrl}   control API ${fleet.gatewayUrl}/sandbox/v1`,
            ...running.map(
              (cluster) =>
                `Trino ${cluster.version.padEnd(6)}      ${cluster.name} at ${cluster.url} (routing group ${cluster.routingGroup})`,
            ),
            '',
            `Example plan: ${EXAMPLE_PLAN}${matchesExample ? '' : ` (set gateway.url: ${fleet.gatewayUrl} and routingGroup: ${clusters[0].routingGroup} in a copy)`}`,
            `  with Temporal and a worker running (\`cutover worker\`): cutover start ${matchesExample ? EXAMPLE_PLAN : 'your-copy.yaml'}`,
            'Ctrl-C stops the fleet.',
          );
        }
        await untilStopSignal();
        process.stderr.write('stopping the sandbox fleet\n');
        await fleet.stop();
      }),
    );
}

/** Resolves on the first SIGINT or SIGTERM (and keeps the default handlers away, so shutdown is clean). */
async function untilStopSignal(): Promise<void> {
  const controller = new AbortController();
  await Promise.race([
    once(process, 'SIGINT', { signal: controller.signal }),
    once(process, 'SIGTERM', { signal: controller.signal }),
  ]);
  controller.abort();
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidArgumentError('must be a port number (0-65535; 0 picks a free one)');
  return port;
}

function parseGroup(value: string): string {
  if (!NAME.test(value))
    throw new InvalidArgumentError('must be a routing group name (letters, digits, ".", "_" and "-")');
  return value;
}

function parseInterval(value: string): number {
  if (!/^\d+(\.\d+)?(ms|s|m)$/.test(value)) throw new InvalidArgumentError('must be a duration such as 1s or 500ms');
  const ms = durationMs(value);
  if (ms < 50) throw new InvalidArgumentError('must be at least 50ms');
  return ms;
}
