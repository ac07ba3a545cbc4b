import type { ServerResponse } from 'node:http';
import { eq, isNull } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  countPendingOutbox,
  createWebhookEndpoint,
  enqueueOutbox,
  fanOutWebhookEvent,
  OUTBOX_TOPICS,
  purgeDispatchedOutbox,
  purgeWebhookDeliveries,
  recordDomainEventInOutbox,
  relayOutbox,
  toWebhookEvent,
  type DomainEvent,
} from '@reusable-chat/core';
import { createDatabase, schema, type DatabaseHandle } from '@reusable-chat/db';
import { BullmqJobQueue, MemoryJobQueue } from '@reusable-chat/drivers';
import { backends, createTenant, startStack, TEST_DATABASE_URL, TEST_REDIS_URL, type Tenant, type TestStack } from '@reusable-chat/testing';
import { deleteRedisPrefix } from '../conformance/support.ts';
import { composeDeps } from '../../apps/server/src/compose.ts';
import { createRedisConnection } from '../../apps/server/src/redis-connection.ts';
import { startWorker, type RunningWorker } from '../../apps/server/src/worker/index.ts';
import { startReceiver, waitFor, type Receiver } from './receiver.ts';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const TEST_POLICY = { retryScheduleMs: [40, 40, 40, 40], leaseMs: 3_000, requestTimeoutMs: 2_000 };
const BULL_PER_TENANT = 3;

const userBanned = (workspaceId: string): DomainEvent => ({
  type: 'user.banned',
  workspaceId,
  chatUserId: uuidv7(),
  ban: { id: uuidv7(), reason: 'outbox test' },
});

describe.each(backends)('transactional outbox and relay (%s)', (backend) => {
  let stack: TestStack;
  let tenant: Tenant;
  beforeAll(async () => {
    stack = await startStack({ backend });
    tenant = await createTenant(stack.db);
  });
  afterAll(async () => {
    await stack?.close();
  });

  const pendingIds = async () =>
    (await stack.db.select({ id: schema.outbox.id }).from(schema.outbox).where(isNull(schema.outbox.dispatchedAt))).map((r) => r.id);

  it('commits and rolls back with the use-case transaction', async () => {
    const before = await pendingIds();
    await expect(
      stack.db.transaction(async (tx) => {
        await recordDomainEventInOutbox(tx, userBanned(tenant.workspaceId));
        throw new Error('use-case failed after writing');
      }),
    ).rejects.toThrow('use-case failed');
    expect(await pendingIds()).toEqual(before);

    const id = await stack.db.transaction((tx) =>
      enqueueOutbox(tx, { workspaceId: tenant.workspaceId, topic: OUTBOX_TOPICS.webhookEvent, payload: { event: { marker: 'committed' } } }),
    );
    expect(await pendingIds()).toContain(id);
  });

  it('keeps rows pending while the queue is down and relays them once it is back (F-01, F-02)', async () => {
    // No worker runs in this stack: rows written by the after-commit listener stay put until a relay round.
    await stack.deps.events.emit(userBanned(tenant.workspaceId));
    const pending = await pendingIds();
    expect(pending.length).toBeGreaterThan(0);

    // A queue that refuses work: a closed in-process queue, and BullMQ against a Redis port nobody listens on.
    const closed = new MemoryJobQueue();
    await closed.close();
    const downQueues = [closed];
    const deadRedis = createRedisConnection('redis://127.0.0.1:1', 'outbox-test-dead');
    deadRedis.on('error', () => undefined);
    const bullDown = new BullmqJobQueue({ connection: deadRedis, prefix: `rc-test-dead-${process.pid}:` });
    downQueues.push(bullDown as unknown as MemoryJobQueue);
    for (const queue of downQueues) {
      const result = await relayOutbox({ db: stack.db, queue });
      expect(result).toEqual({ dispatched: 0, queueFailed: true });
      expect(await pendingIds()).toEqual(pending);
    }
    await bullDown.close().catch(() => undefined);
    deadRedis.disconnect();
    const [first] = await stack.db.select().from(schema.outbox).where(eq(schema.outbox.id, pending[0]!));
    expect(first!.attempts).toBe(2);

    const live = new MemoryJobQueue();
    const seen: string[] = [];
    live.process(OUTBOX_TOPICS.webhookEvent, async (_payload, meta) => {
      seen.push(meta.jobId);
    });
    const relayed = await relayOutbox({ db: stack.db, queue: live });
    expect(relayed.queueFailed).toBe(false);
    expect(relayed.dispatched).toBe(pending.length);
    expect(await countPendingOutbox(stack.db)).toBe(0);
    await waitFor(() => seen.length === pending.length);
    expect(seen.sort()).toEqual(pending.map((id) => `outbox:${id}`).sort());
    await live.close();
  });

  it('writes message.created into the outbox inside the send transaction, exactly once (issue 6)', async () => {
    const post = (url: string, body: unknown) =>
      stack.app.inject({ method: 'POST', url, headers: { 'x-api-key': tenant.apiKey }, payload: body as Record<string, unknown> });
    // An enabled endpoint: the send path may skip the outbox row for workspaces that have none.
    await createWebhookEndpoint({ db: stack.db, workspaceId: tenant.workspaceId, url: 'https://hooks.example.test/outbox', events: ['message.created'] });
    expect((await post('/api/v1/users', { external_id: 'outbox-sender', name: 'Sender' })).statusCode).toBe(201);
    const conversation = await post('/api/v1/conversations', { widget: 'support', participants: [{ external_id: 'outbox-sender', role: 'customer' }] });
    expect(conversation.statusCode).toBe(201);
    const sent = await post(`/api/v1/conversations/${conversation.json().id}/messages`, { sender_external_id: 'outbox-sender', content: 'hello outbox', client_id: 'ob-1' });
    expect(sent.statusCode).toBe(201);
    // A retried send (same client_id) stores nothing new and must not add a second outbox row.
    expect((await post(`/api/v1/conversations/${conversation.json().id}/messages`, { sender_external_id: 'outbox-sender', content: 'hello outbox', client_id: 'ob-1' })).statusCode).toBe(200);

    const rows = await stack.db.select({ payload: schema.outbox.payload }).from(schema.outbox).where(eq(schema.outbox.workspaceId, tenant.workspaceId));
    const forMessage = rows.filter((r) => {
      const event = r.payload.event as { type?: string; data?: { message?: { id?: string } } } | undefined;
      return event?.type === 'message.created' && event.data?.message?.id === sent.json().id;
    });
    expect(forMessage).toHaveLength(1);
  });

  it('never hands one row to two concurrent relays (FOR UPDATE SKIP LOCKED)', async () => {
    // Rows earlier tests left pending are relayed too; count them so the assertion stays exact.
    const pendingBefore = (await pendingIds()).length;
    for (let i = 0; i < 40; i++) {
      await enqueueOutbox(stack.db, { workspaceId: tenant.workspaceId, topic: OUTBOX_TOPICS.webhookEvent, payload: { event: { n: i } } });
    }
    const jobs: string[] = [];
    const queues = [new MemoryJobQueue(), new MemoryJobQueue()];
    for (const q of queues) {
      q.process(OUTBOX_TOPICS.webhookEvent, async (_p, meta) => {
        jobs.push(meta.jobId);
      });
    }
    const results = await Promise.all([
      relayOutbox({ db: stack.db, queue: queues[0]!, limit: 25 }),
      relayOutbox({ db: stack.db, queue: queues[1]!, limit: 25 }),
      relayOutbox({ db: stack.db, queue: queues[0]!, limit: 25 }),
    ]);
    const total = pendingBefore + 40;
    expect(results.reduce((n, r) => n + r.dispatched, 0)).toBe(total);
    await waitFor(() => jobs.length === total);
    expect(new Set(jobs).size).toBe(total);
    await Promise.all(queues.map((q) => q.close()));
  });
});

describe.each(backends)('retention of outbox and delivery history (%s)', (backend) => {
  let stack: TestStack;
  let tenant: Tenant;
  beforeAll(async () => {
    stack = await startStack({ backend });
    tenant = await createTenant(stack.db);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('deletes old dispatched outbox rows and finished deliveries, never pending work', async () => {
    const old = new Date(Date.now() - 40 * 24 * 3_600_000);
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(await enqueueOutbox(stack.db, { workspaceId: tenant.workspaceId, topic: OUTBOX_TOPICS.webhookEvent, payload: { n: i } }));
    }
    await stack.db.update(schema.outbox).set({ dispatchedAt: old }).where(eq(schema.outbox.id, ids[0]!));
    await stack.db.update(schema.outbox).set({ dispatchedAt: new Date() }).where(eq(schema.outbox.id, ids[1]!));
    expect(await purgeDispatchedOutbox({ db: stack.db, olderThan: new Date(Date.now() - 3_600_000) })).toBe(1);
    const left = (await stack.db.select({ id: schema.outbox.id }).from(schema.outbox)).map((r) => r.id);
    expect(left).not.toContain(ids[0]);
    expect(left).toEqual(expect.arrayContaining([ids[1], ids[2]]));

    const { endpoint } = await createWebhookEndpoint({ db: stack.db, workspaceId: tenant.workspaceId, url: 'https://example.com/h', events: ['user.banned'] });
    const rows = [];
    for (const status of ['succeeded', 'dead', 'failed', 'pending'] as const) {
      const event = toWebhookEvent(userBanned(tenant.workspaceId), new Date())!;
      const [row] = await fanOutWebhookEvent({ db: stack.db, workspaceId: tenant.workspaceId, event });
      await stack.db.update(schema.webhookDeliveries).set({ status, createdAt: old }).where(eq(schema.webhookDeliveries.id, row!.id));
      rows.push({ id: row!.id, status });
    }
    expect(await purgeWebhookDeliveries({ db: stack.db, olderThan: new Date(Date.now() - 3_600_000) })).toBe(2);
    const kept = await stack.db.select().from(schema.webhookDeliveries).where(eq(schema.webhookDeliveries.endpointId, endpoint.id));
    expect(kept.map((r) => r.status).sort()).toEqual(['failed', 'pending']);
  });
});

describe.each(backends)('nothing lost when the worker process dies (%s)', (backend) => {
  let stack: TestStack;
  let receiver: Receiver;
  let tenant: Tenant;
  beforeAll(async () => {
    receiver = await startReceiver();
    stack = await startStack({ backend, env: { WEBHOOKS_ALLOW_PRIVATE: 'true' } });
    tenant = await createTenant(stack.db);
  });
  afterAll(async () => {
    await stack?.close();
    await receiver?.close();
  });

  it('delivers events recorded while no worker ran, and deliveries whose jobs died with a process', async () => {
    const { endpoint, secret } = await createWebhookEndpoint({
      db: stack.db,
      workspaceId: tenant.workspaceId,
      url: `${receiver.baseUrl}/restart`,
      events: ['user.banned'],
    });
    // 1. Events committed while no worker is running: only outbox rows exist.
    await stack.deps.events.emit(userBanned(tenant.workspaceId));
    // 2. A delivery that an earlier worker created and then died before sending (its in-memory job is gone).
    const orphan = toWebhookEvent(userBanned(tenant.workspaceId), new Date())!;
    const [row] = await fanOutWebhookEvent({ db: stack.db, workspaceId: tenant.workspaceId, event: orphan, now: new Date(Date.now() - 120_000) });
    expect(row).toBeDefined();
    expect(receiver.received('/restart')).toHaveLength(0);

    // A new worker process starts: the relay drains the outbox, the sweep finds the orphaned delivery.
    const worker: RunningWorker = await startWorker(stack.deps, {
      logger: silent,
      webhookPolicy: TEST_POLICY,
      relayIntervalMs: 50,
      sweepIntervalMs: 100,
      sweepGraceMs: 1_000,
    });
    try {
      await waitFor(() => receiver.received('/restart').length === 2);
      const ids = receiver.received('/restart').map((r) => r.headers['webhook-id']);
      expect(ids).toContain(orphan.id);
      for (const r of receiver.received('/restart')) expect(() => new Webhook(secret).verify(r.body, r.headers)).not.toThrow();
      // The receiver answers before the worker records the outcome: wait for the log rather than race it.
      const rows = await waitFor(async () => {
        const all = await stack.db.select().from(schema.webhookDeliveries).where(eq(schema.webhookDeliveries.endpointId, endpoint.id));
        return all.every((r) => r.status === 'succeeded') && all;
      });
      expect(rows).toHaveLength(2);
    } finally {
      await worker.stop();
    }
  });
});

/** The production queue: BullMQ on the test Redis, the same flow end to end (runs when TEST_REDIS_URL is set). */
describe.each(TEST_REDIS_URL ? backends : [])('webhooks over BullMQ (%s)', (backend) => {
  const redisPrefix = `rc-test-${process.pid}-${backend}-${Date.now()}:`;
  let stack: TestStack;
  let receiver: Receiver;
  let worker: RunningWorker;
  let tenant: Tenant;
  beforeAll(async () => {
    receiver = await startReceiver();
    stack = await startStack({
      backend,
      env: { WEBHOOKS_ALLOW_PRIVATE: 'true', REDIS_URL: TEST_REDIS_URL!, REDIS_PREFIX: redisPrefix },
    });
    worker = await startWorker(stack.deps, {
      logger: silent,
      webhookPolicy: TEST_POLICY,
      relayIntervalMs: 50,
      sweepIntervalMs: 200,
      sweepGraceMs: 1_000,
      concurrency: { deliver: 8 },
      perTenantDeliveryConcurrency: BULL_PER_TENANT,
    });
    tenant = await createTenant(stack.db);
  });
  afterAll(async () => {
    await worker?.stop();
    await stack?.close();
    await (stack?.deps as { dispose?: () => Promise<void> } | undefined)?.dispose?.();
    await receiver?.close();
    // BullMQ's keys have no expiry: a run that left them would grow the shared Redis by every run.
    await deleteRedisPrefix(redisPrefix);
  });

  it('retries a failing receiver with the same webhook-id and delivers once, signed', async () => {
    receiver.on('/bull', (_req, res, nth) => res.writeHead(nth <= 3 ? 500 : 200).end());
    const { endpoint, secret } = await createWebhookEndpoint({
      db: stack.db,
      workspaceId: tenant.workspaceId,
      url: `${receiver.baseUrl}/bull`,
      events: ['user.banned'],
    });
    await stack.deps.events.emit(userBanned(tenant.workspaceId));
    await waitFor(async () => {
      const [row] = await stack.db.select().from(schema.webhookDeliveries).where(eq(schema.webhookDeliveries.endpointId, endpoint.id));
      return row?.status === 'succeeded';
    }, 20_000);
    const requests = receiver.received('/bull');
    expect(requests).toHaveLength(4);
    expect(new Set(requests.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect(() => new Webhook(secret).verify(requests[3]!.body, requests[3]!.headers)).not.toThrow();
  });

  it('parks BullMQ deliver jobs over the tenant limit until a slot frees, without re-enqueueing them', async () => {
    const EVENTS = 12;
    const held: ServerResponse[] = [];
    let holding = true;
    receiver.on('/bull-flood', (_req, res) => (holding ? held.push(res) : res.writeHead(200).end()));
    const own = await createTenant(stack.db);
    await createWebhookEndpoint({ db: stack.db, workspaceId: own.workspaceId, url: `${receiver.baseUrl}/bull-flood`, events: ['user.banned'] });
    const enqueue = vi.spyOn(stack.deps.queue, 'enqueue');
    // The sweep may add one job for a delivery that waited longer than sweepGraceMs (a stable id per row state and
    // hour, not a loop): only the other deliver enqueues are counted.
    const deliverEnqueues = () => enqueue.mock.calls.filter(([name, , options]) => name === 'webhooks.deliver' && !options?.jobId?.includes(':sweep:')).length;
    try {
      for (let i = 0; i < EVENTS; i++) await stack.deps.events.emit(userBanned(own.workspaceId));
      await waitFor(() => held.length === BULL_PER_TENANT && worker.webhookSlots().waiting === EVENTS - BULL_PER_TENANT, 20_000);
      // Every deliver job ran and ended: nothing is left in Redis while the deliveries wait for a slot.
      expect(await stack.deps.queue.depth()).toBe(0);
      holding = false;
      for (const res of held) res.writeHead(200).end();
      await waitFor(() => receiver.received('/bull-flood').length === EVENTS, 20_000);
      await waitFor(() => worker.webhookSlots().inFlight === 0, 10_000);
      expect(new Set(receiver.received('/bull-flood').map((r) => r.headers['webhook-id'])).size).toBe(EVENTS);
      expect(deliverEnqueues()).toBe(EVENTS - BULL_PER_TENANT);
    } finally {
      enqueue.mockRestore();
    }
  });
});

/**
 * A worker in its own process (here: its own drivers and database connection pool on the same PostgreSQL) hears
 * about rows other processes commit through LISTEN/NOTIFY, not its poll: the poll is set to ten minutes, so only
 * the notification can make the delivery arrive.
 */
describe.each(TEST_DATABASE_URL ? (['postgres'] as const) : [])('outbox NOTIFY wakes a worker in another process (%s)', (backend) => {
  let stack: TestStack;
  let receiver: Receiver;
  let tenant: Tenant;
  let workerDeps: Awaited<ReturnType<typeof composeDeps>>;
  let workerDb: DatabaseHandle;
  let worker: RunningWorker;
  beforeAll(async () => {
    receiver = await startReceiver();
    stack = await startStack({ backend, env: { WEBHOOKS_ALLOW_PRIVATE: 'true' } });
    tenant = await createTenant(stack.db);
    workerDb = await createDatabase({ kind: 'postgres', url: stack.testDb.url! });
    workerDeps = await composeDeps({ config: stack.deps.config, database: workerDb, roles: ['worker'] });
    worker = await startWorker(workerDeps, { logger: silent, webhookPolicy: TEST_POLICY, relayIntervalMs: 600_000, sweepIntervalMs: 600_000 });
  });
  afterAll(async () => {
    await worker?.stop();
    await workerDeps?.dispose();
    await workerDb?.close();
    await stack?.close();
    await receiver?.close();
  });

  it('relays a row committed by the API process at once, although its own poll is ten minutes away', async () => {
    await createWebhookEndpoint({ db: stack.db, workspaceId: tenant.workspaceId, url: `${receiver.baseUrl}/notified`, events: ['user.banned'] });
    // Let the worker's first (immediate) poll pass, so only a wake-up can relay what comes next.
    await new Promise((r) => setTimeout(r, 300));
    await stack.deps.events.emit(userBanned(tenant.workspaceId));
    await waitFor(() => receiver.received('/notified').length === 1, 10_000);
    // A rolled-back insert notifies nobody and leaves nothing (NOTIFY is delivered on commit only).
    await stack.db
      .transaction(async (tx) => {
        await enqueueOutbox(tx, { workspaceId: tenant.workspaceId, topic: OUTBOX_TOPICS.webhookEvent, payload: { event: {} } });
        throw new Error('roll back');
      })
      .catch(() => undefined);
    expect(await countPendingOutbox(stack.db)).toBe(0);
  });
});
