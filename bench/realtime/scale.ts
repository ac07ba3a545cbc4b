/**
 * Scale targets of issue 3, measured with the server(s) and the load generators in separate processes
 * (a process holds at most ~20 000 open files): children/load.child.ts processes of ≤ 5 000 sockets each.
 *   - one node: ≥ 19 000 idle subscribed sockets, server RSS per socket; 10 000 subscribes to one channel;
 *   - restart: the node is stopped (4200 to every client) and started again on the same port the way production
 *     starts it (production-node.ts: the built bundle, NODE_ENV=production, an existing database); clients reconnect
 *     with pusher-js's own timers (or full-jitter back-off, BENCH_REALTIME_RECONNECT=jitter), resubscribe and fetch
 *     their gap over HTTP; every client must end on the last seq. Timed from the stop and from the new node's ready;
 *     BENCH_REALTIME_ONLY_RESTART runs just this (with the clients it needs) and skips everything else;
 *   - three nodes sharing Redis: as many sockets as the box allows toward 50 000, one broadcast reaching all.
 * Every phase is bounded (≤ ~90 s) and every child is stopped in `finally`, killed if it does not exit.
 */
import http from 'node:http';
import { Redis } from 'ioredis';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { childPids, freePort, prepareProductionDatabase, processCpuUs, startProductionNode, type ProductionDatabase, type ProductionNode } from './production-node.ts';
import { ensureServerBundle } from '../lib/process.ts';

interface Child {
  readonly port: number;
  readonly pid: number;
  readonly process: ChildProcess;
  request<T>(message: Record<string, unknown>, reply: string): Promise<T>;
  stop(): Promise<void>;
}
type StartChild = (file: string, env?: Record<string, string>) => Promise<Child>;

export interface ScaleResult {
  singleNode?: {
    target: number; held: number; failed: number; connectMs: number; bytesPerConnection: number; subscribeCount: number; subscribeOk: number; subscribeMs: number;
    /** Server CPU per client for connect + upgrade + subscribe to the signed stream channel (the storm's per-client work). */
    connectCpuUsPerClient: number;
  };
  restart?: {
    clients: number; downMs: number; recoveredMsFromStop: number; recoveredMsFromReady: number; recovered: number; caughtUp: number; finalSeq: number;
    gapFetchesWhileConnected: number; withinMs: number;
    /** CPU seconds from just before the first client recovered to the last recovery: the server's, and the load generators'. */
    serverCpuS?: number; loadCpuS?: number; eventsPerS?: number; backoffCapMs?: number;
    /** How the restarted node was started, how long the old one took to stop, and the clients' reconnect model. */
    startedWith?: string; stopMs?: number; reconnect?: string;
    /** From the first client's recovery to the last one's: how long the server took to absorb the returning wave. */
    firstToLastRecoveryMs?: number;
    /** Server CPU from ready to the last recovery divided by the returning clients. */
    serverCpuUsPerReturningClient?: number;
  };
  /**
   * Rolling restart of a two-node cluster over Redis: node 1 leaves the balancer's rotation and stops, its clients
   * reconnect (pusher-js: at once after 4200) to node 2 — a production bundle — resubscribe and catch up.
   */
  rolling?: {
    clients: number; stopMs: number; recoveredMsFromStop: number; firstToLastRecoveryMs: number; recovered: number; caughtUp: number; finalSeq: number;
    serverCpuS: number; serverCpuUsPerReturningClient: number; loadCpuS: number; reconnect: string; startedWith: string;
  };
  /**
   * Zero-downtime reload of one supervised node (RELOADABLE=true, docs/restarts.md): SIGHUP to the cluster primary,
   * a new worker starts beside the old one, the old one then leaves the port and closes every socket with 4200;
   * pusher-js's immediate retry lands on the new worker. In-memory pub/sub: what the new worker publishes during
   * the overlap misses the old worker's sockets, which fetch it by seq after their reconnect.
   */
  reload?: {
    clients: number; connectMs: number; recoveredMsFromSignal: number; newWorkerReadyMs: number; recoveredMsFromReady: number; oldWorkerExitMs: number;
    firstToLastRecoveryMs: number; recovered: number; caughtUp: number; finalSeq: number;
    /** CPU during the wave (from just before the first recovery to the last): the new worker's and the primary's (which accepts every connection and hands it over). */
    workerCpuS: number; primaryCpuS: number; serverCpuUsPerReturningClient: number; primaryCpuUsPerReturningClient: number; loadCpuS: number;
    loadAvg: { before: string; after: string }; reconnect: string; startedWith: string;
  };
  cluster?: { target: number; held: number; failed: number; connectMs: number; broadcastReached: number; rssMbPerNode: number[]; note?: string };
  errors: string[];
}

const APP = { key: 'bench-key', secret: 'bench-secret-0123456789abcdef' };
const STREAM = 'private-stream';
const PER_LOAD_CHILD = 5_000;
/** BENCH_REALTIME_LOAD=ws uses the heavier `ws`-based client (load.child.ts) instead, for comparison. */
const LOAD_CHILD = process.env.BENCH_REALTIME_LOAD === 'ws' ? 'load.child.ts' : 'raw-load.child.ts';
/** Sockets on the single node (the figure); BENCH_REALTIME_SCALE_TARGET lowers it for iteration. */
const SINGLE_NODE_TARGET = Number(process.env.BENCH_REALTIME_SCALE_TARGET ?? 19_000);
/**
 * Clients' reconnect back-off: full jitter, base 200 ms, cap 2 s (BENCH_REALTIME_BACKOFF_CAP_MS). The cap bounds how
 * long a client that is waiting out a retry can stay away after the node is back.
 */
/**
 * Events per second on the stream channel during the restart (BENCH_REALTIME_STORM_EVENTS_PER_S). Every client is
 * on that one channel, so each event is one write per socket: at 10/s into 19 000 sockets that is 190 000
 * deliveries/s, about 1.5 of this box's 2 cores in loopback write syscalls alone (measured with --cpu-prof), which
 * turns the storm into a fan-out throughput test. 2/s still publishes events while the node is down and while
 * clients are resubscribing, which is what "nothing lost" needs.
 */
const STORM_EVENTS_PER_S = Number(process.env.BENCH_REALTIME_STORM_EVENTS_PER_S ?? 2);
/**
 * How clients come back (BENCH_REALTIME_RECONNECT):
 *   - `pusher-js` (default): pusher-js 8.6's own timers, as measured against it (raw-load.child.ts has the details):
 *     a socket closed with 4200 reconnects at once; a connect that fails (node down, 503 while it shuts down) is
 *     retried when that attempt's timeout runs out — 15 s, then 30 s, then 60 s.
 *   - `jitter`: full-jitter exponential back-off, base 200 ms, cap BENCH_REALTIME_BACKOFF_CAP_MS (2 s) — a client
 *     with its own reconnect loop; what the server can absorb when clients return as soon as it is back.
 */
const RECONNECT = process.env.BENCH_REALTIME_RECONNECT === 'jitter' ? 'jitter' : 'pusher-js';
const BACKOFF = { mode: RECONNECT, baseMs: 200, capMs: Number(process.env.BENCH_REALTIME_BACKOFF_CAP_MS ?? 2_000) };
/** BENCH_REALTIME_ONLY_RESTART: connect the single node's clients, restart it, stop (no memory/subscribe figures, no cluster). */
const ONLY_RESTART = Boolean(process.env.BENCH_REALTIME_ONLY_RESTART);
/** BENCH_REALTIME_ONLY_RELOAD: the supervised single-node reload phase alone (BENCH_REALTIME_SKIP_RELOAD skips it). */
const ONLY_RELOAD = Boolean(process.env.BENCH_REALTIME_ONLY_RELOAD);
/** BENCH_REALTIME_RELOAD_SCHED=rr|none: the supervised node's cluster scheduling (NODE_CLUSTER_SCHED_POLICY) to compare. */
const SCHED = process.env.BENCH_REALTIME_RELOAD_SCHED === 'rr' || process.env.BENCH_REALTIME_RELOAD_SCHED === 'none' ? process.env.BENCH_REALTIME_RELOAD_SCHED : undefined;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** BENCH_REALTIME_SKIP_RESTART: the single-node figures only (iteration on connect cost and memory). */
class SkipRestart extends Error {}

function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: over ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** The bench's stand-in for `GET …/messages?since_seq=`: every seq published after `since`. */
function startHistory(): Promise<{ url: string; append(): number; latest(): number; close(): Promise<void> }> {
  let latest = -1;
  const server = http.createServer((req, res) => {
    const since = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('since') ?? -1);
    const seqs: number[] = [];
    for (let s = Math.max(0, since + 1); s <= latest; s++) seqs.push(s);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ seqs }));
  });
  server.keepAliveTimeout = 1_000;
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      resolve({
        url: `http://127.0.0.1:${port}/history`,
        append: () => ++latest,
        latest: () => latest,
        close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
      });
    });
  });
}

interface LoadStatus {
  open: number; streaming: number; pendingRecovery: number; lastSeqMin: number; lastSeqMax: number; recoveredAtMax: number; recoveredAtMin?: number; gapFetches: number; reconnects: number; cpuUs: number;
  waiting?: number; connecting?: number; upgradedNotStreaming?: number;
}

/** The earlier of two times where 0 (or absent) means "none yet". */
function earliest(a: number | undefined, b: number | undefined): number {
  const m = Math.min(a || Infinity, b || Infinity);
  return Number.isFinite(m) ? m : 0;
}

async function statusOf(loads: Child[]): Promise<LoadStatus> {
  const all = await Promise.all(loads.map((l) => l.request<LoadStatus>({ type: 'status' }, 'status')));
  return all.reduce((a, s) => ({
    open: a.open + s.open,
    streaming: a.streaming + s.streaming,
    pendingRecovery: a.pendingRecovery + s.pendingRecovery,
    lastSeqMin: Math.min(a.lastSeqMin, s.lastSeqMin),
    lastSeqMax: Math.max(a.lastSeqMax, s.lastSeqMax),
    recoveredAtMax: Math.max(a.recoveredAtMax, s.recoveredAtMax),
    recoveredAtMin: earliest(a.recoveredAtMin, s.recoveredAtMin),
    gapFetches: a.gapFetches + s.gapFetches,
    reconnects: a.reconnects + s.reconnects,
    cpuUs: a.cpuUs + (s.cpuUs ?? 0),
    waiting: (a.waiting ?? 0) + (s.waiting ?? 0),
    connecting: (a.connecting ?? 0) + (s.connecting ?? 0),
    upgradedNotStreaming: (a.upgradedNotStreaming ?? 0) + (s.upgradedNotStreaming ?? 0),
  }));
}

type SeqHistory = Awaited<ReturnType<typeof startHistory>>;

/**
 * The seq stream every restart phase publishes at STORM_EVENTS_PER_S (the history is the source of truth, as in the
 * product). `publish` is called afresh on every tick, so a phase can point it at another node; while `live()` is
 * false (no node is up) only the history gets the seq.
 */
async function startSeqStream(history: SeqHistory, publish: () => Promise<void>, live: () => boolean = () => true): Promise<{ stop(): Promise<void> }> {
  // A few events first, so every client has a seq to catch up from.
  for (let i = 0; i < 5; i++) await publish();
  await sleep(500);
  let running = true;
  const done = (async () => {
    while (running) {
      if (live()) await publish().catch(() => undefined);
      else history.append();
      await sleep(1_000 / STORM_EVENTS_PER_S);
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
    },
  };
}

/** Appends the next seq to the history, then triggers it on the node (the product's order: stored first). */
function seqPublisher(history: SeqHistory, node: { trigger(channel: string, event: string, data: string): Promise<void> }): () => Promise<void> {
  return async () => {
    const seq = history.append();
    await node.trigger(STREAM, 'seq', JSON.stringify({ seq }));
  };
}

/**
 * Samples the load processes every 250 ms until `done(status)` or the deadline. CPU counts from the last sample
 * before the first client recovered: with pusher-js's timers a node may idle for seconds before the wave arrives,
 * and that idle time is no client's cost.
 */
async function followWave<C>(p: {
  log: (m: string) => void;
  label: string;
  loads: Child[];
  startAt: number;
  deadline: number;
  initial: { cpu: C; status: LoadStatus };
  cpu: () => C;
  done: (status: LoadStatus) => boolean;
}): Promise<{ status: LoadStatus; cpu0: C; load0: LoadStatus; cpu1: C; load1: LoadStatus }> {
  let [cpu0, load0] = [p.initial.cpu, p.initial.status];
  let status = load0;
  while (Date.now() < p.deadline && !p.done(status)) {
    await sleep(250);
    const cpu = p.cpu();
    status = await statusOf(p.loads);
    if (!status.recoveredAtMin) [cpu0, load0] = [cpu, status];
    p.log(`scale: ${p.label} +${Date.now() - p.startAt} ms ${JSON.stringify(status)}`);
  }
  return { status, cpu0, load0, cpu1: p.cpu(), load1: await statusOf(p.loads) };
}

/** A last few events through the live node, then up to 10 s for every client to end on the final seq. */
async function settleOnFinalSeq(loads: Child[], history: SeqHistory, publish: () => Promise<void>): Promise<{ status: LoadStatus; finalSeq: number }> {
  for (let i = 0; i < 3; i++) await publish();
  const finalSeq = history.latest();
  const settleBy = Date.now() + 10_000;
  let status = await statusOf(loads);
  while (Date.now() < settleBy && status.lastSeqMin < finalSeq) {
    await sleep(200);
    status = await statusOf(loads);
  }
  return { status, finalSeq };
}

function serverEnv(dataDir: string, extra: Record<string, string>): Record<string, string> {
  return {
    DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    APP_SECRET: 'bench-app-secret-0123456789abcdefghijklmnopqrstuvwxyz',
    REVERB_APP_ID: 'bench-app',
    REVERB_APP_KEY: APP.key,
    REVERB_APP_SECRET: APP.secret,
    REALTIME_MAX_CONNECTIONS: '60000',
    // The whole load comes from a few loopback addresses: the per-address quota (W-21) is lifted for the bench.
    REALTIME_MAX_CONNECTIONS_PER_IP: '60000',
    NODE_ENV: 'test',
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

async function connectLoads(startChild: StartChild, started: Child[], urls: string[], total: number, history: string): Promise<{ loads: Child[]; held: number; failed: number; ms: number }> {
  const n = Math.ceil(total / PER_LOAD_CHILD);
  // The light raw-protocol client (children/raw-load.child.ts): on this 2-core box the generator's CPU is taken
  // from the server under test, so the cheaper the client the more honest the server's figures.
  const loads = await Promise.all(Array.from({ length: n }, () => startChild(LOAD_CHILD)));
  started.push(...loads);
  const t0 = performance.now();
  const replies = await within(120_000, 'connect', Promise.all(loads.map((l, i) => l.request<{ open: number; failed: number }>({
    type: 'connect',
    urls,
    count: Math.min(PER_LOAD_CHILD, total - i * PER_LOAD_CHILD),
    channel: STREAM,
    historyUrl: history,
    // A source address per process keeps loopback ephemeral ports far from exhaustion.
    localAddress: `127.0.0.${10 + i}`,
    app: APP,
    backoff: BACKOFF,
  }, 'connected'))));
  return { loads, held: replies.reduce((s, r) => s + r.open, 0), failed: replies.reduce((s, r) => s + r.failed, 0), ms: performance.now() - t0 };
}

async function stopAll(children: Child[]): Promise<void> {
  await Promise.all(children.map((c) => c.stop().catch(() => c.process.kill('SIGKILL'))));
  children.length = 0;
}

export async function runScaleBench(
  startChild: StartChild,
  dataDir: string,
  log: (m: string) => void,
  options: { postgresUrl?: string } = {},
): Promise<ScaleResult> {
  const result: ScaleResult = { errors: [] };
  const started: Child[] = [];
  const history = await startHistory();
  let productionNode: ProductionNode | undefined;
  let productionDb: ProductionDatabase | undefined;
  const withRestart = !process.env.BENCH_REALTIME_SKIP_RESTART;
  let main = '';
  const redisUrl = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (ONLY_RELOAD) {
    try {
      main = await ensureServerBundle();
      productionDb = await prepareProductionDatabase(options.postgresUrl);
      result.reload = await runReload({ startChild, dataDir, log, history, main, productionDb });
      log(`scale: reload ${JSON.stringify(result.reload)}`);
    } catch (err) {
      result.errors.push(`reload: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      await productionDb?.drop().catch(() => undefined);
      await history.close();
    }
    return result;
  }
  try {
    // Before anything is timed: the bundle the restarted node runs, and the database it finds, as after a deploy.
    if (withRestart) {
      main = await ensureServerBundle();
      productionDb = await prepareProductionDatabase(options.postgresUrl);
    }
    // ── one node: hold, memory, subscribe speed, restart storm ──
    const target = SINGLE_NODE_TARGET;
    const server = await startChild('pusher-server.child.ts', serverEnv(dataDir, { PORT: '0' }));
    started.push(server);
    const port = server.port;
    const url = `ws://127.0.0.1:${port}`;
    const before = await server.request<{ rssBytes: number; cpuUs: number }>({ type: 'usage' }, 'usage');
    const { loads, held, failed, ms } = await connectLoads(startChild, started, [url], target, history.url);
    log(`scale: ${held} held (${failed} failed) in ${Math.round(ms)} ms`);
    await sleep(1_000);
    const after = await server.request<{ rssBytes: number; cpuUs: number }>({ type: 'usage' }, 'usage');
    const subscribeCount = ONLY_RESTART ? 0 : 10_000;
    const perLoad = Math.ceil(subscribeCount / loads.length);
    const t0 = performance.now();
    const subs = ONLY_RESTART ? [] : await within(60_000, 'subscribe', Promise.all(loads.map((l) => l.request<{ ok: number }>({ type: 'subscribe', channel: 'private-hot', count: perLoad }, 'subscribed'))));
    const subscribeMs = performance.now() - t0;
    result.singleNode = {
      target, held, failed, connectMs: Math.round(ms),
      bytesPerConnection: Math.round((after.rssBytes - before.rssBytes) / Math.max(1, held)),
      subscribeCount: perLoad * loads.length, subscribeOk: subs.reduce((s, r) => s + r.ok, 0), subscribeMs: Math.round(subscribeMs),
      connectCpuUsPerClient: Math.round((after.cpuUs - before.cpuUs) / Math.max(1, held)),
    };
    log(`scale: single node ${JSON.stringify(result.singleNode)}`);

    if (!withRestart) throw new SkipRestart();
    // Restart storm: a seq stream is published throughout (history is the source of truth, as in the product):
    // into the first node (a bench child) over its IPC, into the restarted production node over the Pusher HTTP API.
    const app = { id: 'bench-app', key: APP.key, secret: APP.secret };
    const firstNode = {
      trigger: (channel: string, event: string, data: string) => server.request({ type: 'publish', channel, event, data, count: 1 }, 'published').then(() => undefined),
    };
    let publish = seqPublisher(history, firstNode);
    let live = true;
    const stream = await startSeqStream(history, () => publish(), () => live);
    const stopAt = Date.now();
    live = false;
    // Stopped = closed and disposed, as a production process is when it exits (its port is free by then); the
    // child then still removes its copy of the test database, which is no part of a production stop, and exits.
    const exited = new Promise<void>((resolve) => server.process.once('exit', () => resolve()));
    await within(30_000, 'stop', server.request({ type: 'stop' }, 'stopped'));
    const stoppedAt = Date.now();
    log(`scale: node stopped after ${stoppedAt - stopAt} ms`);
    started.splice(started.indexOf(server), 1);
    // The restarted node is the production bundle on a database that exists (not the bench child above).
    const restarted = (productionNode = await startProductionNode(main, { ...serverEnv(dataDir, { PORT: String(port) }), ...productionDb!.env }, app));
    const readyAt = restarted.readyAt;
    publish = seqPublisher(history, restarted);
    live = true;
    const clients = held;
    // Bounded: stop + start + 60 s (pusher-js's second retry comes 45 s after the stop) + the 10 s settle.
    const wave = await followWave({
      log,
      label: 'restart',
      loads,
      startAt: stopAt,
      deadline: Date.now() + 60_000,
      initial: { cpu: restarted.cpuUs(), status: await statusOf(loads) },
      cpu: () => restarted.cpuUs(),
      done: (st) => st.pendingRecovery === 0 && st.streaming >= clients,
    });
    const { cpu0: serverCpu0, load0: loadCpu0, cpu1: serverCpu1, load1: loadCpu1 } = wave;
    await within(30_000, 'old node exit', exited);
    await stream.stop();
    // A last few events through the live node; then every client must end on the final seq with no hole.
    const { status, finalSeq } = await settleOnFinalSeq(loads, history, () => publish());
    result.restart = {
      clients,
      downMs: readyAt - stopAt,
      stopMs: stoppedAt - stopAt,
      recoveredMsFromStop: status.recoveredAtMax - stopAt,
      recoveredMsFromReady: status.recoveredAtMax - readyAt,
      firstToLastRecoveryMs: status.recoveredAtMax - (status.recoveredAtMin ?? 0),
      recovered: status.streaming,
      caughtUp: status.lastSeqMin === finalSeq ? status.streaming : 0,
      finalSeq,
      gapFetchesWhileConnected: status.gapFetches,
      withinMs: 10_000,
      serverCpuS: Math.round((serverCpu1 - serverCpu0) / 10_000) / 100,
      serverCpuUsPerReturningClient: Math.round((serverCpu1 - serverCpu0) / Math.max(1, clients)),
      loadCpuS: Math.round((loadCpu1.cpuUs - loadCpu0.cpuUs) / 10_000) / 100,
      eventsPerS: STORM_EVENTS_PER_S,
      backoffCapMs: BACKOFF.capMs,
      reconnect: RECONNECT === 'jitter' ? `full jitter, base ${BACKOFF.baseMs} ms, cap ${BACKOFF.capMs} ms` : 'pusher-js 8.6 timers (4200: at once; failed connect: 15 s, 30 s, 60 s)',
      startedWith: `node apps/server/dist/main.js (NODE_ENV=production, all roles, ${productionDb!.label})`,
    };
    log(`scale: restart ${JSON.stringify(result.restart)} lastSeqMin=${status.lastSeqMin}`);
    await stopAll(started);
  } catch (err) {
    if (!(err instanceof SkipRestart)) result.errors.push(`single node: ${err instanceof Error ? err.message : String(err)}`);
    await stopAll(started);
  } finally {
    await productionNode?.stop().catch(() => productionNode?.process.kill('SIGKILL'));
  }

  if (withRestart && productionDb && !process.env.BENCH_REALTIME_SKIP_ROLLING) {
    try {
      result.rolling = await runRollingRestart({ startChild, dataDir, log, history, main, productionDb, redisUrl });
      log(`scale: rolling restart ${JSON.stringify(result.rolling)}`);
    } catch (err) {
      result.errors.push(`rolling restart: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (withRestart && productionDb && !process.env.BENCH_REALTIME_SKIP_RELOAD) {
    try {
      result.reload = await runReload({ startChild, dataDir, log, history, main, productionDb });
      log(`scale: reload ${JSON.stringify(result.reload)}`);
    } catch (err) {
      result.errors.push(`reload: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  await productionDb?.drop().catch(() => undefined);

  if (process.env.BENCH_REALTIME_SKIP_CLUSTER || ONLY_RESTART) {
    await history.close();
    return result;
  }
  // ── three nodes over Redis ──
  const prefix = `rc-bench-${process.pid}:`;
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  try {
    await within(3_000, 'redis', redis.connect());
  } catch {
    result.cluster = { target: 50_000, held: 0, failed: 0, connectMs: 0, broadcastReached: 0, rssMbPerNode: [], note: `Redis not reachable at ${redisUrl}` };
    await history.close();
    return result;
  }
  try {
    const nodes = await Promise.all([0, 1, 2].map(() => startChild('pusher-server.child.ts', serverEnv(dataDir, { PORT: '0', REDIS_URL: redisUrl, REDIS_PREFIX: prefix }))));
    started.push(...nodes);
    const target = 50_000;
    const { loads, held, failed, ms } = await connectLoads(startChild, started, nodes.map((n) => `ws://127.0.0.1:${n.port}`), target, history.url);
    log(`scale: cluster ${held} held (${failed} failed) in ${Math.round(ms)} ms`);
    const before = await statusOf(loads);
    const seq = history.append();
    await nodes[0]!.request({ type: 'publish', channel: STREAM, event: 'seq', data: JSON.stringify({ seq }), count: 1 }, 'published');
    let reached = 0;
    const by = Date.now() + 15_000;
    while (Date.now() < by) {
      const s = await statusOf(loads);
      // lastSeq is -1 until the first event; every client that got this one now has lastSeq ≥ seq.
      if (s.lastSeqMin >= seq) { reached = s.streaming; break; }
      await sleep(250);
    }
    if (reached === 0) reached = -1;
    const usages = await Promise.all(nodes.map((n) => n.request<{ rssBytes: number }>({ type: 'usage' }, 'usage')));
    result.cluster = { target, held, failed, connectMs: Math.round(ms), broadcastReached: reached, rssMbPerNode: usages.map((u) => Math.round(u.rssBytes / 1_048_576)), ...(before.open < target ? { note: `${before.open} open` } : {}) };
    log(`scale: cluster ${JSON.stringify(result.cluster)}`);
  } catch (err) {
    result.errors.push(`cluster: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    await stopAll(started);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
    await redis.quit().catch(() => undefined);
    await history.close();
  }
  return result;
}

/**
 * Rolling restart (checklist W-22 at the scale): two nodes share Redis, every client is on node 1; node 1
 * leaves the balancer's rotation (the load generators send new connects to node 2) and stops with 4200. pusher-js
 * reconnects at once after 4200, so the clients land on node 2 — a production bundle — while node 1 is still going
 * down; the stream is published through node 2 the whole time. BENCH_REALTIME_SKIP_ROLLING skips it.
 */
/** What the rolling-restart and reload phases are given by runScaleBench. */
interface PhaseContext {
  startChild: StartChild;
  dataDir: string;
  log: (m: string) => void;
  history: SeqHistory;
  /** The built server bundle (apps/server/dist/main.js). */
  main: string;
  productionDb: ProductionDatabase;
}

async function runRollingRestart(ctx: PhaseContext & { redisUrl: string }): Promise<NonNullable<ScaleResult['rolling']>> {
  const { startChild, dataDir, log, history } = ctx;
  const started: Child[] = [];
  const prefix = `rc-bench-roll-${process.pid}:`;
  const redisEnv = { REDIS_URL: ctx.redisUrl, REDIS_PREFIX: prefix };
  let second: ProductionNode | undefined;
  try {
    const first = await startChild('pusher-server.child.ts', serverEnv(dataDir, { PORT: '0', ...redisEnv }));
    started.push(first);
    const node2 = (second = await startProductionNode(ctx.main, { ...serverEnv(dataDir, { PORT: String(await freePort()) }), ...ctx.productionDb.env, ...redisEnv }, { id: 'bench-app', ...APP }));
    const { loads, held, failed } = await connectLoads(startChild, started, [`ws://127.0.0.1:${first.port}`], SINGLE_NODE_TARGET, history.url);
    log(`scale: rolling: ${held} held on node 1 (${failed} failed)`);
    const publish = seqPublisher(history, node2);
    const stream = await startSeqStream(history, publish);
    await Promise.all(loads.map((l) => l.request({ type: 'route', urls: [`ws://127.0.0.1:${node2.port}`] }, 'routed')));
    const exited = new Promise<void>((resolve) => first.process.once('exit', () => resolve()));
    const initial = { cpu: node2.cpuUs(), status: await statusOf(loads) };
    const stopAt = Date.now();
    // The clients move while node 1 is still closing: progress and node 2's CPU are sampled from the stop on.
    let stoppedAt = 0;
    const stopped = within(60_000, 'stop', first.request({ type: 'stop' }, 'stopped')).then(() => {
      stoppedAt = Date.now();
    });
    const reconnectsBefore = initial.status.reconnects;
    // Until every client has seen its 4200 (one reconnect each at least), then until all are back and caught up.
    const wave = await followWave({
      log,
      label: 'rolling',
      loads,
      startAt: stopAt,
      deadline: Date.now() + 60_000,
      initial,
      cpu: () => node2.cpuUs(),
      done: (st) => st.reconnects - reconnectsBefore >= held && st.pendingRecovery === 0 && st.streaming >= held,
    });
    const { cpu0: serverCpu0, load0: loadCpu0, cpu1: serverCpu1, load1: loadCpu1 } = wave;
    await stopped;
    await within(30_000, 'node 1 exit', exited);
    await stream.stop();
    const { status, finalSeq } = await settleOnFinalSeq(loads, history, publish);
    return {
      clients: held,
      stopMs: stoppedAt - stopAt,
      recoveredMsFromStop: status.recoveredAtMax - stopAt,
      firstToLastRecoveryMs: status.recoveredAtMax - (status.recoveredAtMin ?? 0),
      recovered: status.streaming,
      caughtUp: status.lastSeqMin === finalSeq ? status.streaming : 0,
      finalSeq,
      serverCpuS: Math.round((serverCpu1 - serverCpu0) / 10_000) / 100,
      serverCpuUsPerReturningClient: Math.round((serverCpu1 - serverCpu0) / Math.max(1, held)),
      loadCpuS: Math.round((loadCpu1.cpuUs - loadCpu0.cpuUs) / 10_000) / 100,
      reconnect: RECONNECT === 'jitter' ? `full jitter, base ${BACKOFF.baseMs} ms, cap ${BACKOFF.capMs} ms` : 'pusher-js 8.6 timers (4200: at once)',
      startedWith: `node 2: node apps/server/dist/main.js (NODE_ENV=production, all roles, ${ctx.productionDb.label}); Redis pub/sub and channel state`,
    };
  } finally {
    await stopAll(started);
    await second?.stop().catch(() => second?.process.kill('SIGKILL'));
    const redis = new Redis(ctx.redisUrl, { maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined);
    try {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
    } catch {
      // Redis unreachable: nothing was written there either.
    } finally {
      redis.disconnect();
    }
  }
}

/**
 * Reload of one supervised node (RELOADABLE=true): 19 000 clients on the primary's port, SIGHUP, timed from the
 * signal to every client resubscribed and caught up by seq with no hole. Needs PostgreSQL: with the embedded
 * database the supervisor refuses a reload (two workers cannot open one PGlite). BENCH_REALTIME_SKIP_RELOAD skips it.
 */
async function runReload(ctx: PhaseContext): Promise<NonNullable<ScaleResult['reload']>> {
  const { startChild, dataDir, log, history } = ctx;
  if (!ctx.productionDb.env.DATABASE_URL) throw new Error('needs PostgreSQL (BENCH_DATABASE_URL): the embedded database refuses a reload');
  const started: Child[] = [];
  const lines: { at: number; line: string }[] = [];
  const lineAfter = (re: RegExp, since: number) => lines.find((l) => l.at >= since && re.test(l.line));
  const loadAvg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  let node: ProductionNode | undefined;
  try {
    const port = await freePort();
    node = await startProductionNode(
      ctx.main,
      { ...serverEnv(dataDir, { PORT: String(port) }), ...ctx.productionDb.env, RELOADABLE: 'true', ...(SCHED ? { NODE_CLUSTER_SCHED_POLICY: SCHED } : {}) },
      { id: 'bench-app', ...APP },
      { onStdoutLine: (line) => lines.push({ at: Date.now(), line }) },
    );
    const primary = node;
    const t0 = performance.now();
    const { loads, held, failed } = await connectLoads(startChild, started, [`ws://127.0.0.1:${port}`], SINGLE_NODE_TARGET, history.url);
    const connectMs = Math.round(performance.now() - t0);
    log(`scale: reload: ${held} held on the supervised node (${failed} failed) in ${connectMs} ms`);
    const oldWorkers = childPids(primary.pid);
    // Through the shared port: during the overlap either worker may take it (the HTTP API is round-robined).
    const publish = seqPublisher(history, primary);
    const stream = await startSeqStream(history, publish);
    const before = loadAvg();
    const newWorker = () => childPids(primary.pid).find((p) => !oldWorkers.includes(p));
    const serverCpu = () => ({ worker: processCpuUs(newWorker() ?? -1), primary: primary.cpuUs() });
    const initial = { cpu: serverCpu(), status: await statusOf(loads) };
    const reconnectsBefore = initial.status.reconnects;
    const hupAt = Date.now();
    primary.process.kill('SIGHUP');
    const wave = await followWave({
      log,
      label: 'reload',
      loads,
      startAt: hupAt,
      deadline: Date.now() + 90_000,
      initial,
      cpu: serverCpu,
      done: (st) => st.reconnects - reconnectsBefore >= held && st.pendingRecovery === 0 && st.streaming >= held,
    });
    const { cpu0, load0: loadCpu0, cpu1, load1: loadCpu1 } = wave;
    const after = loadAvg();
    const doneBy = Date.now() + 30_000;
    while (Date.now() < doneBy && !lineAfter(/reload done/, hupAt)) await sleep(100);
    await stream.stop();
    const { status, finalSeq } = await settleOnFinalSeq(loads, history, publish);
    const readyAt = lineAfter(/worker \d+ ready/, hupAt)?.at ?? 0;
    const oldExitAt = lineAfter(new RegExp(`worker ${oldWorkers[0] ?? 'x'} exited`), hupAt)?.at ?? 0;
    const workerUs = cpu1.worker - cpu0.worker;
    const primaryUs = cpu1.primary - cpu0.primary;
    return {
      clients: held,
      connectMs,
      recoveredMsFromSignal: status.recoveredAtMax - hupAt,
      newWorkerReadyMs: readyAt ? readyAt - hupAt : -1,
      recoveredMsFromReady: readyAt ? status.recoveredAtMax - readyAt : -1,
      oldWorkerExitMs: oldExitAt ? oldExitAt - hupAt : -1,
      firstToLastRecoveryMs: status.recoveredAtMax - (status.recoveredAtMin ?? 0),
      recovered: status.streaming,
      caughtUp: status.lastSeqMin === finalSeq ? status.streaming : 0,
      finalSeq,
      workerCpuS: Math.round(workerUs / 10_000) / 100,
      primaryCpuS: Math.round(primaryUs / 10_000) / 100,
      serverCpuUsPerReturningClient: Math.round((workerUs + primaryUs) / Math.max(1, held)),
      primaryCpuUsPerReturningClient: Math.round(primaryUs / Math.max(1, held)),
      loadCpuS: Math.round((loadCpu1.cpuUs - loadCpu0.cpuUs) / 10_000) / 100,
      loadAvg: { before, after },
      reconnect: RECONNECT === 'jitter' ? `full jitter, base ${BACKOFF.baseMs} ms, cap ${BACKOFF.capMs} ms` : 'pusher-js 8.6 timers (4200: at once)',
      startedWith: `RELOADABLE=true node apps/server/dist/main.js (node:cluster primary + one worker, NODE_ENV=production, all roles, ${ctx.productionDb.label}, in-memory pub/sub, cluster scheduling ${SCHED ?? 'none (the supervisor\'s default)'})`,
    };
  } finally {
    await stopAll(started);
    await node?.stop().catch(() => node?.process.kill('SIGKILL'));
  }
}
