import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Roles of the gateway's own API (LbAuthorizer's ADMIN / USER / API). */
export type GatewayRole = 'ADMIN' | 'USER' | 'API';

/** A preset user (`presetUsers` in the real configuration). */
export interface GatewayUser {
  password: string;
  roles: GatewayRole[];
}

/** Authentication of the gateway's API; none configured means everyone has every role (NoopFilter). */
export interface GatewayAuthOptions {
  users?: Record<string, GatewayUser>;
  /** Bearer token → name of a user in `users`, standing in for the real form-login JWTs. */
  tokens?: Record<string, string>;
}

/** What the auth filter decides for one request. */
export type AuthOutcome = 'allowed' | 'unauthenticated' | 'missing-role';

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Decides like ChainedAuthFilter (bearer, then Basic) followed by LbAuthorizer. */
export class GatewayAuthorizer {
  constructor(private readonly options: GatewayAuthOptions) {}

  /** The outcome for an `Authorization` header on an endpoint that needs `role`. */
  check(authorization: string | undefined, role: GatewayRole): AuthOutcome {
    const users = this.options.users;
    if (!users || Object.keys(users).length === 0) return 'allowed';
    const userName = this.authenticate(authorization, users);
    if (userName === undefined) return 'unauthenticated';
    return users[userName].roles.includes(role) ? 'allowed' : 'missing-role';
  }

  /**
   * The authenticated caller when it lacks the ADMIN role (the real findQueryHistory then shows it
   * only its own queries); undefined for an admin, or when no authentication is configured.
   */
  nonAdminCaller(authorization: string | undefined): string | undefined {
    const users = this.options.users;
    if (!users || Object.keys(users).length === 0) return undefined;
    const name = this.authenticate(authorization, users);
    return name !== undefined && !users[name].roles.includes('ADMIN') ? name : undefined;
  }

  /**
   * A fastify preHandler for an endpoint that needs `role`: failed authentication is 403
   * "Authentication error"; a missing role is HTTP 200 with `{"code":401,"msg":"Unauthorized"}`
   * (AuthorizedExceptionMapper), on every endpoint, `/gateway/**` included.
   */
  require(role: GatewayRole): (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined> {
    return async (request, reply) => {
      const outcome = this.check(request.headers.authorization, role);
      if (outcome === 'unauthenticated') return reply.code(403).type('text/plain').send('Authentication error');
      if (outcome === 'missing-role') return reply.code(200).send({ code: 401, msg: 'Unauthorized', data: null });
      return undefined;
    };
  }

  private authenticate(authorization: string | undefined, users: Record<string, GatewayUser>): string | undefined {
    if (!authorization) return undefined;
    const [scheme, credentials = ''] = authorization.split(' ', 2);
    if (scheme.toLowerCase() === 'bearer') {
      const entry = Object.entries(this.options.tokens ?? {}).find(([token]) => sameSecret(credentials, token));
      return entry && users[entry[1]] ? entry[1] : undefined;
    }
    if (scheme.toLowerCase() === 'basic') {
      const decoded = Buffer.from(credentials, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const name = colon < 0 ? decoded : decoded.slice(0, colon);
      const password = colon < 0 ? '' : decoded.slice(colon + 1);
      const user = Object.hasOwn(users, name) ? users[name] : undefined;
      return user && sameSecret(password, user.password) ? name : undefined;
    }
    return undefined;
  }
}
