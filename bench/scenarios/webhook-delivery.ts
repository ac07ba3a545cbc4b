/**
 * Webhook deliveries per second and commit → receipt delay (checklist F-13 context, SPEC §9): the real server in
 * its own process (every role, so its worker relays the outbox and delivers), ENDPOINTS webhook endpoints of one
 * workspace pointed at a plain HTTP receiver in this process, messages posted through the consumer API. Each
 * message.created fans out to every endpoint; the clock of a delivery runs from the start of the POST that
 * committed the message to the receiver reading the webhook (the commit lies between the start and the 201, so
 * this is commit → receipt plus at most the send's own answer time, reported beside it).
 * Two phases per backend:
 * - paced: messages at a fixed open-loop rate (PACED_MESSAGES_PER_S, well under capacity) — the delay a tenant
 *   sees in normal operation, not a queue that grows;
 * - max: MAX_SENDERS closed-loop clients as fast as the server answers — the throughput ceiling (delays here include
 *   the backlog, so they are reported as a note only).
 * Baseline (same run, same machine): a bare Node HTTP POST loop (keep-alive, DELIVERY_SLOTS concurrent) to the
 * same receiver — what delivery could reach if signing, the delivery log and the queue cost nothing.
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { startBenchStack } from '../lib/bench-stack.ts';
import { ratioOf, type BenchRow } from '../lib/report.ts';
import { round, sleep, summarize } from '../lib/stats.ts';

const ENDPOINTS = 4;
/**
 * Closed-loop senders of the max phase: enough that the server, not the senders' round trips, is the limit
 * (with 8 a profile showed the server half idle).
 */
const MAX_SENDERS = 32;
const WARMUP_S = 2;
const DURATION_S = 8;
/** 25 messages/s × 4 endpoints = 100 deliveries/s: a steady load the worker should carry without a backlog. */
const PACED_MESSAGES_PER_S = 25;
/** Concurrency of the bare POST baseline (the worker's own delivery concurrency is larger; the receiver is local). */
const DELIVERY_SLOTS = 8;
const BASELINE_S = 3;
/** After the last send, deliveries still in flight get this long before they count as lost. */
const DRAIN_MS = 15_000;

interface Receiver {
  readonly url: string;
  onWebhook: ((messageId: string, path: string) => void) | undefined;
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const receiver: Receiver & { server?: http.Server } = { url: '', onWebhook: undefined, close: async () => undefined };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      if (req.headers['webhook-id'] === undefined) return; // autocannon baseline traffic
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data?: { message?: { id?: string } } };
        const id = body.data?.message?.id;
        if (id) receiver.onWebhook?.(id, req.url ?? '/');
      } catch {
        // not a webhook body
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(receiver, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

function startStack(kind: 'pglite' | 'postgres', serverUrl: string | undefined) {
  // The receiver is on loopback, which the SSRF guard refuses unless the operator allows private targets.
  // One conversation per max-phase sender, so concurrent sends never queue on one conversation's sequence.
  return startBenchStack(kind, serverUrl, MAX_SENDERS, { WEBHOOKS_ALLOW_PRIVATE: 'true' });
}

export async function benchWebhookDelivery(postgresUrl: string | undefined): Promise<BenchRow[]> {
  const receiver = await startReceiver();
  try {
    const rawPerSecond = await barePostLoop(`${receiver.url}/raw`, DELIVERY_SLOTS, BASELINE_S);
    const baseline = { label: 'bare keep-alive POST loop to the same receiver', value: round(rawPerSecond, 0), unit: '/s' };
    const rows: BenchRow[] = [];
    for (const kind of ['pglite', 'postgres'] as const) {
      const label = kind === 'pglite' ? 'PGlite' : 'PostgreSQL';
      const scenario = `webhook deliveries (${label})`;
      if (kind === 'postgres' && !postgresUrl) {
        rows.push({ scenario, metric: 'deliveries/s', value: null, unit: '/s', note: 'not available: no PostgreSQL' });
        continue;
      }
      const { paced, max, sendCpuMsPerMessage } = await measure(kind, postgresUrl, receiver);
      // Server CPU per delivery at the paced rate minus each delivery's share of its message's send.
      const deliveryCpuMs = round(paced.serverCpuMsPerDelivery - sendCpuMsPerMessage / ENDPOINTS, 3);
      const counts = (r: Measured) =>
        `${r.sent} messages, ${r.expected} deliveries expected, ${r.received} received, ${r.duplicates} duplicates, ${r.failed} failed sends`;
      rows.push(
        {
          scenario,
          metric: 'max deliveries/s',
          value: round(max.perSecond, 0),
          unit: '/s',
          baseline,
          ratio: ratioOf(round(max.perSecond, 0), baseline.value),
          note: `${MAX_SENDERS} closed-loop senders, ${ENDPOINTS} endpoints per event; ${counts(max)}; commit → receipt under this overload p50 ${Math.round(max.delay.p50Ms)} ms, p99 ${Math.round(max.delay.p99Ms)} ms; server CPU ${max.serverCpuMsPerDelivery} ms per delivery`,
          detail: { ...max },
        },
        {
          scenario,
          metric: `deliveries/s at a paced ${PACED_MESSAGES_PER_S * ENDPOINTS}/s`,
          value: round(paced.perSecond, 0),
          unit: '/s',
          baseline: { label: 'offered', value: PACED_MESSAGES_PER_S * ENDPOINTS, unit: '/s' },
          ratio: ratioOf(round(paced.perSecond, 0), PACED_MESSAGES_PER_S * ENDPOINTS),
          note: `${PACED_MESSAGES_PER_S} messages/s open loop for ${DURATION_S} s; ${counts(paced)}; server CPU ${paced.serverCpuMsPerDelivery} ms per delivery (its share of the send included)`,
          detail: { ...paced },
        },
        {
          scenario,
          metric: 'server CPU per delivery (sends excluded)',
          value: deliveryCpuMs,
          unit: 'ms',
          baseline: { label: 'server CPU per message sent without webhooks', value: sendCpuMsPerMessage, unit: 'ms' },
          ratio: ratioOf(deliveryCpuMs, sendCpuMsPerMessage),
          note: `paced phase; process user+system time from /proc, so other load on the machine does not inflate it; lower is better`,
        },
        { scenario, metric: 'paced commit → receipt p50', value: paced.delay.p50Ms, unit: 'ms', baseline: { label: 'send answered (201) p50', value: paced.answer.p50Ms, unit: 'ms' }, ratio: ratioOf(paced.delay.p50Ms, paced.answer.p50Ms) },
        { scenario, metric: 'paced commit → receipt p99', value: paced.delay.p99Ms, unit: 'ms', baseline: { label: 'send answered (201) p99', value: paced.answer.p99Ms, unit: 'ms' }, ratio: ratioOf(paced.delay.p99Ms, paced.answer.p99Ms) },
      );
    }
    return rows;
  } finally {
    await receiver.close();
  }
}

interface Measured {
  perSecond: number;
  sent: number;
  failed: number;
  expected: number;
  received: number;
  duplicates: number;
  delay: ReturnType<typeof summarize>;
  answer: ReturnType<typeof summarize>;
  /** Server process CPU over the phase (the sends included) per received delivery. */
  serverCpuMsPerDelivery: number;
}

/** User + system CPU time of a process so far, in ms (/proc, clock ticks of 10 ms): robust to other load on the machine. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Bare HTTP POSTs on keep-alive connections, `concurrency` at a time, for `durationS`: requests per second. */
async function barePostLoop(url: string, concurrency: number, durationS: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const body = JSON.stringify({ type: 'baseline', data: { message: { id: 'x'.repeat(36), content: 'bench webhook 0' } } });
  const endAt = performance.now() + durationS * 1000;
  let done = 0;
  const postOnce = () =>
    new Promise<void>((resolve, reject) => {
      const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      });
      req.on('error', reject);
      req.end(body);
    });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < endAt) {
        await postOnce();
        done += 1;
      }
    }),
  );
  agent.destroy();
  return done / durationS;
}

async function measure(
  kind: 'pglite' | 'postgres',
  postgresUrl: string | undefined,
  receiver: Receiver,
): Promise<{ paced: Measured; max: Measured; sendCpuMsPerMessage: number }> {
  const stack = await startStack(kind, postgresUrl);
  try {
    const base = stack.server.url;
    const post = async (pathName: string, body: unknown) => {
      const res = await fetch(base + pathName, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': stack.tenant.apiKey },
        body: JSON.stringify(body),
      });
      return { status: res.status, json: (await res.json().catch(() => ({}))) as Record<string, unknown> };
    };
    // The same paced sends before any endpoint exists: the server CPU a message costs without webhooks, so the
    // delivery path's own CPU can be told apart from the send's (robust to other load on the machine).
    const sendOnly = async (durationS: number) => {
      const cpuAtStart = cpuMs(stack.server.pid);
      const start = performance.now();
      const sends: Promise<{ status: number }>[] = [];
      for (let n = 0; start + (n * 1000) / PACED_MESSAGES_PER_S < start + durationS * 1000; n++) {
        const wait = start + (n * 1000) / PACED_MESSAGES_PER_S - performance.now();
        if (wait > 0) await sleep(wait);
        const c = stack.tenant.conversations[n % stack.tenant.conversations.length]!;
        sends.push(post(`/api/v1/conversations/${c.id}/messages`, { sender_external_id: c.externalId, content: `bench no webhook ${n}` }));
      }
      const ok = (await Promise.all(sends)).filter((r) => r.status === 201).length;
      return (cpuMs(stack.server.pid) - cpuAtStart) / Math.max(1, ok);
    };
    await sendOnly(WARMUP_S);
    const sendCpuMsPerMessage = round(await sendOnly(DURATION_S), 3);

    for (let i = 0; i < ENDPOINTS; i++) {
      const r = await post('/api/v1/webhooks', { url: `${receiver.url}/${kind}/e${i}`, events: ['message.created'] });
      if (r.status !== 201) throw new Error(`webhook endpoint: ${r.status} ${JSON.stringify(r.json)}`);
    }

    /** One phase's bookkeeping; receipts of messages outside the current phase are ignored. */
    const startedAt = new Map<string, number>();
    const receivedKeys = new Set<string>();
    const pendingReceipts = new Map<string, number[]>();
    let phase: { measuredIds: Set<string>; delayMs: number[]; received: number; lastReceipt: number; duplicates: number } | undefined;
    receiver.onWebhook = (messageId, urlPath) => {
      if (!urlPath.startsWith(`/${kind}/`)) return;
      const now = performance.now();
      const key = `${messageId} ${urlPath}`;
      if (receivedKeys.has(key)) {
        if (phase) phase.duplicates += 1;
        return;
      }
      receivedKeys.add(key);
      const t0 = startedAt.get(messageId);
      // A webhook may arrive before this process has read the 201 (and so the id): keep the receipt for later.
      if (t0 === undefined) pendingReceipts.set(messageId, [...(pendingReceipts.get(messageId) ?? []), now]);
      else record(messageId, t0, now);
    };
    function record(messageId: string, t0: number, at: number) {
      if (!phase?.measuredIds.has(messageId)) return;
      phase.delayMs.push(at - t0);
      phase.received += 1;
      phase.lastReceipt = Math.max(phase.lastReceipt, at);
    }

    let conversationIndex = 0;
    const sendOne = async (measuring: boolean, counters: { sent: number; failed: number; firstSend: number; answerMs: number[] }) => {
      const c = stack.tenant.conversations[conversationIndex++ % stack.tenant.conversations.length]!;
      const t0 = performance.now();
      const r = await post(`/api/v1/conversations/${c.id}/messages`, { sender_external_id: c.externalId, content: `bench webhook ${conversationIndex}` });
      if (r.status !== 201) {
        if (measuring) counters.failed += 1;
        return;
      }
      const id = r.json.id as string;
      startedAt.set(id, t0);
      if (measuring && phase) {
        counters.sent += 1;
        phase.measuredIds.add(id);
        counters.firstSend = Math.min(counters.firstSend, t0);
        counters.answerMs.push(performance.now() - t0);
      }
      for (const at of pendingReceipts.get(id) ?? []) record(id, t0, at);
      pendingReceipts.delete(id);
    };

    const runPhase = async (mode: 'paced' | 'max', durationS: number, measuring: boolean): Promise<Measured | undefined> => {
      const counters = { sent: 0, failed: 0, firstSend: Infinity, answerMs: [] as number[] };
      phase = measuring ? { measuredIds: new Set(), delayMs: [], received: 0, lastReceipt: 0, duplicates: 0 } : undefined;
      const cpuAtStart = cpuMs(stack.server.pid);
      const endAt = performance.now() + durationS * 1000;
      if (mode === 'max') {
        await Promise.all(
          Array.from({ length: MAX_SENDERS }, async () => {
            while (performance.now() < endAt) await sendOne(measuring, counters);
          }),
        );
      } else {
        // Open loop: the n-th message leaves at start + n / rate whatever the previous ones are doing.
        const inFlight: Promise<void>[] = [];
        const start = performance.now();
        for (let n = 0; start + (n * 1000) / PACED_MESSAGES_PER_S < endAt; n++) {
          const due = start + (n * 1000) / PACED_MESSAGES_PER_S;
          const wait = due - performance.now();
          if (wait > 0) await sleep(wait);
          inFlight.push(sendOne(measuring, counters));
        }
        await Promise.all(inFlight);
      }
      if (!phase) return undefined;
      const current = phase;
      const expected = counters.sent * ENDPOINTS;
      const drainUntil = performance.now() + DRAIN_MS;
      while (current.received < expected && performance.now() < drainUntil) await sleep(50);
      phase = undefined;
      const serverCpuMs = cpuMs(stack.server.pid) - cpuAtStart;
      // Deliveries per second: every measured delivery over the time from the first measured send to the last
      // receipt, so a backlog the worker drains after the senders stopped counts against it.
      const spanS = Math.max(0.001, (current.lastReceipt - counters.firstSend) / 1000);
      return {
        perSecond: current.received / spanS,
        sent: counters.sent,
        failed: counters.failed,
        expected,
        received: current.received,
        duplicates: current.duplicates,
        delay: summarize(current.delayMs),
        answer: summarize(counters.answerMs),
        serverCpuMsPerDelivery: round(serverCpuMs / Math.max(1, current.received), 3),
      };
    };
    await runPhase('paced', WARMUP_S, false);
    const paced = (await runPhase('paced', DURATION_S, true))!;
    const max = (await runPhase('max', DURATION_S, true))!;
    return { paced, max, sendCpuMsPerMessage };
  } finally {
    receiver.onWebhook = undefined;
    await stack.close();
  }
}
