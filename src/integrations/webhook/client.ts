import { request } from 'undici';
import type { PolicyWebhook, WorkerPolicy } from '../../policy/schema';
import { transportAllowed } from '../../policy/origins';
import type { UpgradeEvent } from '../../upgrade-events';
import { IntegrationError, isRetryableStatus } from '../errors';
import { secretFromEnv } from '../gateway/credentials';
import { jsonBody, slackBody } from './bodies';
import type { Webhook } from './types';

type Env = Record<string, string | undefined>;

/** Longest wait for a receiver's answer: a hanging receiver fails the attempt, which is retried. */
const REQUEST_TIMEOUT_MS = 10_000;

/**
 * The webhooks of the worker policy in force, with their URLs and tokens read from the policy and
 * the worker's environment at each delivery (a `_FILE` rotated meanwhile is read again).
 */
export function webhooksOf(policy: WorkerPolicy | undefined, env: Env): Webhook[] {
  if (!policy) return [];
  return policy.notifications.webhooks.map((config, index) => new HttpWebhook(config, index, policy, env));
}

/**
 * A webhook over HTTP(S). Messages name the receiver by its origin only: a URL's path may be a
 * secret (Slack's are), and messages reach history. Redirects are not followed, so the token goes
 * nowhere else.
 */
class HttpWebhook implements Webhook {
  readonly label: string;
  readonly events;

  constructor(
    private readonly config: PolicyWebhook,
    index: number,
    private readonly policy: WorkerPolicy,
    private readonly env: Env,
  ) {
    const where = config.url === undefined ? `$${config.urlEnv}` : new URL(config.url).origin;
    this.label = `webhooks[${index}] (${where})`;
    this.events = config.events;
  }

  async deliver(event: UpgradeEvent, signal?: AbortSignal): Promise<void> {
    const url = this.url();
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const token = this.secret(this.config.tokenEnv);
    if (this.config.tokenEnv !== undefined && token === undefined)
      throw this.misconfigured(`${this.config.tokenEnv} (its token) is not set in the worker's environment`);
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    const body = JSON.stringify(this.config.format === 'slack' ? slackBody(event) : jsonBody(event));
    let status: number;
    try {
      const response = await request(url, {
        method: 'POST',
        headers,
        body,
        signal,
        headersTimeout: REQUEST_TIMEOUT_MS,
        bodyTimeout: REQUEST_TIMEOUT_MS,
      });
      status = response.statusCode;
      await response.body.dump();
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      const code = (error as { code?: string }).code;
      const timedOut = code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
      // Only the code: an error's message could quote the URL.
      const why = timedOut ? `no answer within ${REQUEST_TIMEOUT_MS} ms` : (code ?? 'network error');
      throw new IntegrationError(`${this.label} is unreachable: ${why}`, 'WebhookUnreachable', true);
    }
    if (status >= 200 && status < 300) return;
    const retryable = isRetryableStatus(status);
    throw new IntegrationError(
      `${this.label} answered HTTP ${status}`,
      retryable ? 'WebhookUnavailable' : 'WebhookRefused',
      retryable,
      status,
    );
  }

  /** The receiver's URL, checked like the policy's own (`url` was checked when the policy was read). */
  private url(): string {
    if (this.config.url !== undefined) return this.config.url;
    const name = this.config.urlEnv!;
    const url = this.secret(name);
    if (url === undefined) throw this.misconfigured(`${name} (its URL) is not set in the worker's environment`);
    if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol))
      throw this.misconfigured(`${name} does not hold an http(s) URL`);
    if (!transportAllowed(url, this.policy))
      throw this.misconfigured(
        `${name} holds a plain http URL to ${new URL(url).hostname}: use https, or list the host in plainHttpHosts`,
      );
    return url;
  }

  private secret(name: string | undefined): string | undefined {
    return name === undefined ? undefined : secretFromEnv(this.env, name);
  }

  private misconfigured(why: string): IntegrationError {
    return new IntegrationError(`${this.label}: ${why}`, 'WebhookMisconfigured', false);
  }
}
