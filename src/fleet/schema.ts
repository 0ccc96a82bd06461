import { z } from 'zod';
import { duration, gatewaySection, name, trinoVersion } from '../plan/schema';

/**
 * Fields of an upgrade plan a fleet sets for each group itself, and why: the gateway once for the
 * fleet, the routing group and blue from the gateway, green's name per group and its version for all.
 */
const FLEET_SET_FIELDS: Record<string, string> = {
  gateway: "is the fleet's: set it once at the top of the fleet plan",
  routingGroup: 'comes from the groups list: each group gets a plan of its own',
  blue: 'is each group: every active backend of the routing group',
  'green.name': 'is set per group (groups[].green.name), by default <routingGroup>-<version>',
  'green.version': "is the fleet's version, the same for every group",
};

/** A mapping of upgrade plan settings (checked when each group's plan is built) that sets none of FLEET_SET_FIELDS. */
const planSettings = (what: string) =>
  z
    .record(z.string(), z.unknown(), { error: `must be a mapping of upgrade plan settings (${what})` })
    .superRefine((settings, ctx) => {
      for (const [field, reason] of Object.entries(FLEET_SET_FIELDS)) {
        const [key, inner] = field.split('.');
        const value = settings[key];
        const set =
          inner === undefined ? Object.hasOwn(settings, key) : isMapping(value) && Object.hasOwn(value, inner);
        if (set) ctx.addIssue({ code: 'custom', path: field.split('.'), message: reason });
      }
    });

function isMapping(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The values of command provisioner parameters, checked with the merged plan. */
const parameters = z.record(z.string(), z.unknown(), { error: 'must be a mapping of parameter names to values' });

/** A JavaScript regular expression that must match a whole routing group name. */
const groupPattern = z.string({ error: 'must be a regular expression such as "team-.*"' }).refine(
  (pattern) => {
    try {
      new RegExp(pattern, 'u');
      return true;
    } catch {
      return false;
    }
  },
  { error: 'must be a valid regular expression such as "team-.*"' },
);

/**
 * One routing group by name, or every routing group of the gateway whose whole name `pattern`
 * matches, with what its upgrade changes from the base plan.
 */
const groupEntry = z
  .strictObject({
    routingGroup: name.optional(),
    pattern: groupPattern.optional(),
    strategy: z.enum(['blue-green', 'canary'], { error: 'must be "blue-green" or "canary"' }).optional(),
    green: z
      .strictObject({
        /** Green's backend name (default `<routingGroup>-<version>`). */
        name: z.string({ error: 'must be a backend name' }).optional(),
        provisioner: z.strictObject({ parameters }).optional(),
      })
      .optional(),
    /** Laid over the base plan for this group; it must still make a valid upgrade plan. */
    overrides: planSettings('laid over the base for this group').optional(),
  })
  .superRefine((entry, ctx) => {
    if ((entry.routingGroup === undefined) === (entry.pattern === undefined))
      ctx.addIssue({
        code: 'custom',
        message: 'must give either routingGroup: NAME or pattern: REGEX',
      });
    if (entry.pattern !== undefined && entry.green?.name !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['green', 'name'],
        message: 'names one green, but a pattern selects several groups: list the group by its routingGroup',
      });
  });

/** `25%`: a share of the groups no earlier wave took and no later wave names. */
const share = z
  .string({ error: 'must be a share such as "25%"' })
  .regex(/^([1-9]\d?|100)%$/, { error: 'must be a share from "1%" to "100%", such as "25%"' })
  .transform((value) => Number(value.slice(0, -1)));

const wave = z
  .strictObject({
    /** Shown in status and the UI (default `wave-<n>`). */
    name: name.optional(),
    /** These routing groups, in this order. */
    groups: z
      .array(name)
      .min(1, { error: 'must name at least one routing group' })
      .refine((groups) => new Set(groups).size === groups.length, { error: 'must not name a group twice' })
      .optional(),
    share: share.optional(),
    /** Every group no other wave takes; only the last wave. */
    rest: z.literal(true, { error: 'must be true (every group left) or left out' }).optional(),
    /** Upgrades of the wave that run at once. */
    maxParallel: z
      .number({ error: 'must be a whole number, 1 or more' })
      .int({ error: 'must be a whole number, 1 or more' })
      .min(1, { error: 'must be 1 or more' })
      .default(1),
    /** An operator approves the fleet before the wave starts. */
    approval: z.boolean({ error: 'must be true or false' }).default(false),
    /** Time to wait after the wave's last upgrade ended, before the next wave. */
    soak: duration.optional(),
  })
  .superRefine((wave, ctx) => {
    const given = [wave.groups, wave.share, wave.rest].filter((value) => value !== undefined).length;
    if (given !== 1)
      ctx.addIssue({
        code: 'custom',
        message: 'must take its groups one way: groups: [NAMES], share: "25%" or rest: true',
      });
  });

/** What the fleet does when an upgrade of a group ends ROLLED_BACK or FAILED. */
const ON_FAILURE = ['halt', 'continue', 'rollback-wave'] as const;

/**
 * A fleet plan (README "Fleet plans"): one target version for many routing groups of one gateway,
 * from one base plan, in ordered waves. Each group's upgrade plan is built and checked by
 * `expandFleet` (src/fleet/expand.ts), which needs the gateway's routing groups for patterns.
 */
export const fleetPlanSchema = z
  .strictObject({
    /** The fleet's id: its workflow is `cutover-fleet-<name>`. */
    name,
    gateway: gatewaySection,
    version: trinoVersion,
    /** An upgrade plan without routingGroup, blue, green.name and green.version: the settings every group starts from. */
    base: planSettings('an upgrade plan without routingGroup, blue, green.name and green.version'),
    groups: z.array(groupEntry).min(1, { error: 'must list at least one group or pattern' }),
    waves: z.array(wave).min(1, { error: 'must list at least one wave' }),
    onFailure: z
      .enum(ON_FAILURE, { error: `must be one of ${ON_FAILURE.map((value) => `"${value}"`).join(', ')}` })
      .default('halt'),
  })
  .superRefine((fleet, ctx) => {
    const rest = fleet.waves.findIndex((wave) => wave.rest);
    if (rest >= 0 && rest !== fleet.waves.length - 1)
      ctx.addIssue({
        code: 'custom',
        path: ['waves', rest, 'rest'],
        message: 'only the last wave may take the rest (later waves would be left empty)',
      });
    const names = fleet.waves.map((wave, index) => wave.name ?? defaultWaveName(index));
    names.forEach((waveName, index) => {
      if (names.indexOf(waveName) !== index)
        ctx.addIssue({ code: 'custom', path: ['waves', index, 'name'], message: `${waveName} names another wave too` });
    });
  });

/** `wave-1`, `wave-2`, ...: the name of a wave that gives none. */
export function defaultWaveName(index: number): string {
  return `wave-${index + 1}`;
}

/** A fleet plan as validated, defaults filled; its groups' plans come from expandFleet. */
export type FleetPlan = z.output<typeof fleetPlanSchema>;
export type FleetGroupEntry = FleetPlan['groups'][number];
