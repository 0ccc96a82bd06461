import { workerPolicySchema, type PolicyBounds } from './schema';

/** The bounds that hold when a worker has no policy, or its policy does not say. */
export const DEFAULT_BOUNDS: PolicyBounds = workerPolicySchema.shape.bounds.parse(undefined);

/**
 * True when `url`'s origin matches `pattern`: same scheme, same host (or a `*.` first label
 * standing for one label), same port (or `:*`); a missing port is the scheme's default.
 */
export function originAllowed(url: string, pattern: string): boolean {
  if (!URL.canParse(url)) return false;
  const target = new URL(url);
  const match = /^(https?):\/\/(\*\.)?([^:/]+|\[[^\]]+\])(?::(\d+|\*))?$/.exec(pattern);
  if (!match) return false;
  const [, scheme, wildcard, host, port] = match;
  if (target.protocol !== `${scheme}:`) return false;
  const targetHost = target.hostname.toLowerCase();
  const patternHost = host.toLowerCase();
  const hostMatches = wildcard
    ? targetHost.endsWith(`.${patternHost}`) && !targetHost.slice(0, -patternHost.length - 1).includes('.')
    : targetHost === patternHost;
  if (!hostMatches) return false;
  if (port === '*') return true;
  const defaultPort = scheme === 'https' ? '443' : '80';
  return (target.port || defaultPort) === (port ?? defaultPort);
}
