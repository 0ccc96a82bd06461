import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JournalEntry, JournalKind } from '../../src/sandbox/journal';

/**
 * One count the sandbox journal must show: entries of `kinds` (summed) for the backend or cluster
 * `name`, exactly `expected` of them or at most `expected.atMost`, and what that means.
 */
export type JournalCount = [
  kinds: JournalKind | JournalKind[],
  name: string,
  expected: number | { atMost: number },
  says: string,
];

/** How many entries of `kinds` the journal has for `name`. */
export function countOf(journal: JournalEntry[], kinds: JournalKind | JournalKind[], name: string): number {
  const wanted: JournalKind[] = Array.isArray(kinds) ? kinds : [kinds];
  return journal.filter((entry) => wanted.includes(entry.kind) && entry.name === name).length;
}

/**
 * The journal assertion of every test: each of `counts`, and with `alwaysServed` that the routing
 * group always had an active HEALTHY backend (the gateway never journaled it unserved).
 */
export function assertJournal(
  journal: JournalEntry[],
  expected: { counts?: JournalCount[]; alwaysServed?: string },
): void {
  const group = expected.alwaysServed;
  if (group !== undefined) {
    assert.deepEqual(
      journal.filter((entry) => entry.kind === 'group.unserved' && entry.group === group),
      [],
      `routing group ${group} always had an active HEALTHY backend`,
    );
  }
  for (const [kinds, name, wanted, says] of expected.counts ?? []) {
    const count = countOf(journal, kinds, name);
    if (typeof wanted === 'number') assert.equal(count, wanted, says);
    else assert.ok(count <= wanted.atMost, `${says} (${count})`);
  }
}

/** No change to `<group>-green` made twice: each effect on green at most once. */
export function nothingTwice(group: string): JournalCount[] {
  const green = `${group}-green`;
  return [
    ['cluster.created', green, { atMost: 1 }, 'green provisioned at most once'],
    [['backend.added', 'backend.updated'], green, { atMost: 1 }, 'green registered at most once'],
    ['backend.activated', green, { atMost: 1 }, 'green activated at most once'],
    ['backend.deleted', green, { atMost: 1 }, 'green removed from the gateway at most once'],
    ['cluster.deleted', green, { atMost: 1 }, 'green torn down at most once'],
  ];
}

/** A finished upgrade of `group` from `<group>-blue` to `green` (default `<group>-green`) changed all once. */
export function upgradedOnce(group: string, green = `${group}-green`): JournalCount[] {
  const blue = `${group}-blue`;
  return [
    ['cluster.created', green, 1, `green ${green} provisioned once`],
    [['backend.added', 'backend.updated'], green, 1, `green ${green} registered once`],
    ['backend.activated', green, 1, `green ${green} activated once`],
    ['backend.deactivated', blue, 1, `blue ${blue} deactivated once`],
    ['backend.deleted', blue, 1, `blue ${blue} removed from the gateway once`],
    ['cluster.deleted', blue, 1, `blue ${blue} torn down once`],
  ];
}

/** A rolled-back upgrade of `group` provisioned `<group>-green` once and tore it down once. */
export function rolledBackOnce(group: string): JournalCount[] {
  const green = `${group}-green`;
  return [
    ['cluster.created', green, 1, 'green provisioned once'],
    ['cluster.deleted', green, 1, 'green torn down once'],
  ];
}

/**
 * A `since` for `SandboxFleet.journal` that leaves out every effect recorded before the call. The
 * journal stamps entries in whole milliseconds, so an effect a test caused (a backend it
 * registered through the gateway's API) can carry the same millisecond as a bare `Date.now()` taken
 * right after it, and count as a change of the run under test. This waits for the clock to turn
 * (about a millisecond) and returns the new time.
 */
export async function journalMark(): Promise<number> {
  const now = Date.now();
  while (Date.now() <= now) await sleep(1);
  return Date.now();
}
