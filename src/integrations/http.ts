import type { IncomingHttpHeaders } from 'node:http';
import { Agent, request, type Dispatcher } from 'undici';
import { IntegrationError, isRetryableStatus } from './errors';
import { cap, excerptOf, redact } from './redact';

/** How one HTTP client talks to one service. */
export interface HttpClientOptions {
  /** Base URL that relative paths are appended to, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** Service name used in messages, e.g. `Trino Gateway`. */
  service: string;
  /** Prefix of error types: `<prefix>Unreachable`, `<prefix>Unavailable`, `<prefix>RequestRejected`, `<prefix>InvalidResponse`. */
  errorPrefix: string;
  /** Longest wait for the reply headers, and between two chunks of the body. */
  requestTimeoutMs?: number;
  /** Headers sent with every request, e.g. `Authorization`. */
  headers?: Record<string, string>;
  /** Keep-alive connections per origin. */
  connections?: number;
  /** Maps an unaccepted status to a service-specific error; the generic mapping applies when it returns undefined. */
  statusError?: (status: number, request: HttpRequest, excerpt: string) => IntegrationError | undefined;
}

/** One request; `path` is below the base URL, or an absolute URL (e.g. Trino's `nextUri`). */
export interface HttpRequest {
  method: Dispatcher.HttpMethod;
  path: string;
  headers?: Record<string, string>;
  /** Sent as `application/json`. */
  json?: unknown;
  /** Sent as `text/plain`. */
  text?: string;
  /** Sent as `application/x-www-form-urlencoded`. */
  form?: Record<string, string>;
  signal?: AbortSignal;
  /** Non-2xx statuses handed back to the caller instead of raised. */
  accept?: readonly number[];
}

/** A reply whose body has been read in full. */
export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const EXCERPT_LENGTH = 200;
/** Longest network error message kept (undici's messages are short; a proxy's may not be). */
const REASON_LENGTH = 500;

/** A keep-alive connection pool to one service with uniform error mapping. */
export class HttpClient {
  private readonly agent: Agent;
  private readonly baseUrl: string;
  /** The base URL without user info, for messages. */
  private readonly displayUrl: string;
  private readonly timeoutMs: number;

  constructor(private readonly options: HttpClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.displayUrl = originOf(this.baseUrl) + new URL(this.baseUrl).pathname.replace(/\/+$/, '');
    this.timeoutMs = options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.agent = new Agent({
      connections: options.connections ?? 8,
      keepAliveTimeout: 30_000,
      connect: { timeout: this.timeoutMs },
    });
  }

  /** Sends the request and reads the reply; raises an IntegrationError for failures and unaccepted statuses. */
  async send(req: HttpRequest): Promise<HttpResponse> {
    const url = isAbsolute(req.path) ? req.path : this.baseUrl + req.path;
    const headers: Record<string, string> = { ...this.options.headers, ...req.headers };
    let body: string | undefined;
    if (req.json !== undefined) {
      body = JSON.stringify(req.json);
      headers['content-type'] = 'application/json';
    } else if (req.form !== undefined) {
      body = new URLSearchParams(req.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    } else if (req.text !== undefined) {
      body = req.text;
      headers['content-type'] ??= 'text/plain; charset=utf-8';
    }

    let status: number;
    let responseHeaders: IncomingHttpHeaders;
    let text: string;
    try {
      const response = await request(url, {
        dispatcher: this.agent,
        method: req.method,
        headers,
        body,
        signal: req.signal,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      status = response.statusCode;
      responseHeaders = response.headers;
      text = await response.body.text();
    } catch (error) {
      if (req.signal?.aborted) throw req.signal.reason;
      throw this.networkError(req, error);
    }

    if ((status >= 200 && status < 300) || req.accept?.includes(status)) {
      return { status, headers: responseHeaders, body: text };
    }
    throw this.statusError(status, req, text);
  }

  /** Sends the request and parses a 2xx reply as JSON (undefined for an empty body and for accepted non-2xx statuses). */
  async json<T>(req: HttpRequest): Promise<{ status: number; headers: IncomingHttpHeaders; data: T | undefined }> {
    const response = await this.send(req);
    const data = response.status >= 200 && response.status < 300 ? this.parse<T>(req, response) : undefined;
    return { status: response.status, headers: response.headers, data };
  }

  /** Parses a reply body as JSON, raising `<prefix>InvalidResponse` when it is not. */
  parse<T>(req: HttpRequest, response: HttpResponse): T | undefined {
    if (!/\S/.test(response.body)) return undefined;
    try {
      return JSON.parse(response.body) as T;
    } catch {
      throw new IntegrationError(
        `${this.options.service} answered ${req.method} ${pathOf(req.path)} with ${response.status} and a body that is not JSON: ` +
          `${excerpt(response.body)} (is ${this.displayUrl} the right address?)`,
        `${this.options.errorPrefix}InvalidResponse`,
        false,
        response.status,
      );
    }
  }

  /** Closes the pooled connections. */
  async close(): Promise<void> {
    await this.agent.close();
  }

  private networkError(req: HttpRequest, error: unknown): IntegrationError {
    const code = (error as { code?: string }).code;
    const timedOut =
      code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT';
    const reason = timedOut
      ? `no answer within ${this.timeoutMs} ms`
      : cap(redact((error as Error).message), REASON_LENGTH);
    return new IntegrationError(
      `${this.options.service} at ${isAbsolute(req.path) ? originOf(req.path) : this.displayUrl} is unreachable: ${req.method} ${pathOf(req.path)} failed: ${reason}`,
      `${this.options.errorPrefix}Unreachable`,
      true,
    );
  }

  private statusError(status: number, req: HttpRequest, body: string): IntegrationError {
    const short = excerpt(body);
    const specific = this.options.statusError?.(status, req, short);
    if (specific) return specific;
    const retryable = isRetryableStatus(status);
    return new IntegrationError(
      `${this.options.service} answered ${req.method} ${pathOf(req.path)} with HTTP ${status}${short ? `: ${short}` : ''}`,
      `${this.options.errorPrefix}${retryable ? 'Unavailable' : 'RequestRejected'}`,
      retryable,
      status,
    );
  }
}

/** The start of a reply body on one line, redacted, for error messages. */
export function excerpt(body: string): string {
  return excerptOf(body, EXCERPT_LENGTH);
}

/** A path segment, URL-encoded. */
export function segment(value: string): string {
  return encodeURIComponent(value);
}

/** Waits `ms`, or rejects with the signal's reason as soon as it is aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function isAbsolute(path: string): boolean {
  return path.startsWith('http://') || path.startsWith('https://');
}

/** The path of a request, without scheme and host when it is an absolute URL. */
export function pathOf(path: string): string {
  return isAbsolute(path) ? new URL(path).pathname : path;
}

/** Scheme, host and port only: never user info. */
function originOf(url: string): string {
  return new URL(url).origin;
}
