/**
 * A light load-generator process for the realtime scale bench: the same IPC contract and client behaviour as
 * load.child.ts (connect, subscribe to a private stream channel, reconnect with full-jitter back-off, resubscribe,
 * fetch the gap over HTTP, report per-client seq state), but each client is a bare `net.Socket` speaking just
 * enough RFC 6455 and Pusher protocol 7: a fixed upgrade request, a tiny frame parser for the server's unmasked
 * text frames, masked (zero key) client frames. On a 2-core box the generator shares the CPU with the server
 * under test, and a `ws` client (http.ClientRequest, random key, SHA-1 check, per-socket Receiver/Sender) costs
 * several times what this does per connection — cost that would otherwise be billed to the server's storm time.
 * Protocol conformance is proven elsewhere with the official clients (tests/conformance).
 *
 *   ← {type:'connect', urls, count, channel, historyUrl, localAddress, app}  → {type:'connected', open, failed, ms}
 *   ← {type:'subscribe', channel, count}                                      → {type:'subscribed', ok, ms}
 *   ← {type:'route', urls}                                                    → {type:'routed'}   (where reconnects go from now on)
 *   ← {type:'status'}  → {type:'status', open, streaming, pendingRecovery, lastSeqMin, lastSeqMax, recoveredAtMax, gapFetches, reconnects, cpuUs}
 *   ← {type:'stop'}    exits
 */
import http from 'node:http';
import net from 'node:net';
import { signChannelAuth } from '@reusable-chat/protocol';

interface ConnectCommand {
  type: 'connect';
  urls: string[];
  count: number;
  channel: string;
  historyUrl: string;
  localAddress?: string;
  app: { key: string; secret: string };
  /** How a client reconnects: pusher-js's own timers (the default), or full-jitter back-off (base, cap). */
  backoff?: Backoff;
  concurrency?: number;
}

interface Backoff {
  mode: 'pusher-js' | 'jitter';
  baseMs: number;
  capMs: number;
}

/*
 * pusher-js 8.6's reconnect timers, measured against the library (Node, ws transport, a server that closes with 4200
 * and stays down) and read in its source (connection_manager.ts, default_strategy.ts, sequential_strategy.ts):
 *   - an open connection closed with 4200-4299 → `retryIn(0)`: a new connect at once;
 *     4100-4199 → `retryIn(1000)`; closed without a Pusher code → `retryIn(1000)`;
 *   - a connect attempt that fails (refused, reset, an HTTP answer instead of 101) is not retried when it fails: the
 *     ws loop waits for that attempt's timeout, 15 s, then tries again with the timeout doubled (30 s, then 60 s).
 * So a client whose immediate retry finds the node still down comes back 15 s after that retry, whatever the
 * server does. No jitter: a fleet that got its 4200 within the same second returns within the same second.
 */
const PUSHER_JS_TIMEOUT_MS = 15_000;
const PUSHER_JS_TIMEOUT_LIMIT_MS = 60_000;
function pusherJsAttemptTimeout(failures: number): number {
  return Math.min(PUSHER_JS_TIMEOUT_MS * 2 ** failures, PUSHER_JS_TIMEOUT_LIMIT_MS);
}

class Client {
  socket: net.Socket | null = null;
  socketId = '';
  isOpen = false;
  /** Subscribed to the stream channel on the current socket. */
  streaming = false;
  lastSeq = -1;
  attempt = 0;
  /** pusher-js model: failed connect attempts since the last established connection, when this one began, how it closed. */
  failures = 0;
  attemptAt = 0;
  established = false;
  closeCode = 0;
  fetching = false;
  recoveryQueued = false;
  needsRecovery = false;
  /** Date.now() when the client last finished resubscribing and fetching its gap after a reconnect. */
  recoveredAt = 0;
  /** Bytes not yet parsed into frames (null when empty: the common case is one frame per chunk). */
  pending: Buffer | null = null;
  isUpgraded = false;
  onConnected: ((ok: boolean) => void) | null = null;
  waiters = new Map<string, () => void>();
  /** TCP connections opened so far (picks the next source port). */
  opens = 0;
  /** Where the next connect goes; 'route' changes it, as a balancer taking a node out of rotation does. */
  constructor(public host: string, public port: number, readonly index: number) {}
}

/**
 * Source ports are chosen here, not by the kernel: with a source address set, Node binds before connecting, and
 * Linux finds a free port for bind(addr, 0) by scanning the range — with thousands of this process's sockets on the
 * address that scan dominated the generator's CPU (--cpu-prof: 14 of 23 busy seconds in `internalConnect` for 5 000
 * clients) and grew with the count. An explicit port is one hash lookup. Each client steps through its own ports
 * (index + k × clients), so a port comes back only after a client's tenth connection; a rare clash (EADDRINUSE from
 * a TIME_WAIT) is just a failed attempt, retried on the next port.
 */
const CONNECT_TIMEOUT_MS = 3_000;
const PORT_BASE = 10_000;
const PORT_SPAN = 50_000;
function sourcePort(client: Client): number {
  const port = PORT_BASE + ((client.index + client.opens * clients.length) % PORT_SPAN);
  client.opens += 1;
  return port;
}

let config: ConnectCommand;
let backoff: Backoff = { mode: 'pusher-js', baseMs: 200, capMs: 2_000 };
const clients: Client[] = [];
let stopping = false;
let gapFetches = 0;
let reconnects = 0;
/** A bounded keep-alive pool: 5 000 clients catching up at once must not open 5 000 HTTP connections. */
const historyAgent = new http.Agent({ keepAlive: true, maxSockets: 32 });

function getJson<T>(url: string): Promise<T> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: historyAgent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as T);
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        });
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/** A masked client text frame; the all-zero mask key is valid (RFC 6455 §5.3) and leaves the payload as is. */
function clientFrame(text: string): Buffer {
  const body = Buffer.from(text, 'utf8');
  const n = body.length;
  const header = n < 126 ? 6 : 8;
  const out = Buffer.alloc(header + n);
  out[0] = 0x81;
  if (n < 126) out[1] = 0x80 | n;
  else {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(n, 2);
  }
  body.copy(out, header);
  return out;
}

function send(client: Client, text: string): void {
  client.socket?.write(clientFrame(text));
}

function subscribeFrame(client: Client, channel: string): string {
  return JSON.stringify({ event: 'pusher:subscribe', data: { channel, auth: signChannelAuth(config.app, client.socketId, channel) } });
}

function onText(client: Client, text: string): void {
  const frame = JSON.parse(text) as { event: string; channel?: string; data?: string };
  switch (frame.event) {
    case 'seq': {
      const { seq } = JSON.parse(frame.data!) as { seq: number };
      if (seq === client.lastSeq + 1 || client.lastSeq < 0) client.lastSeq = seq;
      else if (seq > client.lastSeq + 1) void fetchGap(client, false);
      return;
    }
    case 'pusher:connection_established':
      client.socketId = (JSON.parse(frame.data!) as { socket_id: string }).socket_id;
      client.isOpen = true;
      client.established = true;
      client.attempt = 0;
      client.failures = 0;
      send(client, subscribeFrame(client, config.channel));
      return;
    case 'pusher_internal:subscription_succeeded':
      if (frame.channel === config.channel) {
        client.streaming = true;
        client.onConnected?.(true);
        client.onConnected = null;
        // After a reconnect: fetch what was published meanwhile, then the client is caught up.
        if (client.needsRecovery) void fetchGap(client, true);
      }
      client.waiters.get(frame.channel!)?.();
      client.waiters.delete(frame.channel!);
      return;
    case 'pusher:ping':
      send(client, '{"event":"pusher:pong","data":{}}');
      return;
    default:
  }
}

/** Parses the server's frames: unmasked, text or close (ping/pong answered or ignored), possibly split across reads. */
function onData(client: Client, chunk: Buffer): void {
  const buf = client.pending ? Buffer.concat([client.pending, chunk]) : chunk;
  client.pending = null;
  let offset = 0;
  if (!client.isUpgraded) {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) {
      client.pending = buf;
      return;
    }
    if (!buf.subarray(0, 12).toString('latin1').startsWith('HTTP/1.1 101')) {
      client.socket?.destroy();
      return;
    }
    client.isUpgraded = true;
    offset = end + 4;
  }
  while (buf.length - offset >= 2) {
    const opcode = buf[offset]! & 0x0f;
    let length = buf[offset + 1]! & 0x7f;
    let header = 2;
    if (length === 126) {
      if (buf.length - offset < 4) break;
      length = buf.readUInt16BE(offset + 2);
      header = 4;
    } else if (length === 127) {
      if (buf.length - offset < 10) break;
      length = buf.readUInt32BE(offset + 6);
      header = 10;
    }
    if (buf.length - offset < header + length) break;
    const payload = buf.subarray(offset + header, offset + header + length);
    offset += header + length;
    if (opcode === 1) onText(client, payload.toString('utf8'));
    else if (opcode === 8) {
      // The server closes (4200 at shutdown): drop the TCP connection; 'close' schedules the reconnect.
      if (payload.length >= 2) client.closeCode = payload.readUInt16BE(0);
      client.socket?.destroy();
      return;
    } else if (opcode === 9) client.socket?.write(Buffer.from([0x8a, 0x80, 0, 0, 0, 0]));
  }
  if (offset < buf.length) client.pending = offset === 0 ? buf : Buffer.from(buf.subarray(offset));
}

function open(client: Client): void {
  client.isUpgraded = false;
  client.pending = null;
  client.established = false;
  client.closeCode = 0;
  client.attemptAt = Date.now();
  const socket = net.connect({
    host: client.host,
    port: client.port,
    ...(config.localAddress ? { localAddress: config.localAddress, localPort: sourcePort(client) } : {}),
  });
  client.socket = socket;
  socket.setNoDelay(true);
  // A TCP connect that has not completed in 3 s is a SYN the server's full accept queue dropped: the kernel would
  // retry it after 1, 3, 7, 15, 31 s, so a client could sit out half a minute of a storm. Browsers and mobile
  // clients give up on a stuck connect too. Only the TCP phase is timed: once the server has the connection,
  // abandoning it would throw away work the server already did. pusher-js has no such TCP timeout: its attempt
  // timeout (15 s, 30 s, 60 s) bounds the whole attempt, and the kernel retransmits a dropped SYN meanwhile.
  const connectTimer = setTimeout(() => socket.destroy(), backoff.mode === 'pusher-js' ? pusherJsAttemptTimeout(client.failures) : CONNECT_TIMEOUT_MS);
  socket.on('connect', () => {
    clearTimeout(connectTimer);
    socket.write(
      `GET /app/${config.app.key}?protocol=7 HTTP/1.1\r\nHost: ${client.host}:${client.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
  });
  socket.on('data', (chunk: Buffer) => onData(client, chunk));
  socket.on('error', () => undefined);
  socket.on('close', () => {
    clearTimeout(connectTimer);
    client.socket = null;
    client.isOpen = false;
    client.streaming = false;
    client.onConnected?.(false);
    client.onConnected = null;
    if (!stopping) scheduleReconnect(client);
  });
}

function scheduleReconnect(client: Client): void {
  reconnects += 1;
  client.needsRecovery = true;
  if (backoff.mode === 'pusher-js') {
    let delay: number;
    if (client.established) {
      delay = client.closeCode >= 4200 && client.closeCode < 4300 ? 0 : 1_000;
    } else {
      // The attempt failed before connection_established: wait until its timeout runs out, then the next is longer.
      delay = Math.max(0, client.attemptAt + pusherJsAttemptTimeout(client.failures) - Date.now());
      client.failures += 1;
    }
    setTimeout(() => {
      if (!stopping) open(client);
    }, delay);
    return;
  }
  // Full jitter (AWS architecture blog): a storm of clients spreads over the whole window instead of in waves.
  const delay = Math.random() * Math.min(backoff.capMs, backoff.baseMs * 2 ** client.attempt);
  client.attempt += 1;
  setTimeout(() => {
    if (!stopping) open(client);
  }, delay);
}

async function fetchGap(client: Client, afterReconnect: boolean): Promise<void> {
  if (client.fetching) {
    // A gap fetch from before the reconnect is still running: the recovery fetch follows it (else the client
    // would stay "pending recovery" forever while streaming).
    if (afterReconnect) client.recoveryQueued = true;
    return;
  }
  client.fetching = true;
  gapFetches += afterReconnect ? 0 : 1;
  try {
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        const { seqs } = await getJson<{ seqs: number[] }>(`${config.historyUrl}?since=${client.lastSeq}`);
        for (const seq of seqs) if (seq === client.lastSeq + 1) client.lastSeq = seq;
        if (afterReconnect) {
          client.recoveredAt = Date.now();
          client.needsRecovery = false;
        }
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
      }
    }
  } finally {
    client.fetching = false;
    if (client.recoveryQueued) {
      client.recoveryQueued = false;
      void fetchGap(client, true);
    }
  }
}

async function connectAll(cmd: ConnectCommand): Promise<void> {
  config = cmd;
  if (cmd.backoff) backoff = cmd.backoff;
  const t0 = performance.now();
  let failed = 0;
  const concurrency = cmd.concurrency ?? 250;
  for (let i = 0; i < cmd.count; i += concurrency) {
    const batch = Array.from({ length: Math.min(concurrency, cmd.count - i) }, (_, j) => {
      const url = new URL(cmd.urls[(i + j) % cmd.urls.length]!);
      return new Client(url.hostname, Number(url.port), i + j);
    });
    clients.push(...batch);
    const results = await Promise.all(
      batch.map(
        (c) =>
          new Promise<boolean>((resolve) => {
            c.onConnected = resolve;
            open(c);
          }),
      ),
    );
    failed += results.filter((ok) => !ok).length;
  }
  process.send!({ type: 'connected', open: clients.filter((c) => c.streaming).length, failed, ms: performance.now() - t0 });
}

async function subscribeAll(channel: string, count: number): Promise<void> {
  const targets = clients.filter((c) => c.streaming && c.socket).slice(0, count);
  const t0 = performance.now();
  const done = targets.map(
    (c) =>
      new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 30_000);
        c.waiters.set(channel, () => {
          clearTimeout(timer);
          resolve(true);
        });
        send(c, subscribeFrame(c, channel));
      }),
  );
  const ok = (await Promise.all(done)).filter(Boolean).length;
  process.send!({ type: 'subscribed', ok, ms: performance.now() - t0 });
}

function status(): void {
  let lastSeqMin = Infinity;
  let lastSeqMax = -Infinity;
  let recoveredAtMax = 0;
  let recoveredAtMin = Infinity;
  let streaming = 0;
  let open = 0;
  let pendingRecovery = 0;
  let waiting = 0;
  let connecting = 0;
  let upgradedNotStreaming = 0;
  for (const c of clients) {
    if (!c.socket) waiting += 1;
    else if (!c.isOpen) connecting += 1;
    else if (!c.streaming) upgradedNotStreaming += 1;
    if (c.streaming) streaming += 1;
    if (c.isOpen) open += 1;
    if (c.needsRecovery) pendingRecovery += 1;
    lastSeqMin = Math.min(lastSeqMin, c.lastSeq);
    lastSeqMax = Math.max(lastSeqMax, c.lastSeq);
    recoveredAtMax = Math.max(recoveredAtMax, c.recoveredAt);
    if (c.recoveredAt > 0) recoveredAtMin = Math.min(recoveredAtMin, c.recoveredAt);
  }
  const cpu = process.cpuUsage();
  process.send!({
    type: 'status', open, streaming, pendingRecovery, lastSeqMin, lastSeqMax, recoveredAtMax, recoveredAtMin: Number.isFinite(recoveredAtMin) ? recoveredAtMin : 0, gapFetches, reconnects, cpuUs: cpu.user + cpu.system,
    // Where the clients that are not streaming are: in back-off, in TCP connect/upgrade, upgraded but not subscribed.
    waiting, connecting, upgradedNotStreaming,
  });
}

process.on('message', (raw: unknown) => {
  const msg = raw as { type: string; channel?: string; count?: number };
  if (msg.type === 'connect') void connectAll(raw as ConnectCommand);
  else if (msg.type === 'subscribe') void subscribeAll(msg.channel!, msg.count!);
  else if (msg.type === 'status') status();
  else if (msg.type === 'route') {
    // Rolling restart: new connections go to these nodes (a balancer's rotation); open sockets stay where they are.
    const urls = (raw as { urls: string[] }).urls.map((u) => new URL(u));
    for (const c of clients) {
      const url = urls[c.index % urls.length]!;
      c.host = url.hostname;
      c.port = Number(url.port);
    }
    process.send!({ type: 'routed' });
  }
  else if (msg.type === 'stop') {
    stopping = true;
    for (const c of clients) c.socket?.destroy();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
process.send!({ type: 'ready', port: 0, pid: process.pid });
