import type { WorkerPolicy } from './schema';

/** Scheme, host and port of a URL, with the scheme's default port filled in. */
interface Origin {
  scheme: 'http' | 'https';
  host: string;
  port: number;
}

const DEFAULT_PORT = { http: 80, https: 443 } as const;
const PATTERN = /^(https?):\/\/(\*\.)?([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}|\*))?$/;

/** Lower case, without the brackets of an IPv6 literal, without a trailing dot. */
function normalizeHost(host: string): string {
  return host
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '');
}

function originOf(url: string): Origin | undefined {
  if (!URL.canParse(url)) return undefined;
  const parsed = new URL(url);
  const scheme = parsed.protocol.slice(0, -1);
  if (scheme !== 'http' && scheme !== 'https') return undefined;
  return {
    scheme,
    host: normalizeHost(parsed.hostname),
    port: parsed.port === '' ? DEFAULT_PORT[scheme] : Number(parsed.port),
  };
}

/**
 * Whether `url` is on the origin `pattern` describes: `https://host[:port]`, where the first host
 * label may be `*` (exactly one label) and the port may be `*`; no port means the scheme's default.
 */
export function originMatches(url: string, pattern: string): boolean {
  const origin = originOf(url);
  const match = PATTERN.exec(pattern);
  if (!origin || !match) return false;
  const [, scheme, wildcard, rawHost, port] = match;
  if (origin.scheme !== scheme) return false;
  const expectedPort = port === undefined ? DEFAULT_PORT[scheme] : port;
  if (expectedPort !== '*' && Number(expectedPort) !== origin.port) return false;
  const host = normalizeHost(rawHost);
  if (!wildcard) return origin.host === host;
  const dot = origin.host.indexOf('.');
  return dot > 0 && origin.host.slice(dot + 1) === host;
}

/** Whether `url` is on one of the origins `patterns` describe. */
export function originListed(url: string, patterns: readonly string[]): boolean {
  return patterns.some((pattern) => originMatches(url, pattern));
}

/** Whether credentials may travel to `url` unencrypted: plain HTTP only to a host the policy names. */
export function transportAllowed(url: string, policy: Pick<WorkerPolicy, 'plainHttpHosts'>): boolean {
  const origin = originOf(url);
  if (!origin) return false;
  return origin.scheme === 'https' || policy.plainHttpHosts.some((host) => normalizeHost(host) === origin.host);
}

/**
 * Whether credentials may be sent to `url`: its origin is one of `origins` (the policy's `gateways`
 * or `coordinators`), over HTTPS unless the policy allows plain HTTP for its host.
 */
export function credentialsAllowed(url: string, policy: WorkerPolicy, origins: readonly string[]): boolean {
  return originListed(url, origins) && transportAllowed(url, policy);
}
