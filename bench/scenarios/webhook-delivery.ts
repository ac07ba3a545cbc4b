/**
 * Webhook deliveries per second and commit → receipt delay (checklist F-13 context, SPEC §9): the real server in
 * its own process (every role, so its worker relays the outbox and delivers), ENDPOINTS webhook endpoints of one
 * workspace pointed at a plain HTTP receiver in this process, SENDERS closed-loop clients posting messages through
 * the consumer API. Each message.created fans out to every endpoint; the clock of a delivery runs from the start of
 * the POST that committed the message to the receiver reading the webhook (the commit lies between the start and
 * the 201, so this is commit → receipt plus at most the send's own answer time, reported beside it).
 * Baselines (same run, same machine): the receiver's raw request rate under autocannon (what it could take if the
 * worker were free), and the send's 201 answer time.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import { startBenchStack } from '../lib/bench-stack.ts';
import { ratioOf, type BenchRow } from '../lib/report.ts';
import { round, sleep, summarize } from '../lib/stats.ts';

const ENDPOINTS = 4;
const SENDERS = 8;
const WARMUP_S = 2;
const DURATION_S = 10;
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
  return startBenchStack(kind, serverUrl, SENDERS, { WEBHOOKS_ALLOW_PRIVATE: 'true' });
}

export async function benchWebhookDelivery(postgresUrl: string | undefined): Promise<BenchRow[]> {
  const receiver = await startReceiver();
  try {
    // Baseline: how many plain POSTs the receiver itself answers per second (what delivery could at most reach).
    const raw = await autocannon({
      url: `${receiver.url}/raw`,
      connections: ENDPOINTS * 2,
      duration: 5,
      requests: [{ method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"type":"baseline"}' }],
    });
    const rawPerSecond = raw['2xx'] / 5;
    const rows: BenchRow[] = [];
    for (const kind of ['pglite', 'postgres'] as const) {
      const label = kind === 'pglite' ? 'PGlite' : 'PostgreSQL';
      const scenario = `webhook deliveries (${label})`;
      if (kind === 'postgres' && !postgresUrl) {
        rows.push({ scenario, metric: 'deliveries/s', value: null, unit: '/s', note: 'not available: no PostgreSQL' });
        continue;
      }
      const r = await measure(kind, postgresUrl, receiver);
      const note = `${SENDERS} senders, ${ENDPOINTS} endpoints per event; ${r.sent} messages, ${r.expected} deliveries expected, ${r.received} received, ${r.duplicates} duplicates, ${r.failed} failed sends`;
      rows.push(
        {
          scenario,
          metric: 'deliveries/s',
          value: round(r.perSecond, 0),
          unit: '/s',
          baseline: { label: 'receiver raw POSTs/s (autocannon)', value: round(rawPerSecond, 0), unit: '/s' },
          ratio: ratioOf(round(r.perSecond, 0), round(rawPerSecond, 0)),
          note,
          detail: { ...r },
        },
        { scenario, metric: 'commit → receipt p50', value: r.delay.p50Ms, unit: 'ms', baseline: { label: 'send answered (201) p50', value: r.answer.p50Ms, unit: 'ms' }, ratio: ratioOf(r.delay.p50Ms, r.answer.p50Ms) },
        { scenario, metric: 'commit → receipt p99', value: r.delay.p99Ms, unit: 'ms', baseline: { label: 'send answered (201) p99', value: r.answer.p99Ms, unit: 'ms' }, ratio: ratioOf(r.delay.p99Ms, r.answer.p99Ms) },
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
}

async function measure(kind: 'pglite' | 'postgres', postgresUrl: string | undefined, receiver: Receiver): Promise<Measured> {
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
    for (let i = 0; i < ENDPOINTS; i++) {
      const r = await post('/api/v1/webhooks', { url: `${receiver.url}/${kind}/e${i}`, events: ['message.created'] });
      if (r.status !== 201) throw new Error(`webhook endpoint: ${r.status} ${JSON.stringify(r.json)}`);
    }

    const startedAt = new Map<string, number>();
    const receivedKeys = new Set<string>();
    const pendingReceipts = new Map<string, number[]>();
    const measuredIds = new Set<string>();
    const delayMs: number[] = [];
    const answerMs: number[] = [];
    let duplicates = 0;
    let measuredReceived = 0;
    let measuring = false;
    let firstMeasured = Infinity;
    let lastMeasuredReceipt = 0;
    receiver.onWebhook = (messageId, urlPath) => {
      if (!urlPath.startsWith(`/${kind}/`)) return;
      const now = performance.now();
      const key = `${messageId} ${urlPath}`;
      if (receivedKeys.has(key)) {
        duplicates += 1;
        return;
      }
      receivedKeys.add(key);
      const t0 = startedAt.get(messageId);
      // A webhook may arrive before this process has read the 201 (and so the id): keep the receipt for later.
      if (t0 === undefined) pendingReceipts.set(messageId, [...(pendingReceipts.get(messageId) ?? []), now]);
      else record(messageId, t0, now);
    };
    function record(messageId: string, t0: number, at: number) {
      if (!measuredIds.has(messageId)) return;
      delayMs.push(at - t0);
      measuredReceived += 1;
      lastMeasuredReceipt = Math.max(lastMeasuredReceipt, at);
    }

    let sent = 0;
    let failed = 0;
    const runPhase = async (durationS: number) => {
      const endAt = performance.now() + durationS * 1000;
      await Promise.all(
        stack.tenant.conversations.map(async (c) => {
          let n = 0;
          while (performance.now() < endAt) {
            const t0 = performance.now();
            const r = await post(`/api/v1/conversations/${c.id}/messages`, { sender_external_id: c.externalId, content: `bench webhook ${n++}` });
            if (r.status !== 201) {
              if (measuring) failed += 1;
              continue;
            }
            const id = r.json.id as string;
            startedAt.set(id, t0);
            if (measuring) {
              sent += 1;
              measuredIds.add(id);
              firstMeasured = Math.min(firstMeasured, t0);
              answerMs.push(performance.now() - t0);
            }
            for (const at of pendingReceipts.get(id) ?? []) record(id, t0, at);
            pendingReceipts.delete(id);
          }
        }),
      );
    };
    await runPhase(WARMUP_S);
    measuring = true;
    await runPhase(DURATION_S);
    measuring = false;
    const expected = sent * ENDPOINTS;
    const drainUntil = performance.now() + DRAIN_MS;
    while (measuredReceived < expected && performance.now() < drainUntil) await sleep(50);
    // Deliveries per second: every measured delivery over the time from the first measured send to the last receipt,
    // so a backlog the worker drains after the senders stopped counts against it.
    const spanS = Math.max(0.001, (lastMeasuredReceipt - firstMeasured) / 1000);
    return {
      perSecond: measuredReceived / spanS,
      sent,
      failed,
      expected,
      received: measuredReceived,
      duplicates,
      delay: summarize(delayMs),
      answer: summarize(answerMs),
    };
  } finally {
    receiver.onWebhook = undefined;
    await stack.close();
  }
}
