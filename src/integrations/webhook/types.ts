import type { UpgradeEvent, UpgradeEventKind } from '../../upgrade-events';

/** One receiver of upgrade events, as the worker policy names it. */
export interface Webhook {
  /** Names it in messages and logs without its path or token (`webhooks[0] (https://hooks.example.com)`). */
  readonly label: string;
  /** The events it wants. */
  readonly events: readonly UpgradeEventKind[];
  /** Posts one event; throws an IntegrationError (retryable or not) when the receiver does not take it. */
  deliver(event: UpgradeEvent, signal?: AbortSignal): Promise<void>;
}
