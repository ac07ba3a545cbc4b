/**
 * One load-generator process of the realtime scale bench (bench/realtime/scale.ts): it holds up to ~5 000
 * Pusher protocol 7 sockets (a process is limited to ~20 000 open files, and the server must run elsewhere),
 * keeps each subscribed to one private stream channel whose events carry a `seq`, and reconnects like a real
 * client: full-jitter exponential back-off, resubscribe, then fetch the gap over HTTP (`?since=` on the
 * bench's history endpoint, as the product's `?since_seq=`), so "nothing lost" is checked per client by seq.
 *
 *   ← {type:'connect', urls, count, channel, historyUrl, localAddress, app}  → {type:'connected', open, failed, ms}
 *   ← {type:'subscribe', channel, count}                                      → {type:'subscribed', ok, ms}
 *   ← {type:'status'}  → {type:'status', open, streaming, lastSeqMin, lastSeqMax, recoveredAtMax, gapFetches, reconnects}
 *   ← {type:'stop'}    exits
 */
import http from 'node:http';
import WebSocket from 'ws';
import { signChannelAuth } from '@reusable-chat/protocol';

interface ConnectCommand {
  type: 'connect';
  urls: string[];
  count: number;
  channel: string;
  historyUrl: string;
  localAddress?: string;
  app: { key: string; secret: string };
}

interface Client {
  ws: WebSocket | null;
  url: string;
  socketId: string;
  /** Subscribed to the stream channel on the current socket. */
  streaming: boolean;
  lastSeq: number;
  attempt: number;
  fetching: boolean;
  /** Date.now() when the client last finished resubscribing and fetching its gap after a reconnect. */
  recoveredAt: number;
  waiters: Map<string, () => void>;
}

const BACKOFF = { baseMs: 200, capMs: 4_000 };
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
let config: ConnectCommand;
const clients: Client[] = [];
let stopping = false;
let gapFetches = 0;
let reconnects = 0;

function open(client: Client): Promise<boolean> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${client.url}/app/${config.app.key}?protocol=7`, {
      perMessageDeflate: false,
      // No handshake timeout: a 3 s one was measured to make the storm worse on a saturated 2-core box (every
      // abandoned attempt is redone from scratch), see BENCHMARKS.md.
      ...(config.localAddress ? { localAddress: config.localAddress } : {}),
    });
    client.ws = ws;
    let settled = false;
    const settle = (ok: boolean) => {
      if (!settled) {
        settled = true;
        resolve(ok);
      }
    };
    ws.on('message', (raw) => {
      const frame = JSON.parse(String(raw)) as { event: string; channel?: string; data?: string };
      if (frame.event === 'pusher:connection_established') {
        client.socketId = (JSON.parse(frame.data!) as { socket_id: string }).socket_id;
        client.attempt = 0;
        ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel: config.channel, auth: signChannelAuth(config.app, client.socketId, config.channel) } }));
      } else if (frame.event === 'pusher_internal:subscription_succeeded') {
        if (frame.channel === config.channel) {
          client.streaming = true;
          settle(true);
          // After a reconnect: fetch what was published meanwhile, then the client is caught up.
          if (reconnectsOf.has(client)) void fetchGap(client, true);
        }
        client.waiters.get(frame.channel!)?.();
        client.waiters.delete(frame.channel!);
      } else if (frame.event === 'seq') {
        const { seq } = JSON.parse(frame.data!) as { seq: number };
        if (seq === client.lastSeq + 1 || client.lastSeq < 0) client.lastSeq = seq;
        else if (seq > client.lastSeq + 1) void fetchGap(client, false);
      }
    });
    ws.on('error', () => settle(false));
    ws.on('close', () => {
      settle(false);
      client.streaming = false;
      client.ws = null;
      if (!stopping) scheduleReconnect(client);
    });
  });
}

const reconnectsOf = new Set<Client>();

function scheduleReconnect(client: Client): void {
  reconnects += 1;
  reconnectsOf.add(client);
  // Full jitter (AWS architecture blog): a storm of clients spreads over the whole window instead of in waves.
  const delay = Math.random() * Math.min(BACKOFF.capMs, BACKOFF.baseMs * 2 ** client.attempt);
  client.attempt += 1;
  setTimeout(() => {
    if (!stopping) void open(client);
  }, delay);
}

async function fetchGap(client: Client, afterReconnect: boolean): Promise<void> {
  if (client.fetching) return;
  client.fetching = true;
  gapFetches += afterReconnect ? 0 : 1;
  try {
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        const { seqs } = await getJson<{ seqs: number[] }>(`${config.historyUrl}?since=${client.lastSeq}`);
        for (const seq of seqs) if (seq === client.lastSeq + 1) client.lastSeq = seq;
        if (afterReconnect) {
          client.recoveredAt = Date.now();
          reconnectsOf.delete(client);
        }
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
      }
    }
  } finally {
    client.fetching = false;
  }
}

async function connectAll(cmd: ConnectCommand): Promise<void> {
  config = cmd;
  const t0 = performance.now();
  let failed = 0;
  const concurrency = 250;
  for (let i = 0; i < cmd.count; i += concurrency) {
    const batch = Array.from({ length: Math.min(concurrency, cmd.count - i) }, (_, j): Client => ({
      ws: null,
      url: cmd.urls[(i + j) % cmd.urls.length]!,
      socketId: '',
      streaming: false,
      lastSeq: -1,
      attempt: 0,
      fetching: false,
      recoveredAt: 0,
      waiters: new Map(),
    }));
    clients.push(...batch);
    const results = await Promise.all(batch.map((c) => open(c)));
    failed += results.filter((ok) => !ok).length;
  }
  process.send!({ type: 'connected', open: clients.filter((c) => c.streaming).length, failed, ms: performance.now() - t0 });
}

async function subscribeAll(channel: string, count: number): Promise<void> {
  const targets = clients.filter((c) => c.streaming && c.ws).slice(0, count);
  const t0 = performance.now();
  const done = targets.map(
    (c) =>
      new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 30_000);
        c.waiters.set(channel, () => {
          clearTimeout(timer);
          resolve(true);
        });
        c.ws!.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel, auth: signChannelAuth(config.app, c.socketId, channel) } }));
      }),
  );
  const ok = (await Promise.all(done)).filter(Boolean).length;
  process.send!({ type: 'subscribed', ok, ms: performance.now() - t0 });
}

function status(): void {
  let lastSeqMin = Infinity;
  let lastSeqMax = -Infinity;
  let recoveredAtMax = 0;
  let streaming = 0;
  for (const c of clients) {
    if (c.streaming) streaming += 1;
    lastSeqMin = Math.min(lastSeqMin, c.lastSeq);
    lastSeqMax = Math.max(lastSeqMax, c.lastSeq);
    recoveredAtMax = Math.max(recoveredAtMax, c.recoveredAt);
  }
  process.send!({
    type: 'status',
    open: clients.filter((c) => c.ws?.readyState === WebSocket.OPEN).length,
    streaming,
    pendingRecovery: reconnectsOf.size,
    lastSeqMin,
    lastSeqMax,
    recoveredAtMax,
    gapFetches,
    reconnects,
  });
}

process.on('message', (raw: unknown) => {
  const msg = raw as { type: string; channel?: string; count?: number };
  if (msg.type === 'connect') void connectAll(raw as ConnectCommand);
  else if (msg.type === 'subscribe') void subscribeAll(msg.channel!, msg.count!);
  else if (msg.type === 'status') status();
  else if (msg.type === 'stop') {
    stopping = true;
    for (const c of clients) c.ws?.terminate();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
process.send!({ type: 'ready', port: 0, pid: process.pid });
