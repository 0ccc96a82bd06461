import type { Command } from 'commander';
import { startLocalStack } from '../../devserver/local-stack';
import { EXIT_FAILED, EXIT_USAGE, printLines, UsageError } from '../output';
import { parseClusterList, stackOptions, type StackFlags } from './stack-flags';

/** `cutover dev`: Temporal dev server (UI on 8233), sandbox fleet and a worker, until Ctrl-C. */
export function registerDev(program: Command): void {
  stackOptions(
    program
      .command('dev')
      .description('run a Temporal dev server (with UI), the sandbox fleet and a worker on 127.0.0.1 until Ctrl-C'),
  ).action(async (flags: StackFlags) => {
    const say = (line: string) => process.stderr.write(`${line}\n`);
    try {
      const clusters = parseClusterList(flags.clusters, flags.routingGroup);
      const stack = await startLocalStack({ ...flags, clusters, say });
      printLines(
        '',
        `Temporal      ${stack.temporalAddress}  (UI ${stack.uiUrl})`,
        `Trino Gateway ${stack.fleet.gatewayUrl}  (sandbox; control API under /sandbox/v1)`,
        ...clusters.map(
          (cluster) =>
            `Trino         ${cluster.name} ${cluster.version} at ${stack.fleet.cluster(cluster.name)?.url} (routing group ${cluster.routingGroup})`,
        ),
        `Worker policy ${stack.policyFile}  (sandbox: this gateway, local coordinators, the sandbox provisioner)`,
        '',
        'In another terminal:',
        `  export TEMPORAL_ADDRESS=${stack.temporalAddress} TEMPORAL_UI_URL=${stack.uiUrl}`,
        '  npx cutover start plans/sandbox-blue-green.yaml',
        '  npx cutover watch cutover-adhoc',
        '',
        'Ctrl-C stops everything.',
      );
      await stack.running;
      await stack.stop();
    } catch (error) {
      say(`cutover dev: ${(error as Error).message}`);
      process.exitCode = error instanceof UsageError ? EXIT_USAGE : EXIT_FAILED;
    }
  });
}
