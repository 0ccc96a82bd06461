import { merge, type Overrides } from '../plan/merge';
import { issueProblems } from '../plan/problems';
import { upgradePlanSchema, type UpgradePlan } from '../plan/schema';
import { defaultWaveName, type FleetGroupEntry, type FleetPlan } from './schema';

/** One routing group of a fleet and the upgrade plan it runs. */
export interface FleetGroup {
  routingGroup: string;
  /** The entry of the fleet plan it comes from, e.g. `groups[2]`. */
  entry: string;
  plan: UpgradePlan;
}

/** One wave of a fleet, in order. */
export interface FleetWaveOf<G> {
  name: string;
  maxParallel: number;
  approval: boolean;
  soak?: string;
  groups: G[];
}

/**
 * A fleet plan laid out in waves of validated upgrade plans, or every problem by field (with the
 * waves as far as known). With patterns unresolved, `awaitingPatterns` are groups waves name that
 * only a pattern may select: they have no plan yet.
 */
export type FleetExpansion =
  | { ok: true; waves: FleetWaveOf<FleetGroup>[]; unresolvedPatterns: string[]; awaitingPatterns: string[] }
  | { ok: false; problems: string[]; waves: FleetWaveOf<string>[]; unresolvedPatterns: string[] };

/** A routing group of the fleet, with the entry that selected it. */
interface Member {
  routingGroup: string;
  index: number;
}

/**
 * Expands a validated fleet plan into waves of upgrade plans, one per routing group, without I/O
 * and deterministically: groups in the order of `groups` (a pattern's matches sorted by name, a
 * group listed by name taking precedence over a pattern matching it), waves in order. Every
 * group's plan is the base with the group's settings laid over it, checked by the upgrade plan
 * schema; its problems are named by the fleet field they come from (`groups[2].green.name`,
 * `base.health.interval`). `gatewayGroups` are the gateway's routing groups; without them
 * (undefined) patterns stay unresolved and groups are not checked against the gateway.
 * `planProblems` checks each valid plan further (a worker policy's `policyProblems`), without I/O.
 */
export function expandFleet(
  fleet: FleetPlan,
  gatewayGroups: readonly string[] | undefined,
  planProblems: (plan: UpgradePlan) => string[] = () => [],
): FleetExpansion {
  const problems: string[] = [];
  const { members, unresolvedPatterns } = resolveGroups(fleet, gatewayGroups, problems);
  const plans = buildPlans(fleet, members, planProblems, problems);
  const waves = assignWaves(fleet, members, unresolvedPatterns.length > 0, problems);
  if (problems.length > 0 || plans.size < members.length) return { ok: false, problems, waves, unresolvedPatterns };
  return {
    ok: true,
    unresolvedPatterns,
    awaitingPatterns: waves.flatMap((wave) => wave.groups.filter((routingGroup) => !plans.has(routingGroup))),
    waves: waves.map((wave) => ({
      ...wave,
      groups: wave.groups.flatMap((routingGroup) => {
        const group = plans.get(routingGroup);
        return group ? [group] : [];
      }),
    })),
  };
}

function resolveGroups(
  fleet: FleetPlan,
  gatewayGroups: readonly string[] | undefined,
  problems: string[],
): { members: Member[]; unresolvedPatterns: string[] } {
  const listed = new Map<string, number>();
  fleet.groups.forEach((entry, index) => {
    if (entry.routingGroup === undefined) return;
    const first = listed.get(entry.routingGroup);
    if (first !== undefined)
      problems.push(
        `groups[${index}].routingGroup: ${entry.routingGroup} is listed twice (also groups[${first}]); list each group once`,
      );
    else listed.set(entry.routingGroup, index);
  });
  const known = gatewayGroups ? [...new Set(gatewayGroups)].sort() : undefined;
  const members: Member[] = [];
  const taken = new Set<string>();
  const unresolvedPatterns: string[] = [];
  fleet.groups.forEach((entry, index) => {
    if (entry.routingGroup !== undefined) {
      if (listed.get(entry.routingGroup) !== index) return;
      if (known && !known.includes(entry.routingGroup))
        problems.push(
          `groups[${index}].routingGroup: ${entry.routingGroup} is not a routing group of the gateway at ${fleet.gateway.url} (${groupsText(known)})`,
        );
      members.push({ routingGroup: entry.routingGroup, index });
      taken.add(entry.routingGroup);
      return;
    }
    const pattern = entry.pattern!;
    if (!known) {
      unresolvedPatterns.push(pattern);
      return;
    }
    const whole = new RegExp(`^(?:${pattern})$`, 'u');
    // A routing-rule canary's group (`<group>-canary`, green's while a canary runs) is no group to upgrade.
    const matches = known.filter((group) => whole.test(group) && !isCanaryGroup(group, known));
    if (matches.length === 0)
      problems.push(
        `groups[${index}].pattern: ${pattern} matches no routing group of the gateway at ${fleet.gateway.url} (${groupsText(known)}); it must match a whole name`,
      );
    for (const routingGroup of matches.filter((group) => !listed.has(group) && !taken.has(group))) {
      members.push({ routingGroup, index });
      taken.add(routingGroup);
    }
  });
  return { members, unresolvedPatterns };
}

/** `adhoc-canary` beside `adhoc`: the default group of a routing-rule canary of `adhoc`, not a group of its own. */
function isCanaryGroup(group: string, known: readonly string[]): boolean {
  return group.endsWith('-canary') && known.includes(group.slice(0, -'-canary'.length));
}

function groupsText(groups: readonly string[]): string {
  return groups.length ? `its groups: ${groups.join(', ')}` : 'it lists no backend';
}

/**
 * Each member's upgrade plan; a member whose plan does not validate gets none. Problems of a plan
 * (the schema's, then `planProblems`', each `field: message`) are named by the fleet field they come from.
 */
function buildPlans(
  fleet: FleetPlan,
  members: Member[],
  planProblems: (plan: UpgradePlan) => string[],
  problems: string[],
): Map<string, FleetGroup> {
  const plans = new Map<string, FleetGroup>();
  // Problem text -> routing groups it was found for: a problem of the base shows once, naming its groups unless it is every group's.
  const found = new Map<string, { groups: string[]; ofSome: (groups: string[]) => boolean }>();
  const note = (problem: string, member: Member) => {
    // A problem of the fleet's own fields applies to some groups only when other groups have none; a pattern's, to each group it names.
    const ofFleet = /^(base|version|gateway)\b/.test(problem);
    const seen = found.get(problem) ?? {
      groups: [],
      ofSome: (groups) => (ofFleet ? groups.length < members.length : fleet.groups[member.index].pattern !== undefined),
    };
    seen.groups.push(member.routingGroup);
    found.set(problem, seen);
  };
  const greens = new Map<string, Member>();
  for (const member of members) {
    const writers = planWriters(fleet, member);
    const fieldOf = (field: string) => fleetField(field, writers, fleet.groups[member.index], member.index);
    const document = writers.reduceRight((plan, writer) => merge(plan, writer.settings), {} as Overrides);
    const result = upgradePlanSchema.safeParse(document, { reportInput: true });
    if (!result.success) {
      for (const problem of issueProblems(result.error.issues, fieldOf)) note(problem, member);
      continue;
    }
    const plan = result.data;
    for (const problem of planProblems(plan)) {
      const colon = problem.indexOf(': ');
      note(colon < 0 ? problem : `${fieldOf(problem.slice(0, colon))}${problem.slice(colon)}`, member);
    }
    const other = greens.get(plan.green.name);
    if (other)
      problems.push(
        `groups[${member.index}].green.name: ${plan.green.name} is also the green of routing group ${other.routingGroup} (groups[${other.index}]); each group needs a green of its own`,
      );
    else greens.set(plan.green.name, member);
    plans.set(member.routingGroup, { routingGroup: member.routingGroup, entry: `groups[${member.index}]`, plan });
  }
  for (const [problem, { groups, ofSome }] of found) {
    problems.push(
      ofSome(groups) ? `${problem} (routing group${groups.length > 1 ? 's' : ''} ${groups.join(', ')})` : problem,
    );
  }
  return plans;
}

/** Who sets what in a group's plan, the last word first: the fleet's own fields, the group's entry, its overrides, the base. */
interface Writer {
  settings: Overrides;
  /** The fleet field of a plan field this writer sets. */
  field: (planField: string) => string;
}

function planWriters(fleet: FleetPlan, { routingGroup, index }: Member): Writer[] {
  const entry = fleet.groups[index];
  const at = `groups[${index}]`;
  const fixed: Overrides = {
    gateway: fleet.gateway,
    routingGroup,
    green: { name: entry.green?.name ?? `${routingGroup}-${fleet.version}`, version: fleet.version },
  };
  const own: Overrides = {
    ...(entry.strategy ? { strategy: entry.strategy } : {}),
    ...(entry.green?.provisioner ? { green: { provisioner: entry.green.provisioner } } : {}),
  };
  return [
    {
      settings: fixed,
      field: (field) =>
        under(field, 'routingGroup')
          ? entry.pattern === undefined
            ? `${at}.routingGroup`
            : `${at}.pattern`
          : under(field, 'green.name')
            ? `${at}.green.name`
            : under(field, 'green.version')
              ? field.replace(/^green\.version/, 'version')
              : field,
    },
    { settings: own, field: (field) => `${at}.${field}` },
    { settings: entry.overrides ?? {}, field: (field) => `${at}.overrides.${field}` },
    { settings: fleet.base, field: (field) => `base.${field}` },
  ];
}

/** The fleet field a plan field comes from: the first writer that sets it (or an array or value above it); else the base. */
function fleetField(field: string, writers: Writer[], entry: FleetGroupEntry, index: number): string {
  if (field === '') return entry.pattern === undefined ? `groups[${index}]` : `groups[${index}].pattern`;
  const keys = field.split(/\.|\[(\d+)\]/).filter((key) => key !== undefined && key !== '');
  const writer = writers.find((candidate) => sets(candidate.settings, keys));
  return (writer ?? writers[writers.length - 1]).field(field);
}

function sets(settings: unknown, keys: string[]): boolean {
  let value = settings;
  for (const key of keys) {
    if (Array.isArray(value) || value === null || typeof value !== 'object') return true;
    if (!Object.hasOwn(value, key)) return false;
    value = (value as Record<string, unknown>)[key];
  }
  return true;
}

function under(field: string, prefix: string): boolean {
  return field === prefix || field.startsWith(`${prefix}.`) || field.startsWith(`${prefix}[`);
}

/**
 * The groups of each wave: named groups first (each in one wave), then shares and the rest, in
 * wave order, from the groups no wave names, in fleet order. A share takes ceil(share x groups
 * left), so a share of a non-empty remainder is never empty.
 */
function assignWaves(
  fleet: FleetPlan,
  members: Member[],
  patternsUnresolved: boolean,
  problems: string[],
): FleetWaveOf<string>[] {
  const all = members.map((member) => member.routingGroup);
  const namedIn = new Map<string, number>();
  const named = fleet.waves.map((wave, w) =>
    (wave.groups ?? []).filter((group, k) => {
      const other = namedIn.get(group);
      if (other !== undefined) {
        problems.push(
          `waves[${w}].groups[${k}]: ${group} is in waves[${other}] too; a group upgrades in exactly one wave`,
        );
        return false;
      }
      namedIn.set(group, w);
      if (!all.includes(group) && !patternsUnresolved) {
        problems.push(
          `waves[${w}].groups[${k}]: ${group} is not a group of this fleet (${all.length ? `its groups: ${all.join(', ')}` : 'it has none'}); add it to groups`,
        );
        return false;
      }
      return true;
    }),
  );
  const left = all.filter((group) => !namedIn.has(group));
  const waves = fleet.waves.map((wave, w) => {
    const from = left.length;
    const groups =
      wave.share !== undefined
        ? left.splice(0, Math.ceil((from * wave.share) / 100))
        : wave.rest
          ? left.splice(0)
          : named[w];
    if (groups.length === 0 && !patternsUnresolved)
      problems.push(
        `waves[${w}]: takes no routing group (${wave.share !== undefined ? `${wave.share}% of the ${from} left` : wave.rest ? 'no group is left for the rest' : 'none of its groups is in the fleet'}); remove the wave or give it groups`,
      );
    return {
      name: wave.name ?? defaultWaveName(w),
      maxParallel: wave.maxParallel,
      approval: wave.approval,
      ...(wave.soak ? { soak: wave.soak } : {}),
      groups,
    };
  });
  if (left.length > 0)
    problems.push(
      `waves: routing group${left.length > 1 ? 's' : ''} ${left.join(', ')} ${left.length > 1 ? 'are' : 'is'} in no wave; name ${left.length > 1 ? 'them' : 'it'} in a wave or end with a wave of rest: true`,
    );
  return waves;
}
