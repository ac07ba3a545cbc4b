/**
 * Realtime benchmarks (SPEC §9; issue 3), called by bench/run.ts. Every server runs in its own process and the
 * load generator (this process) drives all of them the same way (children/child-protocol.ts):
 *   - ours: the real server (startServer) speaking Pusher protocol 7;
 *   - ceiling: a bare `ws` server writing one pre-built frame to every socket per event — no protocol at all
 *     (ours can beat it: it coalesces a burst into one writev per socket, which this baseline does not);
 *   - Socket.IO: a room broadcast, the usual alternative.
 * Loopback only, bounded counts; the whole scenario stays well under 3 minutes.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import PusherServer from 'pusher';
import { io as ioClient, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { signChannelAuth } from '@reusable-chat/protocol';
import { runScaleBench, type ScaleResult } from './scale.ts';

export interface RealtimeBenchRow {
  scenario: 'realtime';
  metric: string;
  value: number | null;
  unit: string;
  baseline?: { label: string; value: number | null; unit: string };
  ratio?: number | null;
  note?: string;
  detail?: Record<string, unknown>;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const APP = { id: 'bench-app', key: 'bench-key', secret: 'bench-secret-0123456789abcdef' };

/** Bounded so the scenario fits the suite budget and the default file-descriptor limit of CI machines. */
const LIMITS = {
  /** Sockets held idle (and subscribed to one channel); capped by RLIMIT_NOFILE of this process. */
  idleConnections: 5_000,
  fanOutSubscribers: 1_000,
  fanOutEvents: 200,
  latencyEventsPerSecond: 20,
  latencyDurationS: 6,
  connectConcurrency: 500,
};

interface Child {
  readonly port: number;
  readonly pid: number;
  readonly process: ChildProcess;
  request<T>(message: Record<string, unknown>, reply: string): Promise<T>;
  stop(): Promise<void>;
}

export async function startChild(file: string, env: Record<string, string> = {}): Promise<Child> {
  const child = fork(path.join(here, 'children', file), [], {
    // BENCH_CPU_PROF_DIR: a V8 CPU profile of each of our server and raw-load processes, written when it exits.
    execArgv: [
      '--expose-gc',
      '--import',
      'tsx',
      ...(process.env.BENCH_CPU_PROF_DIR && (file.startsWith('pusher-server') || file.startsWith('raw-load')) ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF_DIR] : []),
    ],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'production', ...(process.env.BENCH_VERBOSE ? { BENCH_VERBOSE: '1' } : {}), ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await new Promise<{ port: number; pid: number }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${file} did not start in time`));
    }, 90_000);
    child.on('message', (m: { type: string; port: number; pid: number }) => {
      if (m.type === 'ready') {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${file} exited with code ${code}`));
    });
  });
  return {
    ...ready,
    process: child,
    request<T>(message: Record<string, unknown>, reply: string) {
      return new Promise<T>((resolve) => {
        const onMessage = (m: { type: string }) => {
          if (m.type === reply) {
            child.off('message', onMessage);
            resolve(m as T);
          }
        };
        child.on('message', onMessage);
        child.send(message);
      });
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// ───────────── clients: one small interface over the three wire protocols ─────────────

interface BenchClient {
  /** Messages received after the subscription was confirmed. */
  received: number;
  onMessage?: (text: string) => void;
  close(): void;
}

interface System {
  readonly label: string;
  readonly child: Child;
  connect(): Promise<BenchClient & { subscribe(channel: string): Promise<void> }>;
}

function wsOpen(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function pusherSystem(child: Child): System {
  return {
    label: 'ours (Pusher protocol 7)',
    child,
    async connect() {
      const ws = new WebSocket(`ws://127.0.0.1:${child.port}/app/${APP.key}?protocol=7`, { perMessageDeflate: false });
      const socketId = await new Promise<string>((resolve, reject) => {
        ws.once('message', (data) => {
          const frame = JSON.parse(String(data)) as { event: string; data: string };
          // A refusal (quota, capacity) must fail the run, not hang it waiting for a subscription answer.
          if (frame.event !== 'pusher:connection_established') reject(new Error(`refused: ${String(data)}`));
          else resolve((JSON.parse(frame.data) as { socket_id: string }).socket_id);
        });
        ws.once('error', reject);
      });
      let subscribed: (() => void) | undefined;
      const client: BenchClient & { subscribe(channel: string): Promise<void> } = {
        received: 0,
        close: () => ws.terminate(),
        subscribe(channel) {
          return new Promise<void>((resolve) => {
            subscribed = resolve;
            ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel, auth: signChannelAuth(APP, socketId, channel) } }));
          });
        },
      };
      ws.on('message', (data) => {
        if (subscribed) {
          const done = subscribed;
          subscribed = undefined;
          done();
          return;
        }
        client.received += 1;
        client.onMessage?.(String(data));
      });
      return client;
    },
  };
}

function wsCeilingSystem(child: Child): System {
  return {
    label: 'raw ws, one pre-framed write per socket per event',
    child,
    async connect() {
      const ws = await wsOpen(`ws://127.0.0.1:${child.port}/`);
      let subscribed: (() => void) | undefined;
      const client: BenchClient & { subscribe(channel: string): Promise<void> } = {
        received: 0,
        close: () => ws.terminate(),
        subscribe(channel) {
          return new Promise<void>((resolve) => {
            subscribed = resolve;
            ws.send(JSON.stringify({ subscribe: channel }));
          });
        },
      };
      ws.on('message', (data) => {
        if (subscribed) {
          const done = subscribed;
          subscribed = undefined;
          done();
          return;
        }
        client.received += 1;
        client.onMessage?.(String(data));
      });
      return client;
    },
  };
}

function socketIoSystem(child: Child): System {
  return {
    label: 'Socket.IO 4 room broadcast',
    child,
    async connect() {
      const socket: Socket = ioClient(`http://127.0.0.1:${child.port}`, { transports: ['websocket'], reconnection: false, forceNew: true });
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', reject);
      });
      const client: BenchClient & { subscribe(channel: string): Promise<void> } = {
        received: 0,
        close: () => socket.disconnect(),
        subscribe: (channel) => new Promise<void>((resolve) => socket.emit('join', channel, () => resolve())),
      };
      socket.onAny((_event: string, data: unknown) => {
        client.received += 1;
        client.onMessage?.(String(data));
      });
      return client;
    },
  };
}

async function inBatches<T>(count: number, concurrency: number, make: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < count; i += concurrency) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(concurrency, count - i) }, (_, j) => make(i + j)))));
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;
const ratio = (a: number, b: number) => (b > 0 && Number.isFinite(a) && Number.isFinite(b) ? round(a / b, 3) : null);

interface SystemResult {
  label: string;
  connections: number;
  bytesPerConnection: number;
  subscribeMs: number;
  fanOut: { deliveries: number; deliveriesPerS: number; cpuUsPerDelivery: number };
}

/** Connects `connections` idle sockets, subscribes them all to one channel, then fans out to the first 1 000. */
async function measureSystem(system: System, connections: number): Promise<SystemResult> {
  const phase = (name: string) => process.env.BENCH_VERBOSE && console.error(`realtime bench: ${system.label}: ${name} at ${Math.round(performance.now())} ms`);
  phase('start');
  // Memory per connection is the slope between the first and the second half of the sockets: the first
  // connections also warm up allocator arenas, buffers and lazily built code, which a delta from the empty
  // server counts as per-connection cost (and, when the allocator then returns memory, can even turn negative).
  const half = Math.floor(connections / 2);
  const firstHalf = await inBatches(half, LIMITS.connectConcurrency, () => system.connect());
  await sleep(500);
  const before = await system.child.request<{ rssBytes: number }>({ type: 'usage' }, 'usage');
  const secondHalf = await inBatches(connections - half, LIMITS.connectConcurrency, () => system.connect());
  const clients = [...firstHalf, ...secondHalf];
  phase('connected');
  await sleep(500);
  const afterConnect = await system.child.request<{ rssBytes: number }>({ type: 'usage' }, 'usage');

  const channel = 'private-bench';
  const t0 = performance.now();
  await inBatches(clients.length, 1_000, (i) => clients[i]!.subscribe(channel));
  const subscribeMs = performance.now() - t0;
  phase('subscribed');

  // Fan-out: the rest leave, so exactly `fanOutSubscribers` sockets receive every broadcast.
  for (const c of clients.slice(LIMITS.fanOutSubscribers)) c.close();
  const subscribers = clients.slice(0, LIMITS.fanOutSubscribers);
  await sleep(1_000);
  const expected = LIMITS.fanOutEvents * subscribers.length;
  const cpuBefore = await system.child.request<{ cpuUs: number }>({ type: 'usage' }, 'usage');
  const start = performance.now();
  const allReceived = new Promise<void>((resolve) => {
    const check = setInterval(() => {
      if (subscribers.reduce((n, c) => n + c.received, 0) >= expected) {
        clearInterval(check);
        resolve();
      }
    }, 5);
  });
  await system.child.request({ type: 'publish', channel, event: 'bench', data: JSON.stringify({ text: 'x'.repeat(100) }), count: LIMITS.fanOutEvents }, 'published');
  await Promise.race([allReceived, sleep(60_000)]);
  const elapsedS = (performance.now() - start) / 1000;
  phase('fanned out');
  const cpuAfter = await system.child.request<{ cpuUs: number }>({ type: 'usage' }, 'usage');
  const deliveries = subscribers.reduce((n, c) => n + c.received, 0);
  for (const c of subscribers) c.close();
  return {
    label: system.label,
    connections: clients.length,
    bytesPerConnection: (afterConnect.rssBytes - before.rssBytes) / Math.max(1, secondHalf.length),
    subscribeMs,
    fanOut: {
      deliveries,
      deliveriesPerS: deliveries / elapsedS,
      // Includes the IPC 'usage' round trips (negligible) and nothing of the clients (another process).
      cpuUsPerDelivery: (cpuAfter.cpuUs - cpuBefore.cpuUs) / Math.max(1, deliveries),
    },
  };
}

/** trigger (pusher SDK → HTTP API) → receive (pusher-js-compatible socket), paced at 20 events/s. */
async function measureTriggerLatency(child: Child): Promise<{ p50Ms: number; p99Ms: number; samples: number; lost: number }> {
  const system = pusherSystem(child);
  const receiver = await system.connect();
  const channel = 'private-latency';
  await receiver.subscribe(channel);
  const sdk = new PusherServer({ appId: APP.id, key: APP.key, secret: APP.secret, host: '127.0.0.1', port: String(child.port), useTLS: false });
  const sentAt = new Map<number, number>();
  const samples: number[] = [];
  receiver.onMessage = (text) => {
    const at = performance.now();
    const frame = JSON.parse(text) as { data: string };
    const { n } = JSON.parse(frame.data) as { n: number };
    const t = sentAt.get(n);
    if (t !== undefined) samples.push(at - t);
  };
  const total = LIMITS.latencyEventsPerSecond * LIMITS.latencyDurationS;
  const intervalMs = 1000 / LIMITS.latencyEventsPerSecond;
  const t0 = performance.now();
  for (let n = 0; n < total; n++) {
    const due = t0 + n * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    sentAt.set(n, performance.now());
    void sdk.trigger(channel, 'latency', { n });
  }
  await sleep(1_000);
  receiver.close();
  const sorted = [...samples].sort((a, b) => a - b);
  const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
  return { p50Ms: round(pct(50)), p99Ms: round(pct(99)), samples: samples.length, lost: total - samples.length };
}

function connectionBudget(): number {
  // Each idle client here and its server socket there use one descriptor per process; keep headroom.
  try {
    const soft = Number(/Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? 1024);
    return Math.max(LIMITS.fanOutSubscribers, Math.min(LIMITS.idleConnections, soft - 500));
  } catch {
    return LIMITS.fanOutSubscribers;
  }
}

export async function runRealtimeBench(options: { postgresUrl?: string } = {}): Promise<RealtimeBenchRow[]> {
  const connections = connectionBudget();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'rc-bench-rt-'));
  const results: SystemResult[] = [];
  let latency: Awaited<ReturnType<typeof measureTriggerLatency>> | undefined;
  const log = (m: string) => process.env.BENCH_VERBOSE && console.error(`realtime bench: ${m}`);
  // BENCH_REALTIME_ONLY_RESTART (scale.ts): the restart storm alone, so the fan-out baselines are skipped too.
  if (process.env.BENCH_REALTIME_SCALE_ONLY || process.env.BENCH_REALTIME_ONLY_RESTART) {
    try {
      return scaleRows(await runScaleBench(startChild, dataDir, log, options));
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  let scale: ScaleResult | undefined;
  try {
    const ours = await startChild('pusher-server.child.ts', {
      DATA_DIR: dataDir,
      PORT: '0',
      HOST: '127.0.0.1',
      APP_SECRET: 'bench-app-secret-0123456789abcdefghijklmnopqrstuvwxyz',
      REVERB_APP_ID: APP.id,
      REVERB_APP_KEY: APP.key,
      REVERB_APP_SECRET: APP.secret,
      REALTIME_MAX_CONNECTIONS: String(connections + 100),
      // Every bench socket comes from 127.0.0.1: the per-address quota (W-21) would refuse all but the first 1 000.
      REALTIME_MAX_CONNECTIONS_PER_IP: String(connections + 100),
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
    });
    try {
      results.push(await measureSystem(pusherSystem(ours), connections));
      latency = await measureTriggerLatency(ours);
    } finally {
      await ours.stop();
    }
    const ceiling = await startChild('ws-ceiling.child.ts');
    try {
      results.push(await measureSystem(wsCeilingSystem(ceiling), connections));
    } finally {
      await ceiling.stop();
    }
    const socketIo = await startChild('socketio.child.ts');
    try {
      results.push(await measureSystem(socketIoSystem(socketIo), connections));
    } finally {
      if (process.env.BENCH_VERBOSE) console.error(`realtime bench: stopping Socket.IO at ${Math.round(performance.now())} ms`);
      await socketIo.stop();
      if (process.env.BENCH_VERBOSE) console.error(`realtime bench: stopped at ${Math.round(performance.now())} ms`);
    }
    scale = await runScaleBench(startChild, dataDir, log, options);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  return [...toRows(results, latency, connections), ...(scale ? scaleRows(scale) : [])];
}

/** The issue's scale targets, each row with its target in the note (figures are analysed in BENCHMARKS.md). */
function scaleRows(scale: ScaleResult): RealtimeBenchRow[] {
  const rows: RealtimeBenchRow[] = [];
  const row = (metric: string, value: number | null, unit: string, note: string, detail?: Record<string, unknown>): void => {
    rows.push({ scenario: 'realtime', metric, value, unit, note, ...(detail ? { detail } : {}) });
  };
  const one = scale.singleNode;
  if (one) {
    row('one node: subscribed sockets held', one.held, 'sockets', `target ≥ 19 000; ${one.failed} failed; connected+subscribed in ${one.connectMs} ms by ${Math.ceil(one.target / 5_000)} load processes`, one);
    row('one node: server memory per idle subscribed socket', round(one.bytesPerConnection / 1024), 'KiB', `target ≤ 6 KB; RSS delta after GC at ${one.held} sockets`);
    row(`one node: ${one.subscribeCount} subscribes to one channel`, one.subscribeMs, 'ms', `target ≤ 3 000 ms; ${one.subscribeOk} confirmed, on a node holding ${one.held} sockets`);
    row('one node: server CPU per client connect + upgrade + subscribe', one.connectCpuUsPerClient, 'µs', `user+system CPU of the server while ${one.held} raw-protocol clients connected and subscribed to a signed private channel; what each returning client costs in a restart storm`);
  }
  const r = scale.restart;
  if (r) {
    const how = `restarted as ${r.startedWith ?? '?'}; clients reconnect with ${r.reconnect ?? '?'}`;
    row('node restart: all clients resubscribed and caught up, from the stop', r.recoveredMsFromStop, 'ms', `target ≤ 10 000 ms for ${r.clients} clients (18 000 in the issue); old node stopped in ${r.stopMs ?? '?'} ms, new node answered /health ${r.downMs} ms after the stop; ${r.recovered} resubscribed, ${r.caughtUp} ended on seq ${r.finalSeq} with no hole; gap fetched over HTTP, stream ${r.eventsPerS ?? '?'} events/s; ${how}`, r);
    row('node restart: all clients resubscribed and caught up, from ready', r.recoveredMsFromReady, 'ms', `from the new node's first /health answer to the last client's recovery`);
    row('node restart: server CPU per returning client', r.serverCpuUsPerReturningClient ?? null, 'µs', `user+system CPU of the restarted node while the clients came back (from just before the first recovery to the last: ${r.serverCpuS ?? '?'} s, the wave took ${r.firstToLastRecoveryMs ?? '?'} ms) / ${r.clients} clients: accept, upgrade, subscribe with HMAC check, the stream's deliveries; load generators ${r.loadCpuS ?? '?'} s`);
  }
  const g = scale.rolling;
  if (g) {
    row('rolling restart of two nodes: all clients on node 2, resubscribed and caught up, from the stop', g.recoveredMsFromStop, 'ms', `target ≤ 10 000 ms; ${g.clients} clients on node 1 of two sharing Redis; node 1 left the balancer's rotation and stopped (closed in ${g.stopMs} ms); ${g.recovered} resubscribed on node 2, ${g.caughtUp} ended on seq ${g.finalSeq} with no hole; wave from the first recovery to the last ${g.firstToLastRecoveryMs} ms; ${g.startedWith}; clients reconnect with ${g.reconnect}`, g);
    row('rolling restart: node 2 CPU per arriving client', g.serverCpuUsPerReturningClient, 'µs', `user+system CPU of node 2 during the wave (${g.serverCpuS} s) / ${g.clients}: accept, upgrade, subscribe with HMAC check and its Redis round trip, the stream's deliveries; load generators ${g.loadCpuS} s`);
  }
  const h = scale.reload;
  if (h) {
    row('reload of one supervised node (SIGHUP): all clients resubscribed and caught up, from the signal', h.recoveredMsFromSignal, 'ms', `target ≤ 10 000 ms; ${h.clients} clients on one RELOADABLE=true node; new worker ready ${h.newWorkerReadyMs} ms after SIGHUP, last client back ${h.recoveredMsFromReady} ms after that, old worker gone at ${h.oldWorkerExitMs} ms; ${h.recovered} resubscribed, ${h.caughtUp} ended on seq ${h.finalSeq} with no hole; wave ${h.firstToLastRecoveryMs} ms; load average ${h.loadAvg.before} → ${h.loadAvg.after}; ${h.startedWith}; clients reconnect with ${h.reconnect}`, h);
    row('reload: server CPU per returning client', h.serverCpuUsPerReturningClient, 'µs', `user+system CPU of the new worker (${h.workerCpuS} s) and the cluster primary (${h.primaryCpuS} s, ${h.primaryCpuUsPerReturningClient} µs per client: accept and hand-over) during the wave / ${h.clients}; load generators ${h.loadCpuS} s`);
  }
  const c = scale.cluster;
  if (c) {
    row('three nodes over Redis: sockets held', c.held, 'sockets', `target 50 000; ${c.failed} failed; ${c.connectMs} ms; one broadcast reached ${c.broadcastReached}; RSS per node ${c.rssMbPerNode.join('/')} MB${c.note ? `; ${c.note}` : ''}`, c);
  }
  if (scale.errors.length > 0) row('scale scenario errors', scale.errors.length, 'errors', scale.errors.join('; '));
  return rows;
}

function toRows(results: SystemResult[], latency: { p50Ms: number; p99Ms: number; samples: number; lost: number } | undefined, connections: number): RealtimeBenchRow[] {
  const [ours, ceiling, socketIo] = results as [SystemResult, SystemResult, SystemResult];
  const rows: RealtimeBenchRow[] = [];
  const vs = (label: string, value: number, base: SystemResult, pick: (r: SystemResult) => number, unit: string, note?: string): RealtimeBenchRow => ({
    scenario: 'realtime',
    metric: label,
    value: round(value),
    unit,
    baseline: { label: base.label, value: round(pick(base)), unit },
    ratio: ratio(value, pick(base)),
    ...(note ? { note } : {}),
  });
  rows.push(vs(`subscribe ${connections} sockets to one channel`, ours.subscribeMs, socketIo, (r) => r.subscribeMs, 'ms', 'signed private channel vs Socket.IO room join; lower is better'));
  rows.push({ scenario: 'realtime', metric: 'idle connections held', value: ours.connections, unit: 'sockets', note: `bounded by the bench (max ${LIMITS.idleConnections}) and RLIMIT_NOFILE` });
  rows.push(vs('server memory per idle connection', ours.bytesPerConnection / 1024, ceiling, (r) => r.bytesPerConnection / 1024, 'KiB', 'RSS slope after GC (second half of the sockets); lower is better'));
  rows.push(vs('server memory per idle connection vs Socket.IO', ours.bytesPerConnection / 1024, socketIo, (r) => r.bytesPerConnection / 1024, 'KiB'));
  const fanOutNote = `${LIMITS.fanOutEvents} broadcasts × ${LIMITS.fanOutSubscribers} subscribers, 100-byte payload; higher is better`;
  rows.push(vs(`fan-out to ${LIMITS.fanOutSubscribers} subscribers`, ours.fanOut.deliveriesPerS, ceiling, (r) => r.fanOut.deliveriesPerS, 'deliveries/s', fanOutNote));
  rows.push(vs(`fan-out to ${LIMITS.fanOutSubscribers} subscribers vs Socket.IO`, ours.fanOut.deliveriesPerS, socketIo, (r) => r.fanOut.deliveriesPerS, 'deliveries/s'));
  rows.push(vs('server CPU per delivery', ours.fanOut.cpuUsPerDelivery, ceiling, (r) => r.fanOut.cpuUsPerDelivery, 'µs', 'user+system CPU of the server process; lower is better'));
  rows.push(vs('server CPU per delivery vs Socket.IO', ours.fanOut.cpuUsPerDelivery, socketIo, (r) => r.fanOut.cpuUsPerDelivery, 'µs'));
  if (latency) {
    const note = `pusher SDK trigger → socket receive, ${LIMITS.latencyEventsPerSecond} events/s for ${LIMITS.latencyDurationS} s; ${latency.samples} samples, ${latency.lost} lost`;
    rows.push({ scenario: 'realtime', metric: 'trigger → receive p50', value: latency.p50Ms, unit: 'ms', note });
    rows.push({ scenario: 'realtime', metric: 'trigger → receive p99', value: latency.p99Ms, unit: 'ms' });
  }
  for (const r of results) {
    rows.at(-1)!.detail = { ...(rows.at(-1)!.detail ?? {}), [r.label]: r };
  }
  return rows;
}

// Standalone: `npx tsx bench/realtime/index.ts` prints the rows without the rest of the suite.
if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const t0 = performance.now();
  const rows = await runRealtimeBench();
  console.error(`realtime bench: ${Math.round((performance.now() - t0) / 1000)} s`);
  console.table(rows.map((r) => ({ metric: r.metric, value: `${r.value} ${r.unit}`, baseline: r.baseline ? `${r.baseline.value} ${r.baseline.unit} (${r.baseline.label})` : '', ratio: r.ratio ?? '' })));
  // Closed client sockets linger in the loopback TIME_WAIT dance; nothing left to wait for.
  process.exit(0);
}
