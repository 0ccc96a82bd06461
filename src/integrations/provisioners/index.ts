import { durationMs } from '../../plan/duration';
import type { ProvisionerConfig } from '../../plan/schema';
import { CommandProvisioner } from './command';
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
}

/** A provisioner that holds connections or processes until closed. */
export type ClosableProvisioner = Provisioner & { close(): Promise<void> };

/** The provisioner the plan's `green.provisioner` asks for. */
export function createProvisioner(config: ProvisionerConfig, context: ProvisionerContext): ClosableProvisioner {
  switch (config.type) {
    case 'sandbox':
      return new SandboxProvisioner({
        controlUrl: config.controlUrl ?? context.gatewayUrl,
        startupDelayMs: durationMs(config.startupDelay),
        signal: context.signal,
      });
    case 'command':
      return new CommandProvisioner({
        create: config.create,
        delete: config.delete,
        status: config.status,
        timeoutMs: durationMs(config.timeout),
        signal: context.signal,
      });
    case 'static':
      return new StaticProvisioner(context.staticUrl);
  }
}
