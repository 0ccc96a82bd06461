import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { IntegrationError } from '../../src/integrations/errors';

/** A request as a scripted server saw it. */
export interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export type Handler = (req: Seen, res: ServerResponse) => void;

/** A stand-in HTTP server on 127.0.0.1 whose answers each test scripts (error paths real servers rarely show). */
export class ScriptedServer {
  handler: Handler = (_req, res) => res.writeHead(500).end();
  readonly seen: Seen[] = [];
  private server?: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        const seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
        this.seen.push(seen);
        this.handler(seen, res);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  reset(handler: Handler): void {
    this.seen.length = 0;
    this.handler = handler;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

export function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string | string[]> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

/** Asserts an IntegrationError of the given type and retryability, and returns it for more checks. */
export async function rejectsWith(
  promise: Promise<unknown>,
  type: string,
  retryable: boolean,
): Promise<IntegrationError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof IntegrationError, `expected an IntegrationError, got ${String(error)}`);
    assert.equal(error.type, type, error.message);
    assert.equal(error.retryable, retryable, error.message);
    return error;
  }
  assert.fail(`expected ${type}`);
}
