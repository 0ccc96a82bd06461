import type { AddressInfo, Socket } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';

/** A fastify app that can be cut off at once: a stop or a simulated crash drops every socket. */
export interface Listener {
  app: FastifyInstance;
  /** Destroys every open connection, without answering in-flight requests. */
  destroySockets(): void;
}

/** Creates a fastify app that reads every body as a string (Trino and the gateway take SQL, names and JSON alike). */
export function createListener(options: FastifyServerOptions = {}): Listener {
  const app = Fastify({ forceCloseConnections: true, ...options });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
  const sockets = new Set<Socket>();
  app.server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return {
    app,
    destroySockets: () => {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
  };
}

/** Listens on 127.0.0.1 (never on other interfaces) and returns the bound port. */
export async function listenLocal(app: FastifyInstance, port: number): Promise<number> {
  await app.listen({ host: '127.0.0.1', port });
  return (app.server.address() as AddressInfo).port;
}
