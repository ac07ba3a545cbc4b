import { and, eq, isNull } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '@reusable-chat/db';
import { backends, createTenant, startStack, type Tenant, type TestStack } from '@reusable-chat/testing';
import { startWorker, type RunningWorker } from '../../apps/server/src/worker/index.ts';
import { startPrivateRedis, type PrivateRedis } from './private-redis.ts';
import { startReceiver, waitFor, type Receiver } from './receiver.ts';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const SENT_DURING_OUTAGE = 5;

/**
 * Redis outage (checklist F-01, F-02) with a private Redis the test kills and restarts: while it is down the API
 * still answers 201 and persists every message, the webhook jobs wait in the Postgres outbox; once it is back
 * the outbox drains and every endpoint receives every event exactly once.
 */
describe.each(backends)('Redis down while messages are sent (%s)', (backend) => {
  let redis: PrivateRedis;
  let stack: TestStack;
  let worker: RunningWorker;
  let receiver: Receiver;
  let tenant: Tenant;

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
    stack = await startStack({ backend, env: { REDIS_URL: redis.url, REDIS_PREFIX: 'rc-outage:', WEBHOOKS_ALLOW_PRIVATE: 'true' } });
    worker = await startWorker(stack.deps, {
      logger: silent,
      webhookPolicy: { retryScheduleMs: [100, 100, 100, 100, 100], leaseMs: 5_000, requestTimeoutMs: 5_000 },
      relayIntervalMs: 50,
      relayMaxBackoffMs: 500,
      sweepIntervalMs: 200,
      sweepGraceMs: 300,
    });
    tenant = await createTenant(stack.db);
  }, 60_000);
  afterAll(async () => {
    await worker?.stop();
    await stack?.close();
    await receiver?.close();
    await redis?.stop();
  });

  it('answers 201 and persists while Redis is down; afterwards each endpoint gets every webhook exactly once', async () => {
    for (const path of ['/e1', '/e2']) {
      const res = await call('POST', '/api/v1/webhooks', { url: `${receiver.baseUrl}${path}`, events: ['message.created'] });
      expect(res.statusCode, res.body).toBe(201);
    }
    await call('POST', '/api/v1/users', { external_id: 'amy', name: 'Amy' });
    const conversationId = (await call('POST', '/api/v1/conversations', { participants: [{ external_id: 'amy' }] })).json().id as string;
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
    const stillPending = await stack.db
      .select({ id: schema.outbox.id })
      .from(schema.outbox)
      .where(and(eq(schema.outbox.workspaceId, tenant.workspaceId), isNull(schema.outbox.dispatchedAt)));
    expect(stillPending).toHaveLength(0);
  }, 60_000);
});
