import { z } from 'zod';
import { durationMs } from './duration';

const DURATION = /^\d+(\.\d+)?(ms|s|m|h|d)$/;

/** Milliseconds of a string that may not be a valid duration yet (zod runs refinements after failed checks). */
const lenientMs = (value: string): number => (DURATION.test(value) ? durationMs(value) : Number.NaN);

/** A duration string such as `30s`, `10m`, `2h`. */
const duration = z
  .string({ error: 'must be a duration string such as "30s", "10m" or "2h"' })
  .regex(DURATION, { error: 'must be a duration such as "30s", "10m" or "2h" (units ms, s, m, h, d)' });

const positiveDuration = duration.refine((value) => !(lenientMs(value) <= 0), { error: 'must be longer than 0' });

const httpUrl = z
  .string({ error: 'must be an http(s) URL such as "http://127.0.0.1:8080"' })
  .refine((value) => /^https?:\/\/[^\s/]+/.test(value) && URL.canParse(value), {
    error: 'must be an http(s) URL such as "http://127.0.0.1:8080"',
  })
  .transform((value) => value.replace(/\/+$/, ''));

/** Backend and routing-group names as Trino Gateway accepts them in paths. */
const name = z
  .string({ error: 'must be a name (letters, digits, "-", "_" and ".")' })
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, {
    error: 'must start with a letter or digit and use only letters, digits, ".", "_" and "-" (at most 63)',
  });

const sandboxProvisioner = z.strictObject({
  type: z.literal('sandbox'),
  /** Control API of the sandbox fleet; defaults to the gateway URL, which serves it. */
  controlUrl: httpUrl.optional(),
  /** Simulated start-up time of the new coordinator. */
  startupDelay: duration.default('2s'),
});

const commandProvisioner = z.strictObject({
  type: z.literal('command'),
  /** Shell command that creates the cluster; prints the coordinator URL as its last line when `green.url` is not set. */
  create: z.string().min(1, { error: 'must be a shell command' }),
  /** Shell command that deletes the cluster named by CUTOVER_CLUSTER_NAME. */
  delete: z.string().min(1, { error: 'must be a shell command' }),
  /** Shell command that prints the coordinator URL when the cluster exists, and exits 3 (or prints nothing) when it does not. */
  status: z.string().min(1, { error: 'must be a shell command' }),
  /** Longest time one command may run. */
  timeout: positiveDuration.default('30m'),
});

const staticProvisioner = z.strictObject({
  type: z.literal('static'),
});

export const provisionerSchema = z.discriminatedUnion('type', [sandboxProvisioner, commandProvisioner, staticProvisioner], {
  error: 'type must be one of sandbox, command, static',
});

const blueGreenPlan = z
  .strictObject({
    strategy: z.literal('blue-green', { error: 'must be "blue-green" (canary is not available yet)' }).default('blue-green'),
    gateway: z.strictObject({
      url: httpUrl,
      /** Timeout of one request to the gateway. */
      requestTimeout: positiveDuration.default('10s'),
    }),
    routingGroup: name,
    blue: z
      .strictObject({
        backends: z.array(name).min(1, { error: 'must name at least one backend' }),
      })
      .optional(),
    green: z.strictObject({
      name,
      version: z.string({ error: 'must be the Trino version, e.g. "480"' }).min(1, { error: 'must be the Trino version, e.g. "480"' }),
      url: httpUrl.optional(),
      provisioner: provisionerSchema,
    }),
    health: z
      .strictObject({
        interval: positiveDuration.default('5s'),
        timeout: positiveDuration.default('20m'),
        smokeQueries: z.array(z.string().min(1, { error: 'must be a SQL statement' })).default(['SELECT 1']),
        minActiveWorkers: z.number().int().min(0, { error: 'must be 0 or more' }).default(1),
        /** Failed health checks in a row, while green serves traffic, that trigger an automatic rollback. */
        maxConsecutiveFailures: z.number().int().min(1, { error: 'must be 1 or more' }).default(2),
      })
      .prefault({}),
    approval: z
      .strictObject({
        required: z.boolean().default(true),
        timeout: positiveDuration.default('24h'),
        onTimeout: z.enum(['rollback', 'proceed'], { error: 'must be "rollback" or "proceed"' }).default('rollback'),
        approvers: z.array(z.string().min(1)).min(1, { error: 'must name at least one approver, or be left out' }).optional(),
      })
      .prefault({}),
    bake: duration.default('10m'),
    drain: z
      .strictObject({
        timeout: positiveDuration.default('2h'),
        onTimeout: z.enum(['wait', 'proceed', 'rollback'], { error: 'must be "wait", "proceed" or "rollback"' }).default('wait'),
        interval: positiveDuration.default('5s'),
      })
      .prefault({}),
    retire: z
      .strictObject({
        keepBlueFor: duration.default('1h'),
        teardown: z.boolean().default(true),
      })
      .prefault({}),
  })
  .superRefine((plan, ctx) => {
    if (plan.green.provisioner.type === 'static' && !plan.green.url) {
      ctx.addIssue({ code: 'custom', path: ['green', 'url'], message: 'is required with the static provisioner (the cluster already runs there)' });
    }
    if (plan.blue?.backends.includes(plan.green.name)) {
      ctx.addIssue({ code: 'custom', path: ['green', 'name'], message: `must differ from the blue backends (${plan.blue.backends.join(', ')})` });
    }
    if (plan.blue && new Set(plan.blue.backends).size !== plan.blue.backends.length) {
      ctx.addIssue({ code: 'custom', path: ['blue', 'backends'], message: 'must not name a backend twice' });
    }
    if (lenientMs(plan.health.interval) > lenientMs(plan.health.timeout)) {
      ctx.addIssue({ code: 'custom', path: ['health', 'interval'], message: 'must not be longer than health.timeout' });
    }
  });

/** The validated upgrade plan the workflow receives: every default filled. */
export type UpgradePlan = z.output<typeof blueGreenPlan>;
/** The plan as a person writes it. */
export type UpgradePlanInput = z.input<typeof blueGreenPlan>;
export type ProvisionerConfig = z.output<typeof provisionerSchema>;

export const upgradePlanSchema = blueGreenPlan;
