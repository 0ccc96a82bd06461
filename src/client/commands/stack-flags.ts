import { InvalidArgumentError, type Command } from 'commander';
import { UsageError } from '../output';

/** Flags shared by `cutover dev` and `cutover demo`. */
export interface StackFlags {
  temporalPort: number;
  uiPort: number;
  gatewayPort: number;
  dbFilename?: string;
  clusters: string[];
  routingGroup: string;
  healthIntervalMs: number;
}

function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > 65535)
    throw new InvalidArgumentError('must be a port number (1-65535)');
  return parsed;
}

function milliseconds(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 50)
    throw new InvalidArgumentError('must be a number of milliseconds, at least 50');
  return parsed;
}

export function stackOptions(command: Command): Command {
  return command
    .option('--temporal-port <port>', 'Temporal gRPC port', port, 7233)
    .option('--ui-port <port>', 'Temporal UI port', port, 8233)
    .option('--gateway-port <port>', 'sandbox Trino Gateway port', port, 8080)
    .option('--db-filename <file>', 'persist Temporal state in this SQLite file')
    .option(
      '--clusters <name=version@group...>',
      'blue clusters of the sandbox, each in its routing group (@group optional: default --routing-group)',
      ['trino-blue=470'],
    )
    .option('--routing-group <group>', 'routing group of the blue clusters that name none', 'adhoc')
    .option('--health-interval-ms <ms>', 'gateway health-check interval', milliseconds, 1000);
}

/** A cluster of `--clusters`: its name, Trino version and routing group. */
export interface ClusterFlag {
  name: string;
  version: string;
  routingGroup: string;
}

/** Backend and routing-group names as Trino Gateway accepts them in paths (the plan's rule). */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const NAME_RULE = 'must start with a letter or digit and use only letters, digits, ".", "_" and "-" (at most 63)';

/**
 * `name=version` or `name=version@group` values of `--clusters` (a cluster without `@group` is in
 * `defaultGroup`); throws UsageError naming the bad value and what is wrong with it.
 */
export function parseClusterList(values: string[], defaultGroup: string): ClusterFlag[] {
  const clusters = values.map((value) => {
    const match = /^([^=@]*)=([^=@]*)(?:@([^=@]*))?$/.exec(value);
    if (!match)
      throw new UsageError(
        `--clusters ${value}: expected name=version or name=version@group, e.g. trino-blue=470@adhoc`,
      );
    const [, name, version, routingGroup = defaultGroup] = match;
    if (!NAME.test(name)) throw new UsageError(`--clusters ${value}: the cluster name "${name}" ${NAME_RULE}`);
    if (!/^[A-Za-z0-9._-]+$/.test(version))
      throw new UsageError(`--clusters ${value}: the version "${version}" must be a Trino version such as 470`);
    if (!NAME.test(routingGroup))
      throw new UsageError(`--clusters ${value}: the routing group "${routingGroup}" ${NAME_RULE}`);
    return { name, version, routingGroup };
  });
  const names = clusters.map((cluster) => cluster.name);
  const twice = names.find((name, index) => names.indexOf(name) !== index);
  if (twice) throw new UsageError(`--clusters names ${twice} twice: each cluster needs a name of its own`);
  return clusters;
}
