import type { FastifyInstance } from 'fastify';
import { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { RealtimeServer } from './realtime-server.ts';

/** What the HTTP server left on the TCP socket of an upgraded request (Node's `assignSocket`, connectionListener). */
type UpgradedSocket = Socket & {
  _httpMessage?: { detachSocket(socket: Socket): void } | null;
  _peername?: unknown;
  _sockname?: unknown;
};

let timeoutSymbol: symbol | undefined | null = null;

/**
 * Drops what an upgraded socket keeps from its HTTP life that the connection never uses again: the response and
 * request (see below), Node's per-socket listener wrappers (three closures that only matter while an HTTP parser
 * is attached; Node restores the prototype methods itself once the parser is gone, but only on the next call),
 * the cached address objects (recomputed on demand), and the cleared Timeout object `setTimeout(0)` leaves
 * behind. About 2 KiB of heap per socket in all (bench/realtime/memory-probe.ts).
 */
function releaseHttpState(raw: UpgradedSocket): void {
  raw._httpMessage?.detachSocket(raw);
  const proto = Socket.prototype;
  if (raw.on !== proto.on) raw.on = proto.on;
  if (raw.addListener !== proto.addListener) raw.addListener = proto.addListener;
  if (raw.prependListener !== proto.prependListener) raw.prependListener = proto.prependListener;
  if (raw._peername !== undefined) raw._peername = null;
  if (raw._sockname !== undefined) raw._sockname = null;
  if (timeoutSymbol === null) timeoutSymbol = Object.getOwnPropertySymbols(raw).find((s) => s.description === 'timeout');
  if (timeoutSymbol !== undefined) {
    const holder = raw as unknown as Record<symbol, { _onTimeout?: unknown } | null | undefined>;
    const timer = holder[timeoutSymbol];
    // Only a cleared timer (no callback) is dropped; an armed one is left alone.
    if (timer && !timer._onTimeout) holder[timeoutSymbol] = null;
  }
}

/**
 * An error on an established socket (an unclean client disconnect, a protocol violation `ws` reports) ends it;
 * `ws` then emits 'close' and the server forgets the connection. One function for every socket.
 */
function onSocketError(this: WebSocket): void {
  this.terminate();
}

/**
 * `GET /app/{key}?protocol=7` (SPEC §5). A @fastify/websocket route — a raw `upgrade` listener on the same
 * server never receives the connection (stack-notes). Frames above 64 KiB close with 1009 in `ws` (W-16).
 *
 * Memory per idle connection (issue 3): after the upgrade nothing of the HTTP request may stay reachable from
 * the socket. @fastify/websocket hijacks the reply, so Node never detaches the `ServerResponse` it assigned to
 * the TCP socket (`socket._httpMessage` → response → IncomingMessage with its headers, the Fastify request and
 * reply, the request's child logger), and the plugin's 'error' listener closes over the request and reply. Both
 * are released here, with the rest of the socket's HTTP-era state (releaseHttpState).
 */
export function registerWebSocketRoute(app: FastifyInstance, server: RealtimeServer): void {
  app.get<{ Params: { key: string }; Querystring: Record<string, unknown> }>(
    '/app/:key',
    {
      websocket: true,
      schema: { hide: true },
      // The 101 answer (written by `ws`) and pusher:connection_established (written by server.connect) leave in one
      // write: the socket is corked before `ws` writes and uncorked after connect, and connect's own cork holds the
      // bytes until the event loop next polls I/O. One syscall fewer per connection is ≈ 20 % of the server's work
      // per client in a reconnect storm (bench/realtime, --cpu-prof). Only an upgrade is corked: a plain GET
      // answered 404 by the plugin must not be held back.
      preHandler: (request, _reply, done) => {
        if (request.ws) request.raw.socket.cork();
        done();
      },
    },
    (socket: WebSocket, request) => {
      const raw = (socket as unknown as { _socket: UpgradedSocket })._socket;
      const ip = request.ip;
      try {
        releaseHttpState(raw);
        socket.removeAllListeners('error');
        socket.on('error', onSocketError);
        server.connect(socket, raw, {
          key: request.params.key,
          protocol: request.query.protocol,
          origin: request.headers.origin,
          // Fastify's request.ip honours TRUST_PROXY (X-Forwarded-For) and is the peer address otherwise.
          ip,
        });
      } finally {
        raw.uncork();
      }
    },
  );
}
