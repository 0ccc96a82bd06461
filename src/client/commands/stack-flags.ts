import { InvalidArgumentError, type Command } from 'commander';

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
    .option('--clusters <name=version...>', 'blue clusters of the sandbox', ['trino-blue=470'])
    .option('--routing-group <group>', 'routing group of the blue clusters', 'adhoc')
    .option('--health-interval-ms <ms>', 'gateway health-check interval', milliseconds, 1000);
}

/** `name=version` pairs. */
export function parseClusters(values: string[]): { name: string; version: string }[] {
  return values.map((value) => {
    const match = /^([A-Za-z0-9][A-Za-z0-9._-]*)=([A-Za-z0-9._-]+)$/.exec(value);
    if (!match) throw new InvalidArgumentError(`--clusters ${value}: expected name=version, e.g. trino-blue=470`);
    return { name: match[1], version: match[2] };
  });
}
