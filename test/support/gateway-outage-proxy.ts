import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How the gateway's API looks to cutover during an outage; `forbidden` is the gateway refusing rotated credentials (403). */
export type OutageMode = 'refuse' | 'unavailable' | 'hang' | 'forbidden';

/** The request that starts an outage, e.g. `POST /gateway/backend/activate/trino-green`. */
export type RequestMatch = (method: string, path: string) => boolean;

/**
 * An HTTP proxy on 127.0.0.1 between the cutover worker and a gateway: it passes requests through
 * until told to fail them. `refuse` stops listening (connections are refused), `unavailable`
 * answers 503, `hang` never answers (beyond any request timeout). Only cutover's path goes
 * through it; clients and the provisioner keep talking to the fleet directly.
 */
export class GatewayOutageProxy {
  /** Requests that met a fault (refused connections are never seen, so they do not count). */
  faulted = 0;
  private mode: OutageMode | undefined;
  /** When set, only the requests it matches fail. */
  private matching?: RequestMatch;
  private readonly held = new Set<ServerResponse>();
  private readonly upstream = new Agent({ keepAlive: true });
  private armed?: { match: RequestMatch; mode: OutageMode; started: () => void };

  private constructor(
    private readonly server: Server,
    private readonly port: number,
    private readonly target: URL,
  ) {
    server.on('request', (req, res) => this.handle(req, res));
  }

  static async start(targetUrl: string): Promise<GatewayOutageProxy> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new GatewayOutageProxy(server, (server.address() as AddressInfo).port, new URL(targetUrl));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts an outage at the first request that `match`es (that request already fails); resolves then. */
  outageFrom(match: RequestMatch, mode: OutageMode): Promise<void> {
    return new Promise((resolve) => (this.armed = { match, mode, started: resolve }));
  }

  /** Fails every request (or those `only` matches) in `mode` until end(). */
  begin(mode: OutageMode, only?: RequestMatch): void {
    this.mode = mode;
    this.matching = only;
    if (mode === 'refuse') {
      this.server.close();
      this.server.closeAllConnections();
    }
  }

  /** Passes requests through again; held requests are dropped (their clients gave up long ago). */
  async end(): Promise<void> {
    const was = this.mode;
    this.mode = undefined;
    this.matching = undefined;
    for (const res of this.held) res.socket?.destroy();
    this.held.clear();
    if (was === 'refuse') await new Promise<void>((resolve) => this.server.listen(this.port, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    this.armed = undefined;
    for (const res of this.held) res.socket?.destroy();
    this.server.closeAllConnections();
    await new Promise((resolve) => (this.server.listening ? this.server.close(resolve) : resolve(undefined)));
    this.upstream.destroy();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const armed = this.armed;
    if (armed && armed.match(req.method ?? '', req.url ?? '')) {
      this.armed = undefined;
      this.begin(armed.mode);
      armed.started();
    }
    if (this.mode && (!this.matching || this.matching(req.method ?? '', req.url ?? '')))
      return this.fail(this.mode, res);
    const forward = request(
      {
        host: this.target.hostname,
        port: this.target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent: this.upstream,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.socket?.destroy());
    req.pipe(forward);
  }

  private fail(mode: OutageMode, res: ServerResponse): void {
    this.faulted += 1;
    if (mode === 'refuse') res.socket?.destroy();
    else if (mode === 'forbidden') res.writeHead(403, { 'content-type': 'text/plain' }).end('Authentication error');
    else if (mode === 'unavailable')
      res.writeHead(503, { 'content-type': 'text/plain' }).end('gateway unavailable (injected outage)');
    else this.held.add(res);
  }
}
