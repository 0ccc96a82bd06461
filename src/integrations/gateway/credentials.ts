import { readFileSync } from 'node:fs';
import { IntegrationError } from '../errors';

/** How cutover authenticates to Trino Gateway's own API. */
export type GatewayAuth = { type: 'basic'; user: string; password: string } | { type: 'bearer'; token: string };

/** Credentials for the coordinators' own APIs (`/v1/query`, `/ui`). */
export interface TrinoAuth {
  user: string;
  password?: string;
}

type Env = Record<string, string | undefined>;

/** Gateway credentials from CUTOVER_GATEWAY_TOKEN(_FILE) or CUTOVER_GATEWAY_USER + CUTOVER_GATEWAY_PASSWORD(_FILE); undefined when none are set. */
export function gatewayAuthFromEnv(env: Env = process.env): GatewayAuth | undefined {
  const token = secretFromEnv(env, 'CUTOVER_GATEWAY_TOKEN');
  const user = nonEmpty(env.CUTOVER_GATEWAY_USER);
  const password = secretFromEnv(env, 'CUTOVER_GATEWAY_PASSWORD');
  if (token !== undefined) {
    if (user !== undefined || password !== undefined) {
      throw invalid(
        'set either CUTOVER_GATEWAY_TOKEN (bearer) or CUTOVER_GATEWAY_USER and CUTOVER_GATEWAY_PASSWORD (basic), not both',
      );
    }
    return { type: 'bearer', token };
  }
  if (user === undefined) {
    if (password !== undefined)
      throw invalid('CUTOVER_GATEWAY_PASSWORD is set but CUTOVER_GATEWAY_USER is not: set the user name too');
    return undefined;
  }
  if (password === undefined) {
    throw invalid(
      'CUTOVER_GATEWAY_USER is set but CUTOVER_GATEWAY_PASSWORD (or CUTOVER_GATEWAY_PASSWORD_FILE) is not: set the password too',
    );
  }
  return { type: 'basic', user, password };
}

/** Trino credentials from CUTOVER_TRINO_USER (default `cutover`) and CUTOVER_TRINO_PASSWORD(_FILE). */
export function trinoAuthFromEnv(env: Env = process.env): TrinoAuth {
  const user = nonEmpty(env.CUTOVER_TRINO_USER) ?? 'cutover';
  const password = secretFromEnv(env, 'CUTOVER_TRINO_PASSWORD');
  return password === undefined ? { user } : { user, password };
}

/** The value of NAME, or the content of the file named by NAME_FILE without its final line break. */
export function secretFromEnv(env: Env, name: string): string | undefined {
  const direct = nonEmpty(env[name]);
  const file = nonEmpty(env[`${name}_FILE`]);
  if (direct !== undefined && file !== undefined) throw invalid(`set either ${name} or ${name}_FILE, not both`);
  if (file === undefined) return direct;
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (error) {
    throw invalid(
      `${name}_FILE names ${file}, which cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  const value = content.replace(/\r?\n$/, '');
  if (value === '') throw invalid(`${name}_FILE names ${file}, which is empty`);
  return value;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function invalid(message: string): IntegrationError {
  return new IntegrationError(message, 'CredentialsInvalid', false);
}
