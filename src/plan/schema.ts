import { z } from 'zod';
import { TRAFFIC_MODE_NAMES, trafficMode } from '../integrations/traffic';
import { QUERY_TYPES } from '../integrations/traffic/selector';
import { checkReadOnly } from '../integrations/trino/read-only';
import { planSchedule } from '../schedule/schema';
import { durationMs } from './duration';

const DURATION = /^\d+(\.\d+)?(ms|s|m|h|d)$/;

/** Milliseconds of a string that may not be a valid duration yet (zod runs refinements after failed checks). */
const lenientMs = (value: string): number => (DURATION.test(value) ? durationMs(value) : Number.NaN);

/** The longest delay a Node.js timer can wait (2^31 - 1 ms, about 24.8 days); longer ones fire at once. */
export const MAX_DURATION_MS = 2_147_483_647;

/** A duration string such as `30s`, `10m`, `2h`: whole milliseconds, at most MAX_DURATION_MS. */
export const duration = z
  .string({ error: 'must be a duration string such as "30s", "10m" or "2h"' })
  .regex(DURATION, { error: 'must be a duration such as "30s", "10m" or "2h" (units ms, s, m, h, d)' })
  .refine((value) => Number.isInteger(lenientMs(value)), {
    error: 'must be a whole number of milliseconds (e.g. "1.5s", not "0.5ms")',
  })
  .refine((value) => !(lenientMs(value) > MAX_DURATION_MS), {
    error: 'must be at most 24d (the longest timer Node.js can set is 2^31 - 1 ms)',
  });

const positiveDuration = duration.refine((value) => !(lenientMs(value) <= 0), { error: 'must be longer than 0' });

/** Failed checks or samples in a row that roll back: beyond 1000 a failing green would keep serving for hours. */
const consecutiveFailures = z
  .number()
  .int()
  .min(1, { error: 'must be 1 or more' })
  .max(1000, { error: 'must be at most 1000 (more would keep a failing green for hours)' });

/** A poll or sample interval: shorter than 100 ms would hammer the gateway and the coordinators. */
const interval = positiveDuration.refine((value) => !(lenientMs(value) < 100), { error: 'must be at least 100ms' });

/**
 * An http(s) base URL with no user, password, query or fragment: credentials belong to the worker,
 * and a query or fragment would be carried into every request cutover makes.
 */
const httpUrl = z
  .string({ error: 'must be an http(s) URL such as "http://127.0.0.1:8080"' })
  .refine((value) => /^https?:\/\/[^\s/]+/.test(value) && URL.canParse(value), {
    error: 'must be an http(s) URL such as "http://127.0.0.1:8080"',
  })
  .refine((value) => !URL.canParse(value) || (!new URL(value).username && !new URL(value).password), {
    error: "must not carry a user or password: credentials belong in the worker's environment, never in a plan",
  })
  .refine((value) => !/[?#]/.test(value), { error: 'must not have a query (?...) or a fragment (#...)' })
  .transform((value) => value.replace(/\/+$/, ''));

/** Longest backend or routing-group name, derived names (`<green>-canary`) included. */
const MAX_NAME_LENGTH = 63;

/** Backend and routing-group names as Trino Gateway accepts them in paths. */
export const name = z
  .string({ error: 'must be a name (letters, digits, "-", "_" and ".")' })
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, {
    error: 'must start with a letter or digit and use only letters, digits, ".", "_" and "-" (at most 63)',
  });

/** Most gateway replicas a plan may list: each is asked on every poll of a shift. */
export const MAX_GATEWAY_REPLICAS = 16;

/** Most smoke queries a plan may list: each runs on every readiness check. */
export const MAX_SMOKE_QUERIES = 20;

/** A statement that only reads (src/integrations/trino/read-only.ts). */
const smokeQuery = z.string({ error: 'must be a SQL statement' }).superRefine((sql, ctx) => {
  const verdict = checkReadOnly(sql);
  if (!verdict.readOnly) ctx.addIssue({ code: 'custom', message: verdict.reason });
});

/** Most queries of the plan's own `shadow.queries`. */
export const MAX_SHADOW_PLAN_QUERIES = 1000;

/** A file's name relative to the worker's query directory: no absolute path, no `..`. */
const queryFileName = z
  .string({ error: 'must be a file name such as "nightly.sql"' })
  .regex(/^[A-Za-z0-9_][A-Za-z0-9._-]*(\/[A-Za-z0-9_][A-Za-z0-9._-]*)*$/, {
    error:
      'must be a file name relative to the worker\'s query directory, such as "team/nightly.sql" (no absolute path, no ..)',
  })
  .refine((name) => !name.split('/').includes('..') && name.length <= 200, {
    error: "must be a file name relative to the worker's query directory, at most 200 characters, without ..",
  });

/**
 * Shadow validation (README "Shadow validation"): read-only queries run on blue and on green at
 * their own addresses and compared before the first traffic move. Off unless the plan has it.
 */
const shadowSection = z
  .strictObject({
    /** Where the queries come from: the routing group's recent queries in the gateway's history, `queries`, and/or `queryFile`. */
    source: z
      .array(z.enum(['history', 'queries', 'file'], { error: 'must be "history", "queries" or "file"' }))
      .min(1, { error: 'must name at least one source: history, queries, file' })
      .default(['history']),
    /** Read-only statements to replay, run as the worker's Trino user. */
    queries: z
      .array(smokeQuery)
      .max(MAX_SHADOW_PLAN_QUERIES, { error: `must not list more than ${MAX_SHADOW_PLAN_QUERIES} queries` })
      .default([]),
    /**
     * A file of `;`-separated read-only statements in the worker's query directory (its policy's
     * `shadow.queryDirectory`), read by the worker; a `-- user: NAME` line in a statement runs it as NAME.
     */
    queryFile: queryFileName.optional(),
    /** Most queries replayed (`queries` first, then `queryFile`, then the history, newest first). */
    sample: z.number().int().min(1, { error: 'must be 1 or more' }).default(50),
    /** Pairs run at once (each pair runs on blue, then on green). */
    concurrency: z.number().int().min(1, { error: 'must be 1 or more' }).default(2),
    /** One query's time on one cluster before it is cancelled on the coordinator. */
    queryTimeout: positiveDuration.default('1m'),
    /** Rows read per query and cluster; a query returning more is compared on its count only, as truncated. */
    rowCap: z.number().int().min(1).max(1_000_000).default(10_000),
    /** Relative tolerance of floating-point columns. */
    floatTolerance: z.number().min(0).max(1).default(1e-9),
    /** Green's elapsed time may be at most this times blue's; above it the query counts as slow. Unset: latency is not judged. */
    maxLatencyRatio: z.number().min(1).optional(),
    /** What a mismatch (or a slow query) does: hold the upgrade for a signed acknowledgement, roll back, or note it and go on. */
    onMismatch: z
      .enum(['block', 'rollback', 'warn'], { error: 'must be "block", "rollback" or "warn"' })
      .default('block'),
    /**
     * Fewest queries that must be compared (matched, mismatched or slow) for the step to judge green;
     * fewer (an empty or unreadable history, everything skipped) is inconclusive, never a pass.
     */
    minQueries: z.number().int().min(0, { error: 'must be 0 or more' }).max(10_000).default(1),
    /** What an inconclusive step does: hold for an acknowledgement, roll back, or note it and go on. */
    onInconclusive: z
      .enum(['block', 'rollback', 'warn'], { error: 'must be "block", "rollback" or "warn"' })
      .default('block'),
    /** How long the whole step may run, retries included; then the upgrade rolls back. */
    timeout: positiveDuration.default('30m'),
  })
  .superRefine((shadow, ctx) => {
    if (shadow.source.includes('queries') && shadow.queries.length === 0)
      ctx.addIssue({ code: 'custom', path: ['queries'], message: 'must list queries when source includes "queries"' });
    if (!shadow.source.includes('queries') && shadow.queries.length > 0)
      ctx.addIssue({
        code: 'custom',
        path: ['source'],
        message: 'must include "queries" to replay the listed queries',
      });
    if (shadow.source.includes('file') && shadow.queryFile === undefined)
      ctx.addIssue({ code: 'custom', path: ['queryFile'], message: 'must name a file when source includes "file"' });
    if (!shadow.source.includes('file') && shadow.queryFile !== undefined)
      ctx.addIssue({ code: 'custom', path: ['source'], message: 'must include "file" to replay the query file' });
  });

export type ShadowConfig = z.output<typeof shadowSection>;

const sandboxProvisioner = z.strictObject({
  type: z.literal('sandbox'),
  /** Control API of the sandbox fleet; defaults to the gateway URL, which serves it. */
  controlUrl: httpUrl.optional(),
  /** Simulated start-up time of the new coordinator. */
  startupDelay: duration.default('2s'),
});

/** Shell lives in the worker policy's provisioner profiles, never in a plan. */
const noShell = z
  .never({
    error:
      'a plan carries no shell commands: name a provisioner profile of the worker policy (profile: NAME, parameters: {...})',
  })
  .optional();

const commandProvisioner = z.strictObject({
  type: z.literal('command'),
  /** A profile of the worker policy (`provisioners.profiles`): its commands, timeout and environment. */
  profile: z
    .string({ error: 'must be the name of a provisioner profile of the worker policy, such as "helm"' })
    .regex(/^[a-z0-9][a-z0-9-]{0,39}$/, {
      error: 'must be the name of a provisioner profile of the worker policy, such as "helm"',
    }),
  /** Values of parameters the profile declares; its commands get each as CUTOVER_PARAM_<UPPER_SNAKE_NAME>. */
  parameters: z
    .record(
      z.string().regex(/^[a-z][a-zA-Z0-9]{0,39}$/, {
        error: 'must be a camelCase parameter name such as "namespace" or "valuesFile"',
      }),
      z
        .string({ error: 'must be a string (quote numbers and booleans)' })
        .max(1024, { error: 'must be at most 1024 characters' })
        .regex(/^\P{Cc}*$/u, { error: 'must be one line without control characters' }),
    )
    .default({}),
  create: noShell,
  delete: noShell,
  status: noShell,
  timeout: z.never({ error: "is set by the worker policy's provisioner profile, not by a plan" }).optional(),
});

const staticProvisioner = z.strictObject({
  type: z.literal('static'),
});

export const provisionerSchema = z.discriminatedUnion(
  'type',
  [sandboxProvisioner, commandProvisioner, staticProvisioner],
  {
    error: 'type must be one of sandbox, command, static',
  },
);

/** One canary step: a traffic weight (with its bake), or a manual approval gate. */
const canaryStep = z
  .strictObject({
    weight: z
      .number({ error: 'must be a number' })
      .int({ error: 'must be a whole number' })
      .min(1, { error: 'must be between 1 and 100' })
      .max(100, { error: 'must be between 1 and 100' })
      .optional(),
    bake: duration.optional(),
    approval: z.literal(true, { error: 'must be true (a manual gate) or left out' }).optional(),
  })
  .superRefine((step, ctx) => {
    if ((step.weight === undefined) === (step.approval === undefined)) {
      ctx.addIssue({
        code: 'custom',
        message: 'must have either a weight (e.g. { weight: 25, bake: 10m }) or approval: true',
      });
    }
    if (step.approval && step.bake)
      ctx.addIssue({ code: 'custom', path: ['bake'], message: 'belongs to a weight step, not to an approval gate' });
  });

export type CanaryStep = z.output<typeof canaryStep>;

/** Common canary shapes; a step without `bake` bakes for the plan's `bake`. */
export const CANARY_PRESETS: Record<'standard' | 'ten-then-full' | 'linear-10', CanaryStep[]> = {
  standard: [{ weight: 5 }, { weight: 25 }, { weight: 50 }, { weight: 100 }],
  'ten-then-full': [{ weight: 10 }, { weight: 100 }],
  'linear-10': Array.from({ length: 10 }, (_, i) => ({ weight: (i + 1) * 10 })),
};

/**
 * How a bake analyses green against blue: every `interval` a sample compares the queries each
 * ended in that window (src/analysis/judge.ts). Defaults are explained in the README's plan reference.
 */
const analysisFields = z.strictObject({
  interval: interval.default('30s'),
  maxErrorRate: z
    .number()
    .min(0, { error: 'must be between 0 and 1' })
    .lt(1, { error: 'must be between 0 and 1, and below 1: at 1 the error-rate check could never fire' })
    .default(0.02),
  maxConsecutiveFailures: consecutiveFailures.default(2),
  /** Queued queries on green may grow by this much between two measurements. */
  maxQueuedGrowth: z
    .number()
    .int()
    .min(0)
    .max(100_000, { error: 'must be at most 100000 (more would switch the queue check off)' })
    .default(20),
  /** Green's p50 and p95 elapsed time may be at most this times blue's, plus latencySlack. */
  maxLatencyRatio: z
    .number()
    .min(1, { error: 'must be 1 or more (green may be as fast as blue)' })
    .max(100, { error: 'must be at most 100 (more would switch the latency check off)' })
    .default(1.3),
  latencySlack: duration
    .refine((value) => !(lenientMs(value) > 3_600_000), {
      error: 'must be at most 1h (more would switch the latency check off)',
    })
    .default('50ms'),
  /** Finished queries each side needs in a window before their p50 is compared (p95: at least 100). */
  minLatencyQueries: z.number().int().min(5, { error: 'must be 5 or more' }).max(100_000).default(20),
  /** Fewer ended queries on green in a sample make it inconclusive: the bake clock does not move. */
  minQueries: z.number().int().min(0, { error: 'must be 0 or more' }).max(100_000).default(1),
  /** What inconclusive samples lead to once they lasted inconclusiveTimeout in a row. */
  onInconclusive: z
    .enum(['wait', 'proceed', 'rollback'], { error: 'must be "wait", "proceed" or "rollback"' })
    .default('wait'),
  inconclusiveTimeout: positiveDuration.default('30m'),
  /** How far back blue's queries make its baseline, for samples in which blue takes no new queries (after the flip). */
  baselineWindow: positiveDuration.default('10m'),
});
const analysisSection = analysisFields.prefault({});

/** A plan's analysis settings with every default filled (plans of upgrades started before some existed lack them). */
export type AnalysisConfig = z.output<typeof analysisSection>;

/** The analysis settings of a plan section as recorded, defaults filled for fields it does not have. */
export function analysisConfig(section: Partial<AnalysisConfig> | undefined): AnalysisConfig {
  return { ...analysisSection.parse({}), ...section };
}

/** A value written into a Java string literal of the routing rule: no quote, backslash or control character. */
const ruleValue = (what: string) =>
  z
    .string({ error: `must be ${what}` })
    .min(1, { error: `must be ${what}` })
    .max(200, { error: 'must be at most 200 characters' })
    .regex(/^[^"\\\p{Cc}]+$/u, { error: 'must not contain a double quote, a backslash or a control character' });

/** A list of rule values: at least one (an empty list would select nothing), no repeats. */
const ruleValues = <T extends string>(item: z.ZodType<T>) =>
  z
    .array(item)
    .min(1, { error: 'must list at least one value (leave it out to select all)' })
    .refine((values) => new Set(values).size === values.length, { error: 'must not list a value twice' });

const identifier = /^[A-Za-z_][A-Za-z0-9_$-]*$/;

/** `HH:MM`, 00:00 to 23:59. */
const timeOfDay = z
  .string({ error: 'must be a time of day such as "22:00"' })
  .regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: 'must be a time of day HH:MM such as "22:00" (00:00 to 23:59)' });

/** A region time zone both Java's ZoneId.of and Intl know (`Europe/Berlin`), or UTC. */
const timeZone = z
  .string({ error: 'must be a time zone such as "Europe/Berlin"' })
  .refine((zone) => zone === 'UTC' || (/^[A-Za-z]+(\/[A-Za-z0-9_+-]+)+$/.test(zone) && knownTimeZone(zone)), {
    error: 'must be an IANA time zone such as "Europe/Berlin" or "UTC"',
  });

function knownTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** A regular expression both Java and JavaScript read (the gateway matches with Java, cutover's analysis with JavaScript). */
const userPattern = ruleValue('a regular expression such as "etl_.*"').refine(
  (pattern) => {
    try {
      new RegExp(pattern, 'u');
      return !/\(\?<[=!]/.test(pattern);
    } catch {
      return false;
    }
  },
  { error: 'must be a valid regular expression without lookbehind (Java and JavaScript must read it alike)' },
);

/**
 * Which traffic the canary share applies to (src/integrations/traffic/selector.ts): written into
 * the routing rule as MVEL clauses, every part must match.
 */
const canarySelector = z
  .strictObject({
    users: ruleValues(ruleValue('a user name')).optional(),
    userPattern: userPattern.optional(),
    source: z
      .strictObject({
        include: ruleValues(ruleValue('a source such as "superset"')).optional(),
        exclude: ruleValues(ruleValue('a source such as "airflow"')).optional(),
      })
      .optional(),
    clientTags: ruleValues(
      ruleValue('a client tag').regex(/^[^,\s]+$/, { error: 'must not contain a comma or white space' }),
    ).optional(),
    queryTypes: ruleValues(z.enum(QUERY_TYPES, { error: `must be one of ${QUERY_TYPES.join(', ')}` })).optional(),
    catalogs: ruleValues(
      ruleValue('a catalog').regex(identifier, { error: 'must be a catalog name such as "hive"' }),
    ).optional(),
    schemas: ruleValues(
      ruleValue('a schema').regex(/^[A-Za-z_][A-Za-z0-9_$-]*\.[A-Za-z_][A-Za-z0-9_$-]*$/, {
        error: 'must be catalog.schema such as "hive.sales"',
      }),
    ).optional(),
    timeWindow: z
      .strictObject({ from: timeOfDay, to: timeOfDay, timeZone })
      .refine((window) => window.from !== window.to, {
        path: ['to'],
        error: 'must differ from "from" (leave timeWindow out to route at any time)',
      })
      .optional(),
  })
  .superRefine((selector, ctx) => {
    if (Object.keys(selector).length === 0)
      ctx.addIssue({
        code: 'custom',
        message: 'must select something (users, source, queryTypes, ...) or be left out',
      });
    if (selector.users && selector.userPattern)
      ctx.addIssue({ code: 'custom', path: ['userPattern'], message: 'give either users or userPattern, not both' });
    if (selector.source && !selector.source.include && !selector.source.exclude)
      ctx.addIssue({ code: 'custom', path: ['source'], message: 'must give include or exclude' });
    const both = (selector.source?.include ?? []).filter((name) => selector.source?.exclude?.includes(name));
    if (both.length > 0)
      ctx.addIssue({
        code: 'custom',
        path: ['source', 'exclude'],
        message: `must not exclude a source it includes (${both.join(', ')})`,
      });
  });

const canarySection = z
  .strictObject({
    /** How the share moves (src/integrations/traffic): routing-rule, precise and sticky per user; backend-pool, green joins the group. */
    traffic: z
      .enum(TRAFFIC_MODE_NAMES, { error: `must be one of ${TRAFFIC_MODE_NAMES.map((mode) => `"${mode}"`).join(', ')}` })
      .default(TRAFFIC_MODE_NAMES[0]),
    preset: z
      .enum(['standard', 'ten-then-full', 'linear-10'], { error: 'must be one of standard, ten-then-full, linear-10' })
      .optional(),
    steps: z.array(canaryStep).min(1, { error: 'must have at least one step' }).optional(),
    /** routing-rule: the routing group green serves canary users in (default `<routingGroup>-canary`). */
    canaryGroup: name.optional(),
    /** routing-rule: the FILE routing rule cutover rewrites (default `cutover-canary-<routingGroup>`); it must already exist in the gateway's rules file. */
    ruleName: z.string().min(1).optional(),
    /** routing-rule: the gateway's `routingRules.rulesRefreshPeriod`; a step counts as applied after it. */
    rulesRefresh: duration.default('1m'),
    /** routing-rule: the traffic the share applies to (users, source, client tags, query shape, daily window). */
    selector: canarySelector.optional(),
    analysis: analysisSection,
  })
  .superRefine((canary, ctx) => {
    if (canary.selector && !trafficMode(canary.traffic).rewritesRule) {
      ctx.addIssue({
        code: 'custom',
        path: ['selector'],
        message: `needs traffic: routing-rule (${canary.traffic} traffic uses no routing rule, so it cannot select queries)`,
      });
    }
    if (canary.preset && canary.steps)
      ctx.addIssue({ code: 'custom', path: ['preset'], message: 'give either preset or steps, not both' });
    const weights = (canary.steps ?? []).flatMap((step, index) =>
      step.weight === undefined ? [] : [{ weight: step.weight, index }],
    );
    for (let i = 1; i < weights.length; i++) {
      if (weights[i].weight <= weights[i - 1].weight) {
        ctx.addIssue({
          code: 'custom',
          path: ['steps', weights[i].index, 'weight'],
          message: `must be larger than the weight before it (${weights[i - 1].weight})`,
        });
      }
    }
    if (canary.steps && weights.at(-1)?.weight !== 100) {
      ctx.addIssue({
        code: 'custom',
        path: ['steps'],
        message: 'must end with a step of weight 100 (green takes all traffic)',
      });
    }
  })
  .transform(({ preset, steps, ...canary }) => ({ ...canary, steps: steps ?? CANARY_PRESETS[preset ?? 'standard'] }));

/** Where the gateway is and how cutover talks to it. */
export const gatewaySection = z.strictObject({
  url: httpUrl,
  /** Timeout of one request to the gateway. */
  requestTimeout: positiveDuration.default('10s'),
  /** How long a forward step retries an unreachable or failing gateway before the upgrade rolls back. */
  retryBudget: positiveDuration.default('10m'),
  /**
   * The replicas' own addresses when `url` balances several gateway replicas: each has its own
   * health cache and rules file, so cutover writes and reads the canary rule and checks health on each.
   */
  replicas: z
    .array(httpUrl)
    .min(1, { error: 'must list at least one replica address, or be left out' })
    .max(MAX_GATEWAY_REPLICAS, { error: `must list at most ${MAX_GATEWAY_REPLICAS} replicas` })
    .refine((urls) => new Set(urls).size === urls.length, { error: 'must not list a replica twice' })
    .optional(),
  /**
   * The gateway's `routing.defaultRoutingGroup` (default adhoc): a routing-rule canary of that
   * group also takes the requests no earlier rule assigned, since they land in it.
   */
  defaultRoutingGroup: name.optional(),
});

/** A Trino release number, optionally with a vendor suffix ("443-e.12"). */
export const trinoVersion = z
  .string({ error: 'must be the Trino version, e.g. "480"' })
  .regex(/^[1-9]\d{2,3}(-[A-Za-z0-9][A-Za-z0-9.]*)?$/, {
    error: 'must be a Trino release number such as "480" (optionally with a suffix such as "443-e.12")',
  });

const blueGreenPlan = z
  .strictObject({
    strategy: z.enum(['blue-green', 'canary'], { error: 'must be "blue-green" or "canary"' }).default('blue-green'),
    gateway: gatewaySection,
    routingGroup: name,
    blue: z
      .strictObject({
        backends: z.array(name).min(1, { error: 'must name at least one backend' }),
      })
      .optional(),
    green: z.strictObject({
      name,
      /** What green's `/v1/info` must report: a Trino release number, optionally with a vendor suffix ("443-e.12"). */
      version: trinoVersion,
      url: httpUrl.optional(),
      provisioner: provisionerSchema,
      /** How long creating green may take, retries of an unreachable provisioner included; then the upgrade rolls back. */
      provisionDeadline: positiveDuration.default('1h'),
    }),
    health: z
      .strictObject({
        interval: interval.default('5s'),
        timeout: positiveDuration.default('20m'),
        smokeQueries: z
          .array(smokeQuery)
          .max(MAX_SMOKE_QUERIES, { error: `must not list more than ${MAX_SMOKE_QUERIES} smoke queries` })
          .default(['SELECT 1']),
        minActiveWorkers: z.number().int().min(0, { error: 'must be 0 or more' }).default(1),
        /** Failed health checks in a row, while green serves traffic, that trigger an automatic rollback. */
        maxConsecutiveFailures: consecutiveFailures.default(2),
      })
      .prefault({}),
    approval: z
      .strictObject({
        required: z.boolean().default(true),
        timeout: positiveDuration.default('24h'),
        onTimeout: z.enum(['rollback', 'proceed'], { error: 'must be "rollback" or "proceed"' }).default('rollback'),
        approvers: z
          .array(z.string().min(1))
          .min(1, { error: 'must name at least one approver, or be left out' })
          .optional(),
      })
      .prefault({}),
    bake: duration.default('10m'),
    drain: z
      .strictObject({
        timeout: positiveDuration.default('2h'),
        onTimeout: z
          .enum(['wait', 'proceed', 'rollback'], { error: 'must be "wait", "proceed" or "rollback"' })
          .default('wait'),
        interval: interval.default('5s'),
        /** How long blue stays up after its last query ended: clients may still fetch spooled result segments. */
        resultGrace: duration.default('2m'),
      })
      .prefault({}),
    retire: z
      .strictObject({
        keepBlueFor: duration.default('1h'),
        teardown: z.boolean().default(true),
        /** How long the retire retries (a refused credential included) before the upgrade fails; 1h when unset. */
        timeout: positiveDuration.optional(),
      })
      .prefault({}),
    canary: canarySection.optional(),
    /** Change windows and freezes: the steps that move traffic or retire blue wait for an opening. */
    schedule: planSchedule.optional(),
    /** Blue/green: the bake's analysis of green against blue's window before the flip (canary: canary.analysis). */
    analysis: analysisFields.optional(),
    /** Shadow validation of green against blue before the first traffic move; off unless present. */
    shadow: shadowSection.optional(),
  })
  .superRefine((plan, ctx) => {
    if (plan.strategy === 'blue-green' && plan.canary) {
      ctx.addIssue({ code: 'custom', path: ['canary'], message: 'only applies to strategy: canary' });
    }
    if (plan.strategy === 'canary' && plan.analysis) {
      ctx.addIssue({
        code: 'custom',
        path: ['analysis'],
        message: 'applies to blue-green bakes; a canary sets its analysis in canary.analysis',
      });
    }
    if (plan.canary && plan.blue) {
      const mode = trafficMode(plan.canary.traffic);
      const blueBackends = plan.blue.backends.length;
      plan.canary.steps.forEach((step, index) => {
        const unreachable = step.weight === undefined ? undefined : mode.unreachableWeight(step.weight, blueBackends);
        if (unreachable)
          ctx.addIssue({ code: 'custom', path: ['canary', 'steps', index, 'weight'], message: unreachable });
      });
    }
    if (plan.green.provisioner.type === 'static' && !plan.green.url) {
      ctx.addIssue({
        code: 'custom',
        path: ['green', 'url'],
        message: 'is required with the static provisioner (the cluster already runs there)',
      });
    }
    if (plan.blue?.backends.includes(plan.green.name)) {
      ctx.addIssue({
        code: 'custom',
        path: ['green', 'name'],
        message: `must differ from the blue backends (${plan.blue.backends.join(', ')})`,
      });
    }
    if (plan.blue && new Set(plan.blue.backends).size !== plan.blue.backends.length) {
      ctx.addIssue({ code: 'custom', path: ['blue', 'backends'], message: 'must not name a backend twice' });
    }
    if (plan.canary) {
      const canaryGroup = plan.canary.canaryGroup ?? `${plan.routingGroup}-canary`;
      const entry = trafficMode(plan.canary.traffic).canaryEntry(plan.green.name);
      if (canaryGroup === plan.routingGroup) {
        ctx.addIssue({
          code: 'custom',
          path: ['canary', 'canaryGroup'],
          message: `must differ from routingGroup (${plan.routingGroup}): canary users are sent to a group of their own`,
        });
      }
      if (canaryGroup.length > MAX_NAME_LENGTH) {
        ctx.addIssue({
          code: 'custom',
          path: ['routingGroup'],
          message: `is too long for the default canary group ${canaryGroup} (${canaryGroup.length} characters, at most ${MAX_NAME_LENGTH}); shorten it or set canary.canaryGroup`,
        });
      }
      if (entry.length > MAX_NAME_LENGTH) {
        ctx.addIssue({
          code: 'custom',
          path: ['green', 'name'],
          message: `is too long for its canary entry ${entry} (${entry.length} characters, at most ${MAX_NAME_LENGTH})`,
        });
      }
      if (plan.blue?.backends.includes(entry)) {
        ctx.addIssue({
          code: 'custom',
          path: ['green', 'name'],
          message: `makes canary entry ${entry}, which is a blue backend`,
        });
      }
    }
    if (lenientMs(plan.health.interval) > lenientMs(plan.health.timeout)) {
      ctx.addIssue({ code: 'custom', path: ['health', 'interval'], message: 'must not be longer than health.timeout' });
    }
  })
  .transform((plan) =>
    plan.strategy === 'canary' && !plan.canary ? { ...plan, canary: canarySection.parse({}) } : plan,
  );

/** The validated upgrade plan the workflow receives: every default filled. */
export type UpgradePlan = z.output<typeof blueGreenPlan>;
export type CanaryConfig = NonNullable<UpgradePlan['canary']>;
/** The plan as a person writes it. */
export type UpgradePlanInput = z.input<typeof blueGreenPlan>;
export type ProvisionerConfig = z.output<typeof provisionerSchema>;

export const upgradePlanSchema = blueGreenPlan;
