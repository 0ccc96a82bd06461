import type { IncomingHttpHeaders } from 'node:http';

/** The Trino user of a request as an insecure Trino (and the gateway's TrinoRequestUser) reads it: `X-Trino-User`, else the Basic-auth user name. */
export function trinoUser(headers: IncomingHttpHeaders): string | undefined {
  const header = headers['x-trino-user'];
  const value = Array.isArray(header) ? header[0] : header;
  if (value) return value;
  const auth = headers.authorization;
  if (!auth?.startsWith('Basic ')) return undefined;
  return Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':')[0] || undefined;
}

/** The value of a cookie the client sent. */
export function requestCookie(headers: IncomingHttpHeaders, name: string): string | undefined {
  for (const part of (headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}
