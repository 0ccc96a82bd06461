import type { UpgradeEvent, UpgradeEventKind } from '../../upgrade-events';

/** What each event says first, after the upgrade's name. */
const HEADLINE: Record<UpgradeEventKind, string> = {
  gate: 'awaits approval',
  rollback: 'is rolling back',
  inconclusive: 'analysis is inconclusive',
  succeeded: 'succeeded',
  failed: 'failed',
};

/** The event as a JSON document (format `json`). */
export function jsonBody(event: UpgradeEvent): Record<string, unknown> {
  const { kind, ...rest } = event;
  return { event: kind, ...rest };
}

/** A Slack-compatible incoming-webhook message (format `slack`): one line of text. */
export function slackBody(event: UpgradeEvent): { text: string } {
  const target = `${event.routingGroup} → ${event.green.name} ${event.green.version}`;
  return {
    text: `cutover ${escapeSlack(event.upgradeId)} (${escapeSlack(target)}) ${HEADLINE[event.kind]}: ${escapeSlack(event.message)}`,
  };
}

/** Slack reads `&`, `<` and `>` as markup: escape them as its documentation says. */
function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
