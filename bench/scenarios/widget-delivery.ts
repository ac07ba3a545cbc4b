/**
 * Persisted messages per second through the widget API, with end-to-end send → deliver latency
 * (SPEC §9): senders POST /api/widget/conversations/{id}/messages with their session token; in every
 * conversation the other participant holds a Pusher WebSocket subscribed to `private-conversation.{id}`
 * (authorised through POST /api/widget/broadcasting/auth, as pusher-js does) and the clock stops when
 * `message.created` with the sender's client_id arrives there.
 * Baseline (same run, same requests): the HTTP answer time of the send itself — the ratio is what delivery
 * adds on top of "persisted and answered".
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { BENCH_PUSHER_APP, startBenchStack } from '../lib/bench-stack.ts';
import { liftMessageLimits } from './message-throughput.ts';
import { ratioOf, type BenchRow } from '../lib/report.ts';
import { round, sleep, summarize } from '../lib/stats.ts';

const CONVERSATIONS = 8;
/** The widget allows 120 sends per session per minute: senders rotate over several sessions so the limit never caps the run. */
const SESSIONS_PER_SENDER = 16;
const WARMUP_S = 2;
const DURATION_S = 10;
/** After the last send, deliveries still in flight get this long before they count as lost. */
const DRAIN_MS = 5_000;

export async function benchWidgetDelivery(postgresUrl: string | undefined): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const kind of ['pglite', 'postgres'] as const) {
    const label = kind === 'pglite' ? 'PGlite' : 'PostgreSQL';
    if (kind === 'postgres' && !postgresUrl) {
      rows.push({ scenario: `widget send → deliver (${label})`, metric: 'messages/s', value: null, unit: '/s', note: 'not available: no PostgreSQL' });
      continue;
    }
    const r = await measure(kind, postgresUrl);
    const common = `${CONVERSATIONS} senders → ${CONVERSATIONS} subscribed receivers; ${r.sent} sent, ${r.delivered} delivered, ${r.lost} lost, ${r.failed} failed sends`;
    rows.push(
      { scenario: `widget send → deliver (${label})`, metric: 'messages/s', value: round(r.perSecond, 0), unit: '/s', note: common, detail: { ...r } },
      { scenario: `widget send → deliver (${label})`, metric: 'deliver p50', value: r.deliver.p50Ms, unit: 'ms', baseline: { label: 'send answered (201) p50', value: r.answer.p50Ms, unit: 'ms' }, ratio: ratioOf(r.deliver.p50Ms, r.answer.p50Ms) },
      { scenario: `widget send → deliver (${label})`, metric: 'deliver p99', value: r.deliver.p99Ms, unit: 'ms', baseline: { label: 'send answered (201) p99', value: r.answer.p99Ms, unit: 'ms' }, ratio: ratioOf(r.deliver.p99Ms, r.answer.p99Ms) },
    );
  }
  return rows;
}

interface Measured {
  perSecond: number;
  sent: number;
  delivered: number;
  lost: number;
  failed: number;
  deliver: ReturnType<typeof summarize>;
  answer: ReturnType<typeof summarize>;
}

async function measure(kind: 'pglite' | 'postgres', postgresUrl: string | undefined): Promise<Measured> {
  // The default per-workspace limit (100 messages/s) would cap the run: lifted as in the posts scenario.
  const stack = await startBenchStack(kind, postgresUrl, CONVERSATIONS, {}, liftMessageLimits);
  const sockets: WebSocket[] = [];
  try {
    const base = stack.server.url;
    const api = async (pathName: string, body: unknown, auth: Record<string, string>) => {
      const res = await fetch(base + pathName, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify(body) });
      const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      return { status: res.status, json };
    };
    const session = async (externalId: string) => {
      const r = await api('/api/v1/sessions', { external_id: externalId }, { 'x-api-key': stack.tenant.apiKey });
      if (r.status !== 201) throw new Error(`session: ${r.status} ${JSON.stringify(r.json)}`);
      return r.json.token as string;
    };

    // Per send: when it started; filled by the HTTP answer and by the receiver's socket.
    const started = new Map<string, number>();
    const deliverMs: number[] = [];
    const answerMs: number[] = [];
    let measuring = false;
    const deliveredIds = new Set<string>();

    const wsUrl = base.replace(/^http/, 'ws') + `/app/${BENCH_PUSHER_APP.key}?protocol=7&client=bench&version=1`;
    for (const [i, conversation] of stack.tenant.conversations.entries()) {
      const receiverToken = await session(`bench-b-${i}`);
      const channel = `private-conversation.${conversation.id}`;
      const ws = new WebSocket(wsUrl);
      sockets.push(ws);
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('subscription timed out')), 15_000);
        ws.on('error', reject);
        ws.on('message', (raw) => {
          const frame = JSON.parse(String(raw)) as { event: string; data?: string; channel?: string };
          if (frame.event === 'pusher:connection_established') {
            const socketId = (JSON.parse(frame.data!) as { socket_id: string }).socket_id;
            void api('/api/widget/broadcasting/auth', { socket_id: socketId, channel_name: channel }, { authorization: `Bearer ${receiverToken}` }).then((r) => {
              if (r.status !== 200) return reject(new Error(`broadcasting auth: ${r.status} ${JSON.stringify(r.json)}`));
              ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel, auth: r.json.auth } }));
            }, reject);
          } else if (frame.event === 'pusher_internal:subscription_succeeded') {
            clearTimeout(timer);
            resolve();
          } else if (frame.event === 'message.created') {
            const message = (typeof frame.data === 'string' ? JSON.parse(frame.data) : frame.data) as { client_id?: string };
            const clientId = message.client_id;
            const t0 = clientId ? started.get(clientId) : undefined;
            if (clientId && t0 !== undefined && !deliveredIds.has(clientId)) {
              deliveredIds.add(clientId);
              if (measuring) deliverMs.push(performance.now() - t0);
            }
          } else if (frame.event === 'pusher:ping') {
            ws.send(JSON.stringify({ event: 'pusher:pong', data: {} }));
          }
        });
      });
    }

    const senders = await Promise.all(
      stack.tenant.conversations.map(async (c) => ({
        conversationId: c.id,
        tokens: await Promise.all(Array.from({ length: SESSIONS_PER_SENDER }, () => session(c.externalId))),
      })),
    );

    let sent = 0;
    let failed = 0;
    const measuredIds = new Set<string>();
    const runPhase = async (durationS: number) => {
      const endAt = performance.now() + durationS * 1000;
      await Promise.all(
        senders.map(async (sender) => {
          let n = 0;
          while (performance.now() < endAt) {
            const clientId = randomUUID();
            const token = sender.tokens[n++ % sender.tokens.length]!;
            const t0 = performance.now();
            started.set(clientId, t0);
            if (measuring) measuredIds.add(clientId);
            const r = await api(`/api/widget/conversations/${sender.conversationId}/messages`, { content: `bench ${clientId}`, client_id: clientId }, { authorization: `Bearer ${token}` });
            if (r.status === 201) {
              if (measuring) {
                sent += 1;
                answerMs.push(performance.now() - t0);
              }
            } else {
              if (measuring) failed += 1;
              if (failed === 1 && measuring) console.warn(`bench: widget send answered ${r.status}: ${JSON.stringify(r.json).slice(0, 200)}`);
              measuredIds.delete(clientId);
            }
          }
        }),
      );
    };
    await runPhase(WARMUP_S);
    measuring = true;
    const t0 = performance.now();
    await runPhase(DURATION_S);
    const elapsedS = (performance.now() - t0) / 1000;
    const drainUntil = Date.now() + DRAIN_MS;
    while (Date.now() < drainUntil && [...measuredIds].some((id) => !deliveredIds.has(id))) await sleep(50);
    measuring = false;
    const delivered = [...measuredIds].filter((id) => deliveredIds.has(id)).length;
    return {
      perSecond: sent / elapsedS,
      sent,
      delivered,
      lost: measuredIds.size - delivered,
      failed,
      deliver: summarize(deliverMs),
      answer: summarize(answerMs),
    };
  } finally {
    for (const ws of sockets) ws.terminate();
    await stack.close();
  }
}
