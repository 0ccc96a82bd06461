/**
 * Errors raised by integrations. Activities turn a non-retryable one into a non-retryable
 * ApplicationFailure of the same type name; everything else is retried by Temporal's policy.
 */
export class IntegrationError extends Error {
  constructor(
    message: string,
    /** A stable type name, shown in the Temporal UI as the failure type. */
    readonly type: string,
    /** False for 4xx answers and refusals that the same request will meet again. */
    readonly retryable: boolean,
    /** HTTP status when the error came from an HTTP answer. */
    readonly status?: number,
  ) {
    super(message);
    this.name = type;
  }
}

/** Type of the gateway's HTTP 401/403: it refused the worker's credentials. */
export const GATEWAY_AUTH_FAILED = 'GatewayAuthenticationFailed';
/** Type of the gateway's `{"code":401}` answer: the user cutover authenticates as lacks a role. */
export const GATEWAY_ROLE_MISSING = 'GatewayUnauthorized';

/**
 * The gateway's refusals of cutover's identity. A forward step fails on them at once; a
 * compensation or a retire retries them, because credentials or roles may be fixed meanwhile.
 */
export const GATEWAY_AUTH_REFUSALS: readonly string[] = [GATEWAY_AUTH_FAILED, GATEWAY_ROLE_MISSING];

/** 4xx answers are the caller's mistake (except 408/429); 5xx and network failures are retryable. */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}
