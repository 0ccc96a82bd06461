import {
  Agent,
  request as httpRequest,
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** Request headers a proxy does not pass on (they belong to one connection). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
]);

/**
 * The load balancer in front of gateway replicas: every request (API, web app, Trino) goes to the
 * next replica in turn, as a round-robin service address does, so two reads in a row may be
 * answered by different replicas. It sets X-Forwarded-Host/Port/Proto, so Trino's `nextUri`
 * points back at the balancer.
 */
export class GatewayBalancer {
  private readonly server: Server;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256 });
  private readonly sockets = new Set<Socket>();
  private next = 0;
  private port = 0;

  constructor(private readonly replicas: () => string[]) {
    this.server = createServer((req, res) => this.forward(req, res));
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Listens on 127.0.0.1 (`port` 0: a random free one). */
  async start(port = 0): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.agent.destroy();
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    const replicas = this.replicas();
    const target = new URL(replicas[this.next++ % replicas.length]);
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers))
      if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    headers['x-forwarded-proto'] ??= 'http';
    headers['x-forwarded-host'] ??= req.headers.host ?? `127.0.0.1:${this.port}`;
    headers['x-forwarded-port'] ??= String(this.port);
    const upstream = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent: this.agent },
      (answer) => {
        const out: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(answer.headers))
          if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
        res.writeHead(answer.statusCode ?? 502, out);
        answer.pipe(res);
      },
    );
    upstream.on('error', (error) => {
      if (res.headersSent) res.destroy();
      else res.writeHead(502, { 'content-type': 'text/plain' }).end(`load balancer: ${error.message}`);
    });
    req.pipe(upstream);
  }
}
