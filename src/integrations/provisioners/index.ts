import { durationMs } from '../../plan/duration';
import type { ProvisionerConfig } from '../../plan/schema';
import type { WorkerPolicy } from '../../policy/schema';
import { IntegrationError } from '../errors';
import { CommandProvisioner, profileOptions } from './command';
import { SandboxProvisioner } from './sandbox';
import { StaticProvisioner } from './static';
import type { Provisioner } from './types';

export { CommandProvisioner } from './command';
export { SandboxProvisioner } from './sandbox';
export { StaticProvisioner } from './static';

/** What a provisioner needs besides its own configuration. */
export interface ProvisionerContext {
  /** The plan's gateway URL: the sandbox fleet serves its control API there unless `controlUrl` says otherwise. */
  gatewayUrl: string;
  /** The plan's `green.url`, where a static cluster runs. */
  staticUrl?: string;
  /** Cancels running commands and requests. */
  signal?: AbortSignal;
  /** The worker policy in force: which provisioners and command profiles plans may use; undefined is no-policy mode. */
  policy: WorkerPolicy | undefined;
}

/** A provisioner that holds connections or processes until closed. */
export type ClosableProvisioner = Provisioner & { close(): Promise<void> };

/**
 * The provisioner the plan's `green.provisioner` asks for, as the worker policy allows it; a refusal
 * is a non-retryable `ProvisionerNotAllowed`.
 */
export function createProvisioner(config: ProvisionerConfig, context: ProvisionerContext): ClosableProvisioner {
  const { policy } = context;
  switch (config.type) {
    case 'sandbox':
      if (policy && !policy.provisioners.sandbox) throw refused('sandbox');
      return new SandboxProvisioner({
        controlUrl: config.controlUrl ?? context.gatewayUrl,
        startupDelayMs: durationMs(config.startupDelay),
        signal: context.signal,
      });
    case 'command':
      return new CommandProvisioner({ ...profileOptions(config, policy, context.gatewayUrl), signal: context.signal });
    case 'static':
      if (policy && !policy.provisioners.static) throw refused('static');
      return new StaticProvisioner(context.staticUrl);
  }
}

function refused(type: 'sandbox' | 'static'): IntegrationError {
  return new IntegrationError(
    `the worker policy does not allow the ${type} provisioner (provisioners.${type}: false): use a provisioner it allows, or ask the worker's operators`,
    'ProvisionerNotAllowed',
    false,
  );
}
