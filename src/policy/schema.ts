import { z } from 'zod';
import { durationMs } from '../plan/duration';
import { policySchedule } from '../schedule/schema';
import { UPGRADE_EVENT_KINDS } from '../upgrade-events';
import { transportAllowed } from './origins';

/**
 * The worker policy: what only the operators of a worker decide (CUTOVER_POLICY_FILE, YAML). A plan
 * can narrow it, never widen it; the worker checks every run it executes against it.
 */

const DURATION = /^\d+(\.\d+)?(ms|s|m|h|d)$/;
const duration = z
  .string({ error: 'must be a duration string such as "30s", "10m" or "2h"' })
  .regex(DURATION, { error: 'must be a duration such as "30s", "10m" or "2h" (units ms, s, m, h, d)' });

/**
 * `https://host[:port]`, or a pattern: the first host label may be `*` (`https://*.trino.example.com`)
 * and the port may be `*` (`http://127.0.0.1:*`). Without a port, the scheme's default port.
 */
const origin = z
  .string({ error: 'must be an origin such as "https://gateway.example.com" or "https://*.trino.example.com:8443"' })
  .regex(/^https?:\/\/((\*\.)?[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:(\d{1,5}|\*))?$/, {
    error:
      'must be an origin: scheme, host and optional port, no path, user or query (e.g. "https://gateway.example.com", "https://*.trino.example.com:8443")',
  });

/** A routing-group pattern: a name, or `*` anywhere as a wildcard (`team-*`, `*`). */
const groupPattern = z
  .string({ error: 'must be a routing group name or pattern such as "adhoc" or "team-*"' })
  .regex(/^[A-Za-z0-9*][A-Za-z0-9._*-]{0,62}$/, { error: 'must be a routing group name or pattern such as "team-*"' });

const parameterName = z
  .string()
  .regex(/^[a-z][a-zA-Z0-9]{0,39}$/, { error: 'must be a camelCase name such as "namespace" or "valuesFile"' });

/** A named `command` provisioner: the only shell a plan can cause the worker to run. */
const commandProfile = z.strictObject({
  /** Creates the cluster; prints the coordinator URL as its last line when the plan gives no `green.url`. */
  create: z.string().min(1, { error: 'must be a shell command' }),
  /** Deletes the cluster named by CUTOVER_CLUSTER_NAME. */
  delete: z.string().min(1, { error: 'must be a shell command' }),
  /** Prints the coordinator URL when the cluster exists; exits 3 (or prints nothing) when it does not. */
  status: z.string().min(1, { error: 'must be a shell command' }),
  /** Longest time one command may run. */
  timeout: duration
    .refine((value) => !DURATION.test(value) || durationMs(value) > 0, { error: 'must be longer than 0' })
    .default('30m'),
  /** Extra environment of the commands (the worker's own environment is not passed on, except PATH and HOME). */
  env: z
    .record(
      z.string().regex(/^[A-Z_][A-Z0-9_]*$/, { error: 'must be an environment variable name such as "KUBECONFIG"' }),
      z.string(),
    )
    .default({}),
  /** Parameters a plan may pass (`green.provisioner.parameters`), as CUTOVER_PARAM_<NAME> (upper snake case). */
  parameters: z.array(parameterName).default([]),
});

const approver = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,62}$/, { error: 'must be a user name (letters, digits, . _ @ -)' }),
  /** OpenSSH public key line: `ssh-ed25519 AAAA... comment`. */
  publicKey: z.string().regex(/^ssh-ed25519 [A-Za-z0-9+/]+={0,2}( .*)?$/, {
    error: 'must be an OpenSSH ed25519 public key ("ssh-ed25519 AAAA... comment")',
  }),
  /** Routing groups this approver may approve (names or patterns); default every group. */
  groups: z.array(groupPattern).min(1).default(['*']),
});

const envName = z
  .string()
  .regex(/^[A-Z_][A-Z0-9_]*$/, { error: 'must be an environment variable name such as "CUTOVER_WEBHOOK_TOKEN"' });

/** An http(s) URL without user info or fragment (a query is allowed: some receivers take a key there). */
const webhookUrl = z.string().refine(
  (value) => {
    if (!URL.canParse(value)) return false;
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && !url.username && !url.password && !url.hash;
  },
  { error: 'must be an http(s) URL without user, password or fragment, such as "https://hooks.example.com/cutover"' },
);

/** Where the worker posts upgrade events (README "Notifications"); its URL and token never reach a workflow. */
const webhook = z
  .strictObject({
    /** The receiver's URL. */
    url: webhookUrl.optional(),
    /** Instead of `url`: the variable (or `<NAME>_FILE`) holding it, for URLs that are secrets themselves (Slack's). */
    urlEnv: envName.optional(),
    /** `slack`: `{"text": ...}` for Slack-compatible incoming webhooks; `json`: the event as a JSON document. */
    format: z.enum(['slack', 'json']).default('json'),
    /** The events this receiver gets; default all. */
    events: z
      .array(z.enum(UPGRADE_EVENT_KINDS))
      .min(1)
      .default([...UPGRADE_EVENT_KINDS]),
    /** The variable (or `<NAME>_FILE`) holding a token sent as `Authorization: Bearer <token>`. */
    tokenEnv: envName.optional(),
  })
  .refine((hook) => (hook.url === undefined) !== (hook.urlEnv === undefined), {
    error: 'set either url or urlEnv (the environment variable holding the URL)',
  });

const notifications = z
  .strictObject({
    webhooks: z.array(webhook).default([]),
  })
  .prefault({});

/** Limits every plan must respect; the defaults hold when the policy does not say. */
const bounds = z
  .strictObject({
    /** Shortest poll or analysis interval a plan may set. */
    minInterval: duration.default('100ms'),
    /** Longest wait (health timeout, approval timeout, drain timeout, bake, keep-warm) a plan may set. */
    maxWait: duration.default('14d'),
    /** Largest step of a canary's weight between two shifts (percentage points). */
    maxWeightStep: z.number().int().min(1).max(100).default(100),
    /** Most smoke queries one plan may run. */
    maxSmokeQueries: z.number().int().min(1).max(20).default(20),
    /** Rows a smoke query may return before it is cancelled and counted as failed. */
    smokeQueryMaxRows: z.number().int().min(1).max(1_000_000).default(10_000),
    /** How long one smoke query may run before it is cancelled on the coordinator. */
    smokeQueryTimeout: duration.default('2m'),
    /** Highest error rate a canary analysis may tolerate (1 would switch the check off). */
    maxErrorRate: z.number().min(0).max(1).default(0.5),
    /** Most failed analysis samples in a row a plan may tolerate before rolling back. */
    maxConsecutiveFailures: z.number().int().min(1).default(20),
    /**
     * A plan may give `canary.selector.userPattern`: a regular expression the gateway evaluates on
     * every request, where a pathological one costs it CPU. Off unless the operators allow it.
     */
    allowUserPatterns: z.boolean().default(false),
    /** Shadow validation: most query pairs one plan may run at once (the share of blue's capacity it takes). */
    maxShadowConcurrency: z.number().int().min(1).max(64).default(4),
    /** Shadow validation: most queries one plan may replay. */
    maxShadowQueries: z.number().int().min(1).max(10_000).default(200),
    /** Shadow validation: whether the report in history may hold query texts (default: a sha256 of each text only). */
    shadowQueryTextsInHistory: z.boolean().default(false),
  })
  .prefault({});

const policyFields = z.strictObject({
  /** Gateway origins this worker may talk to; the gateway credentials go only there. */
  gateways: z.array(origin).min(1, { error: 'must name at least one gateway origin' }),
  /** Coordinator origins (or patterns) the Trino credentials may be sent to. */
  coordinators: z.array(origin).default([]),
  /** Hosts to which credentials may go over plain HTTP (everything else needs HTTPS). */
  plainHttpHosts: z
    .array(
      z.string().regex(/^([A-Za-z0-9.-]+|[0-9A-Fa-f:.]+|\[[0-9A-Fa-f:.]+\])$/, {
        error: 'must be a host name or IP address such as "127.0.0.1" (no scheme, port or path)',
      }),
    )
    .default([]),
  provisioners: z
    .strictObject({
      sandbox: z.boolean().default(false),
      static: z.boolean().default(true),
      /** Named command provisioners a plan may use (`green.provisioner: { type: command, profile: NAME }`). */
      profiles: z.record(z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/), commandProfile).default({}),
    })
    .prefault({}),
  /** People who may approve and promote; plans can only narrow this list. Empty: anyone the plan allows. */
  approvers: z.array(approver).default([]),
  /** Unsigned approve and promote are refused (rollback stays open to anyone). */
  requireSignedApprovals: z.boolean().default(false),
  /** Query texts (shadow validation) may be kept in workflow history. */
  queryTextsInHistory: z.boolean().default(false),
  bounds,
  /** Shadow validation: what the worker reads on a plan's behalf. */
  shadow: z
    .strictObject({
      /**
       * Absolute path of the directory a plan's `shadow.queryFile` is read from (nothing outside it,
       * symbolic links included). Absent: plans may not name a query file.
       */
      queryDirectory: z
        .string()
        .refine((path) => path.startsWith('/'), { error: 'must be an absolute path such as "/etc/cutover/queries"' })
        .optional(),
    })
    .prefault({}),
  /** Freezes every upgrade of this worker respects, running ones included (re-read on SIGHUP). */
  schedule: policySchedule,
  /** Webhooks told of approval gates, rollbacks, inconclusive analyses and how upgrades end. */
  notifications,
});

export const workerPolicySchema = policyFields.superRefine((policy, ctx) => {
  // Events (and a webhook's token, or its secret URL) go over plain HTTP only where credentials may.
  policy.notifications.webhooks.forEach((hook, index) => {
    if (hook.url !== undefined && !transportAllowed(hook.url, policy))
      ctx.addIssue({
        code: 'custom',
        path: ['notifications', 'webhooks', index, 'url'],
        message: `plain http to ${new URL(hook.url).hostname}: use https, or list the host in plainHttpHosts`,
      });
  });
});

/** The validated worker policy, every default filled. */
export type WorkerPolicy = z.output<typeof workerPolicySchema>;
export type WorkerPolicyInput = z.input<typeof workerPolicySchema>;
export type CommandProfile = z.output<typeof commandProfile>;
export type PolicyApprover = z.output<typeof approver>;
export type PolicyBounds = z.output<typeof bounds>;
export type PolicyWebhook = z.output<typeof webhook>;

/** The bounds that hold when a worker has no policy, or its policy does not say. */
export const DEFAULT_BOUNDS: PolicyBounds = bounds.parse(undefined);
