import { activityInfo, ApplicationFailure, cancellationSignal, heartbeat, log } from '@temporalio/activity';
import { IntegrationError } from '../integrations/errors';
import type { UpgradeEvent } from '../upgrade-events';
import type { ActivityDeps } from './types';

export interface NotifyInput {
  event: UpgradeEvent;
}

/** Which webhooks took the event, and which refused it for good. */
export interface NotifyResult {
  delivered: string[];
  /** A 4xx answer or a setting missing on the worker: retrying would not help. Each says why. */
  refused: string[];
}

/** What earlier attempts did (heartbeat details): a retry sends only to the webhooks still owed the event. */
interface DeliveryProgress {
  delivered: string[];
  refused: { webhook: string; why: string }[];
}

/** Upgrade events to the worker policy's webhooks (README "Notifications"). */
export function notificationActivities(deps: ActivityDeps) {
  return {
    /**
     * Posts the event to every webhook of the policy in force that wants it. A receiver that fails
     * (5xx, unreachable, no answer) fails the attempt, and the retry sends only to the receivers that
     * have not taken it yet; one that refuses (4xx, a variable not set) is given up at once.
     */
    async notify({ event }: NotifyInput): Promise<NotifyResult> {
      const progress = resumedDelivery() ?? { delivered: [], refused: [] };
      const done = new Set([...progress.delivered, ...progress.refused.map((refusal) => refusal.webhook)]);
      const due = deps.webhooks().filter((hook) => hook.events.includes(event.kind) && !done.has(hook.label));
      const outcomes = await Promise.allSettled(due.map((hook) => hook.deliver(event, cancellationSignal())));
      const failures: string[] = [];
      outcomes.forEach((outcome, index) => {
        const webhook = due[index].label;
        if (outcome.status === 'fulfilled') progress.delivered.push(webhook);
        else if (outcome.reason instanceof IntegrationError && !outcome.reason.retryable)
          progress.refused.push({ webhook, why: outcome.reason.message });
        else failures.push(outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason));
      });
      for (const refusal of progress.refused.filter((r) => !done.has(r.webhook)))
        log.warn('a webhook refused an upgrade event; it is not sent again', { event: event.kind, why: refusal.why });
      if (failures.length > 0) {
        heartbeat(progress);
        throw ApplicationFailure.retryable(
          `${event.kind} event not delivered yet: ${failures.join('; ')}`,
          'WebhookUnavailable',
        );
      }
      return { delivered: progress.delivered, refused: progress.refused.map((refusal) => refusal.why) };
    },
  };
}

/** What an earlier attempt of this delivery recorded, if any. */
function resumedDelivery(): DeliveryProgress | undefined {
  const details = activityInfo().heartbeatDetails as DeliveryProgress | undefined;
  return details && Array.isArray(details.delivered) && Array.isArray(details.refused) ? details : undefined;
}
