import { and, eq, isNull, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '@reusable-chat/db';
import { backends, createTenant, startStack, type Tenant, type TestStack } from '@reusable-chat/testing';
import { startWorker, type RunningWorker } from '../../apps/server/src/worker/index.ts';
import { startPrivateRedis, type PrivateRedis } from './private-redis.ts';
import { startReceiver, waitFor, type Receiver } from './receiver.ts';
import { startSmtpSink, type SmtpSink } from './smtp-sink.ts';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const SENT_DURING_OUTAGE = 5;

/**
 * Redis outage (checklist F-01, F-02) with a private Redis (its own redis-server process on a free port) the test
 * SIGKILLs and restarts empty: while it is down the API still answers 201 and persists every message, the webhook
 * jobs wait in the Postgres outbox and the missed-message scan cannot enqueue; once it is back the outbox drains,
 * every endpoint receives every event exactly once, and the recipient gets the one grouped email (real SMTP).
 */
describe.each(backends)('Redis down while messages are sent (%s)', (backend) => {
  let redis: PrivateRedis;
  let stack: TestStack;
  let worker: RunningWorker;
  let receiver: Receiver;
  let tenant: Tenant;
  let smtp: SmtpSink;

  const call = (method: 'GET' | 'POST', url: string, body?: unknown) =>
    stack.app.inject({
      method,
      url,
      headers: { 'x-api-key': tenant.apiKey, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });

  beforeAll(async () => {
    redis = await startPrivateRedis();
    receiver = await startReceiver();
    smtp = await startSmtpSink();
    stack = await startStack({
      backend,
      env: { REDIS_URL: redis.url, REDIS_PREFIX: 'rc-outage:', WEBHOOKS_ALLOW_PRIVATE: 'true', SMTP_URL: smtp.url, MAIL_FROM: 'Chat <chat@example.test>' },
    });
    worker = await startWorker(stack.deps, {
      logger: silent,
      webhookPolicy: { retryScheduleMs: [100, 100, 100, 100, 100], leaseMs: 5_000, requestTimeoutMs: 5_000 },
      relayIntervalMs: 50,
      relayMaxBackoffMs: 500,
      sweepIntervalMs: 200,
      sweepGraceMs: 300,
      missedMessageScanIntervalMs: 200,
    });
    tenant = await createTenant(stack.db);
  }, 60_000);
  afterAll(async () => {
    await worker?.stop();
    await stack?.close();
    await receiver?.close();
    await redis?.stop();
    await stack?.deps.mailer.close();
    await smtp?.close();
  });

  it('answers 201 and persists while Redis is down; afterwards each endpoint gets every webhook exactly once and the missed email goes out once', async () => {
    for (const path of ['/e1', '/e2']) {
      const res = await call('POST', '/api/v1/webhooks', { url: `${receiver.baseUrl}${path}`, events: ['message.created'] });
      expect(res.statusCode, res.body).toBe(201);
    }
    await call('POST', '/api/v1/users', { external_id: 'amy', name: 'Amy' });
    await call('POST', '/api/v1/users', { external_id: 'bob', name: 'Bob', email: 'bob@example.test' });
    const conversationId = (await call('POST', '/api/v1/conversations', { participants: [{ external_id: 'amy' }, { external_id: 'bob' }] })).json()
      .id as string;
    const send = (content: string) => call('POST', `/api/v1/conversations/${conversationId}/messages`, { sender_external_id: 'amy', content });

    // The pipeline works with Redis up.
    expect((await send('before')).statusCode).toBe(201);
    await waitFor(() => receiver.received('/e1').length === 1 && receiver.received('/e2').length === 1, 20_000);

    await redis.stop();
    const duringIds: string[] = [];
    for (let i = 0; i < SENT_DURING_OUTAGE; i++) {
      const res = await send(`during ${i}`);
      expect(res.statusCode, res.body).toBe(201);
      duringIds.push(res.json().id as string);
    }
    const persisted = await stack.db.select({ id: schema.messages.id }).from(schema.messages).where(eq(schema.messages.conversationId, conversationId));
    expect(persisted.map((m) => m.id)).toEqual(expect.arrayContaining(duringIds));
    // Not lost, only waiting: the webhook jobs are pending outbox rows until the queue is reachable.
    const pending = await stack.db
      .select({ id: schema.outbox.id })
      .from(schema.outbox)
      .where(and(eq(schema.outbox.workspaceId, tenant.workspaceId), isNull(schema.outbox.dispatchedAt)));
    expect(pending.length).toBeGreaterThanOrEqual(SENT_DURING_OUTAGE);
    expect(receiver.received('/e1')).toHaveLength(1);
    // Bob has not read them for 20 minutes: the worker's scan finds his batch due but cannot enqueue the email job.
    await stack.db.update(schema.messages).set({ createdAt: sql`now() - interval '20 minutes'` }).where(eq(schema.messages.conversationId, conversationId));
    await stack.db.update(schema.conversations).set({ lastMessageAt: sql`now() - interval '20 minutes'` }).where(eq(schema.conversations.id, conversationId));
    await worker.scanMissedMessagesNow();
    expect(smtp.mails).toHaveLength(0);

    await redis.start();
    const total = SENT_DURING_OUTAGE + 1;
    await waitFor(() => receiver.received('/e1').length >= total && receiver.received('/e2').length >= total, 45_000);
    // Let the relay and the sweep go round once more: nothing may be sent a second time.
    await worker.relayNow();
    await worker.sweepNow();
    for (const path of ['/e1', '/e2']) {
      const requests = receiver.received(path);
      expect(requests).toHaveLength(total);
      const ids = new Set(requests.map((r) => r.headers['webhook-id']));
      expect(ids.size).toBe(total);
      const messageIds = new Set(requests.map((r) => (JSON.parse(r.body) as { data: { message: { id: string } } }).data.message.id));
      for (const id of duringIds) expect(messageIds.has(id), `${path} ${id}`).toBe(true);
    }
    // The scan's own loop (backing off while Redis was down) enqueues Bob's email once Redis is back: one grouped
    // email with every message he missed, those sent during the outage included.
    const bobs = await waitFor(() => {
      const mails = smtp.mails.filter((m) => m.to.includes('bob@example.test'));
      return mails.length > 0 && mails;
    }, 30_000);
    expect(bobs).toHaveLength(1);
    for (let i = 0; i < SENT_DURING_OUTAGE; i++) expect(bobs[0]!.raw).toContain(`during ${i}`);
    await worker.scanMissedMessagesNow();
    expect(smtp.mails.filter((m) => m.to.includes('bob@example.test'))).toHaveLength(1);
    const stillPending = await stack.db
      .select({ id: schema.outbox.id })
      .from(schema.outbox)
      .where(and(eq(schema.outbox.workspaceId, tenant.workspaceId), isNull(schema.outbox.dispatchedAt)));
    expect(stillPending).toHaveLength(0);
  }, 60_000);
});
