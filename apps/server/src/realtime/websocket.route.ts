import type { FastifyInstance } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
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
export function registerWebSocketRoute(app: FastifyInstance, server: RealtimeServer, options: { trustProxy: boolean }): void {
  app.get<{ Params: { key: string }; Querystring: Record<string, unknown> }>(
    '/app/:key',
    {
      websocket: true,
      schema: { hide: true },
      // The 101 answer (written by `ws`) and pusher:connection_established (written by server.connect) leave in one
      // write (one syscall fewer per connection): the socket is corked before `ws` writes and uncorked after
      // connect, and connect's own cork holds the bytes until the event loop next polls I/O. Only an upgrade is
      // corked: a plain GET answered 404 by the plugin must not be held back.
      preHandler: (request, _reply, done) => {
        if (request.ws) request.raw.socket.cork();
        done();
      },
    },
    (socket: WebSocket, request) => {
      const raw = (socket as unknown as { _socket: UpgradedSocket })._socket;
      adopt(server, socket, raw, request.params.key, request.query.protocol, request.headers.origin, request.ip);
    },
  );
  // The route above is the reference path; upgrades to /app/{key} are normally taken before Fastify's router.
  app.addHook('onReady', async () => {
    installFastUpgrade(app, server, options.trustProxy);
  });
}

function adopt(server: RealtimeServer, socket: WebSocket, raw: UpgradedSocket, key: string, protocol: unknown, origin: string | undefined, ip: string): void {
  try {
    releaseHttpState(raw);
    socket.removeAllListeners('error');
    socket.on('error', onSocketError);
    server.connect(socket, raw, { key, protocol, origin, ip });
  } finally {
    raw.uncork();
  }
}

/**
 * Pusher upgrades straight to `ws`, without Fastify's router, hooks, request/reply objects, child logger and
 * ServerResponse: none of it applies to a hijacked upgrade (no hook of this app acts on one), and with the merged
 * 101 write below it takes the server's CPU per connect + subscribe from ≈ 380 to ≈ 336 µs on the 2-core dev box
 * (bench/realtime/scale.ts `connectCpuUsPerClient`; most of the rest is kernel time in accept, read and write).
 * @fastify/websocket's 'upgrade' listener is wrapped, not duplicated: `GET /app/{key}` with a well-formed key
 * is handled here, everything else (other paths, other methods, odd keys) goes to the plugin exactly as before,
 * which is why a second raw 'upgrade' listener is not used (both would answer the same socket).
 * The client address follows Fastify's `request.ip`: the leftmost X-Forwarded-For entry behind TRUST_PROXY,
 * the peer address otherwise (W-21).
 */
function installFastUpgrade(app: FastifyInstance, server: RealtimeServer, trustProxy: boolean): void {
  const http = app.server;
  const wss = app.websocketServer;
  const previous = http.listeners('upgrade') as UpgradeListener[];
  if (previous.length === 0) return;
  http.removeAllListeners('upgrade');
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const target = req.method === 'GET' ? parsePusherPath(req.url) : null;
    if (!target) {
      for (const listener of previous) listener.call(http, req, socket, head);
      return;
    }
    if (!server.acceptingConnections) {
      // Shutting down (W-23): what Fastify's router does while closing (503), which this path skips. Accepting
      // and closing with 4200 instead would let reconnecting clients loop on a node that is going away and
      // keep its HTTP server from closing.
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const raw = socket as UpgradedSocket;
    const origin = req.headers.origin;
    const ip = clientIp(req, raw, trustProxy);
    // Corked so the 101 and connection_established leave together (see the route's preHandler). A refused
    // handshake is answered with socket.end(), which flushes a corked socket.
    raw.cork();
    wss.handleUpgrade(req, raw, head, (ws) => {
      adopt(server, ws, raw, target.key, target.protocol, origin, ip);
    });
  });
}

type UpgradeListener = (this: unknown, req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** `/app/{key}?…` → the key and the `protocol` query value as Fastify would give them; null for anything else. */
function parsePusherPath(url: string | undefined): { key: string; protocol: unknown } | null {
  if (url === undefined || !url.startsWith('/app/')) return null;
  const q = url.indexOf('?');
  const encodedKey = url.slice(5, q < 0 ? url.length : q);
  // Fastify's router would answer these (404, 400): leave them to it.
  if (encodedKey.length === 0 || encodedKey.length > 200 || encodedKey.includes('/')) return null;
  let key: string;
  try {
    key = decodeURIComponent(encodedKey);
  } catch {
    return null;
  }
  const values = q < 0 ? [] : new URLSearchParams(url.slice(q + 1)).getAll('protocol');
  return { key, protocol: values.length === 0 ? undefined : values.length === 1 ? values[0] : values };
}

function clientIp(req: IncomingMessage, socket: UpgradedSocket, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = req.headers['x-forwarded-for'];
    const first = (Array.isArray(forwarded) ? forwarded.join(',') : forwarded)?.split(',')[0]?.trim();
    if (first) return first;
  }
  return socket.remoteAddress ?? '';
}
