import { ApplicationFailure } from '@temporalio/activity';
import type { GatewayBackend } from '../integrations/gateway/types';

/** What cutover expects of a backend before it changes it: its routing group and, when known, its address. */
export interface ExpectedBackend {
  routingGroup: string;
  proxyTo?: string;
  /** What that address is, for the message ("green's address"). */
  addressOf?: string;
}

/** The gateway drops one trailing "/" of proxyTo when it stores a backend. */
function sameAddress(a: string, b: string): boolean {
  return a.replace(/\/$/, '') === b.replace(/\/$/, '');
}

/** How `backend` differs from what cutover expects ("belongs to routing group etl, not adhoc"), or undefined. */
export function mismatchOf(backend: GatewayBackend, expected: ExpectedBackend): string | undefined {
  if (backend.routingGroup !== expected.routingGroup)
    return `belongs to routing group ${backend.routingGroup}, not ${expected.routingGroup}`;
  if (expected.proxyTo !== undefined && !sameAddress(backend.proxyTo, expected.proxyTo))
    return `proxies to ${backend.proxyTo}, not ${expected.proxyTo}${expected.addressOf ? ` (${expected.addressOf})` : ''}`;
  return undefined;
}

/** A refusal to change a backend that is not cutover's: non-retryable, and nothing was changed. */
export function foreignBackend(name: string, mismatch: string, verb: string, hint?: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `backend ${name} ${mismatch}: refusing to ${verb} it${hint ? `; ${hint}` : ''}`,
    'ForeignBackend',
  );
}

/** Refuses to change `backend` unless it is what cutover expects. */
export function assertOwned(backend: GatewayBackend, expected: ExpectedBackend, verb: string, hint?: string): void {
  const mismatch = mismatchOf(backend, expected);
  if (mismatch) throw foreignBackend(backend.name, mismatch, verb, hint);
}
