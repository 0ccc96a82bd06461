/**
 * What an upgrade announces to the worker's webhooks (README "Notifications"). The workflow
 * builds the event and hands it to the `notify` activity, which alone knows where it goes: the
 * webhook URLs and tokens are the worker's, never part of an event or of history.
 */

/** Every kind of event, in the order the policy's `events` lists them. */
export const UPGRADE_EVENT_KINDS = ['gate', 'rollback', 'inconclusive', 'succeeded', 'failed'] as const;

/**
 * `gate`: an approval gate waits; `rollback`: a rollback starts (with its reason); `inconclusive`:
 * the analysis could not decide; `succeeded` and `failed`: how the upgrade ended.
 */
export type UpgradeEventKind = (typeof UPGRADE_EVENT_KINDS)[number];

/** One event of one upgrade: its kind and where the upgrade stands (no secrets: it is in history). */
export interface UpgradeEvent {
  kind: UpgradeEventKind;
  /** Unique per event and the same on every retry of its delivery: receivers drop repeats by it. */
  eventId: string;
  /** The workflow id (`cutover-adhoc`). */
  upgradeId: string;
  /** The upgrade's first run id (unchanged by continue-as-new). */
  runId: string;
  strategy: 'blue-green' | 'canary';
  routingGroup: string;
  phase: string;
  trafficPercent: number;
  green: { name: string; version: string };
  blue: string[];
  /** What happened, as the timeline says it. */
  message: string;
  /** Why it rolls back (`rollback` only). */
  reason?: string;
  /** ISO time of the workflow clock. */
  at: string;
}
