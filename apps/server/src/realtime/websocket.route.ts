import type { FastifyInstance } from 'fastify';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { RealtimeServer } from './realtime-server.ts';

/**
 * `GET /app/{key}?protocol=7` (SPEC §5). A @fastify/websocket route — a raw `upgrade` listener on the same
 * server never receives the connection (stack-notes). Frames above 64 KiB close with 1009 in `ws` (W-16).
 */
export function registerWebSocketRoute(app: FastifyInstance, server: RealtimeServer): void {
  app.get<{ Params: { key: string }; Querystring: Record<string, unknown> }>(
    '/app/:key',
    { websocket: true, schema: { hide: true } },
    (socket: WebSocket, request) => {
      const raw = (socket as unknown as { _socket: Duplex })._socket;
      server.connect(socket, raw, {
        key: request.params.key,
        protocol: request.query.protocol,
        origin: request.headers.origin,
        // Fastify's request.ip honours TRUST_PROXY (X-Forwarded-For) and is the peer address otherwise.
        ip: request.ip,
      });
    },
  );
}
