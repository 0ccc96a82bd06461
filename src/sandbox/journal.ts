/**
 * What the journal records. Backend and group kinds come from the gateway, cluster kinds from the
 * fleet's control API. Activation kinds are written only when the flag really changes; an update is
 * always written and its detail says whether it changed anything.
 */
export type JournalKind =
  | 'backend.added'
  | 'backend.updated'
  | 'backend.deleted'
  | 'backend.activated'
  | 'backend.deactivated'
  | 'backend.health'
  | 'group.unserved'
  | 'group.served'
  | 'rule.updated'
  | 'replica.faults'
  | 'cluster.created'
  | 'cluster.deleted'
  | 'cluster.faults'
  | 'cluster.crashed'
  | 'cluster.recovered';

/** One effect, in the order it happened. */
export interface JournalEntry {
  /** Epoch milliseconds. */
  at: number;
  kind: JournalKind;
  /** Backend, cluster or rule name. */
  name?: string;
  /** Routing group the effect concerns. */
  group?: string;
  detail?: string;
  /** The gateway replica whose own state (health cache, rules file) changed, when the gateway has several. */
  replica?: string;
}

/** Long sandbox sessions must not grow without bound; tests read far fewer entries. */
const MAX_ENTRIES = 100_000;

/** Append-only record of the effects a test or a demo wants to assert on. */
export class Journal {
  private readonly log: JournalEntry[] = [];

  /** Records one effect now. */
  append(kind: JournalKind, fields: Omit<JournalEntry, 'at' | 'kind'> = {}): JournalEntry {
    const entry: JournalEntry = { at: Date.now(), kind, ...fields };
    this.log.push(entry);
    if (this.log.length > MAX_ENTRIES) this.log.splice(0, this.log.length - MAX_ENTRIES);
    return entry;
  }

  /** Entries at or after `since` (epoch ms), oldest first. */
  entries(since?: number): JournalEntry[] {
    return since === undefined ? [...this.log] : this.log.filter((entry) => entry.at >= since);
  }
}
