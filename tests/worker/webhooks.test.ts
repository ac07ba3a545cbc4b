import type { ServerResponse } from 'node:http';
import { and, eq } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import { uuidv7 } from 'uuidv7';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createWebhookEndpoint, DEFAULT_WEBHOOK_DELIVERY_POLICY, fanOutWebhookEvent, toWebhookEvent, type DomainEvent } from '@reusable-chat/core';
import { schema } from '@reusable-chat/db';
import { SafeHttpClient } from '@reusable-chat/drivers';
import { backends, createTenant, startStack, type Tenant, type TestStack } from '@reusable-chat/testing';
import { startWorker, type RunningWorker } from '../../apps/server/src/worker/index.ts';
import { runWebhookDeliverJob, runWebhookFanOutJob } from '../../apps/server/src/worker/webhook.jobs.ts';
import { startReceiver, waitFor, type Receiver } from './receiver.ts';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
/** Short back-off so "fails three times then succeeds" takes milliseconds (injectable schedule). */
const TEST_POLICY = { retryScheduleMs: [40, 40, 40, 40, 40], leaseMs: 20_000, requestTimeoutMs: 10_000, disableAfterFailures: 100 };
const DELIVER_SLOTS = 8;
const PER_TENANT = 3;

function messageCreated(workspaceId: string, content = 'hello'): DomainEvent & { type: 'message.created' } {
  const conversationId = uuidv7();
  return {
    type: 'message.created',
    workspaceId,
    conversationId,
    message: { id: uuidv7(), conversation_id: conversationId, seq: 1, content, sender: { type: 'system' } },
  };
}

describe('the default retry schedule', () => {
  it('retries with growing waits for up to 24 hours after the first attempt, then dead-letters', () => {
    const waits = DEFAULT_WEBHOOK_DELIVERY_POLICY.retryScheduleMs;
    for (let i = 1; i < waits.length; i++) expect(waits[i]!).toBeGreaterThanOrEqual(waits[i - 1]!);
    const total = waits.reduce((sum, w) => sum + w, 0);
    expect(total).toBeGreaterThan(23 * 3_600_000);
    expect(total).toBeLessThanOrEqual(24 * 3_600_000);
    expect(waits).toHaveLength(10); // 11 attempts
  });
});

describe.each(backends)('signed webhooks through the outbox and the worker (%s)', (backend) => {
  let stack: TestStack;
  let worker: RunningWorker;
  let receiver: Receiver;
  let a: Tenant;
  let b: Tenant;

  const api = (tenant: Tenant, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) =>
    stack.app.inject({
      method,
      url,
      headers: { 'x-api-key': tenant.apiKey, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
    });

  async function createEndpoint(tenant: Tenant, path: string, events: string[] = ['message.created']) {
    const res = await api(tenant, 'POST', '/api/v1/webhooks', { url: `${receiver.baseUrl}${path}`, events });
    expect(res.statusCode, res.body).toBe(201);
    return res.json() as { id: string; secret: string; url: string; events: string[] };
  }

  async function deliveriesOf(tenant: Tenant, endpointId: string) {
    const res = await api(tenant, 'GET', `/api/v1/webhooks/${endpointId}/deliveries`);
    expect(res.statusCode, res.body).toBe(200);
    return res.json().data as { id: string; event_id: string; status: string; attempts: number; response_status: number | null; latency_ms: number | null }[];
  }

  beforeAll(async () => {
    receiver = await startReceiver();
    stack = await startStack({ backend, env: { WEBHOOKS_ALLOW_PRIVATE: 'true' } });
    worker = await startWorker(stack.deps, {
      logger: silent,
      webhookPolicy: TEST_POLICY,
      relayIntervalMs: 50,
      sweepIntervalMs: 100,
      sweepGraceMs: 200,
      concurrency: { deliver: DELIVER_SLOTS },
      perTenantDeliveryConcurrency: PER_TENANT,
    });
    a = await createTenant(stack.db, { name: 'A' });
    b = await createTenant(stack.db, { name: 'B' });
  });
  afterAll(async () => {
    await worker?.stop();
    await stack?.close();
    await receiver?.close();
  });

  it('creates an endpoint (secret once), lists without secrets, validates input', async () => {
    const created = await createEndpoint(a, '/created', ['message.created', 'user.banned']);
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const list = await api(a, 'GET', '/api/v1/webhooks');
    expect(list.statusCode).toBe(200);
    expect(list.json().next_cursor).toBeNull();
    const listed = list.json().data.find((e: { id: string }) => e.id === created.id);
    expect(listed).toMatchObject({ url: `${receiver.baseUrl}/created`, events: ['message.created', 'user.banned'], enabled: true });
    expect(JSON.stringify(list.json())).not.toContain('whsec_');
    expect((await api(a, 'GET', `/api/v1/webhooks/${created.id}`)).json()).not.toHaveProperty('secret');

    expect((await api(a, 'POST', '/api/v1/webhooks', { url: `${receiver.baseUrl}/x`, events: ['nope'] })).statusCode).toBe(422);
    expect((await api(a, 'POST', '/api/v1/webhooks', { url: 'ftp://example.com/', events: ['message.created'] })).statusCode).toBe(422);
    expect(
      (await api(a, 'POST', '/api/v1/webhooks', { url: `${receiver.baseUrl}/x`, events: ['message.created'], workspace_id: b.workspaceId }))
        .statusCode,
    ).toBe(422);
    expect((await stack.app.inject({ method: 'GET', url: '/api/v1/webhooks' })).statusCode).toBe(401);
    expect((await api(a, 'DELETE', `/api/v1/webhooks/${created.id}`)).statusCode).toBe(204);
    expect((await api(a, 'GET', `/api/v1/webhooks/${created.id}`)).statusCode).toBe(404);
  });

  it('signs deliveries so the independent standardwebhooks library verifies them', async () => {
    const endpoint = await createEndpoint(a, '/signed');
    const event = messageCreated(a.workspaceId, 'signed body');
    await stack.deps.events.emit(event);
    const [req] = await waitFor(() => receiver.received('/signed').length > 0 && receiver.received('/signed'));
    const verified = new Webhook(endpoint.secret).verify(req!.body, req!.headers) as {
      type: string;
      timestamp: string;
      data: { conversation_id: string; message: { id: string; content: string } };
    };
    expect(verified.type).toBe('message.created');
    expect(verified.data.message).toMatchObject({ id: event.message.id, content: 'signed body' });
    expect(req!.headers['webhook-id']).toMatch(/^evt_[0-9a-f]{32}$/);
    expect(req!.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    // Another secret does not verify: the check above can fail.
    const other = await createEndpoint(b, '/unused');
    expect(() => new Webhook(other.secret).verify(req!.body, req!.headers)).toThrow();

    const log = await waitFor(async () => {
      const rows = await deliveriesOf(a, endpoint.id);
      return rows[0]?.status === 'succeeded' && rows;
    });
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ event_id: req!.headers['webhook-id'], attempts: 1, response_status: 200 });
    expect(log[0]!.latency_ms).toEqual(expect.any(Number));
  });

  it('retries a receiver that fails three times, with the same webhook-id, and delivers exactly once', async () => {
    receiver.on('/flaky', (_req, res, nth) => res.writeHead(nth <= 3 ? 503 : 204).end());
    const endpoint = await createEndpoint(a, '/flaky');
    await stack.deps.events.emit(messageCreated(a.workspaceId, 'flaky'));
    const log = await waitFor(async () => {
      const rows = await deliveriesOf(a, endpoint.id);
      return rows[0]?.status === 'succeeded' && rows;
    });
    const requests = receiver.received('/flaky');
    expect(requests).toHaveLength(4);
    expect(new Set(requests.map((r) => r.headers['webhook-id'])).size).toBe(1);
    for (const r of requests) expect(() => new Webhook(endpoint.secret).verify(r.body, r.headers)).not.toThrow();
    expect(log).toHaveLength(1);
    // The delivery log: status, attempt count, response code and latency of the last attempt.
    expect(log[0]).toMatchObject({ status: 'succeeded', attempts: 4, response_status: 204, event_id: requests[0]!.headers['webhook-id'] });
    expect(log[0]!.latency_ms).toEqual(expect.any(Number));
    // No fifth request turns up later (the sweep finds nothing due).
    await worker.sweepNow();
    expect(receiver.received('/flaky')).toHaveLength(4);
  });

  it('dead-letters after the attempt limit and replays on request with the same webhook-id', async () => {
    let healthy = false;
    receiver.on('/dead', (_req, res) => res.writeHead(healthy ? 200 : 500).end());
    const endpoint = await createEndpoint(a, '/dead');
    await stack.deps.events.emit(messageCreated(a.workspaceId, 'dead'));
    const [dead] = await waitFor(async () => {
      const rows = await deliveriesOf(a, endpoint.id);
      return rows[0]?.status === 'dead' && rows;
    });
    expect(dead).toMatchObject({ attempts: TEST_POLICY.retryScheduleMs.length + 1, response_status: 500 });
    expect(receiver.received('/dead')).toHaveLength(TEST_POLICY.retryScheduleMs.length + 1);

    healthy = true;
    const replay = await api(a, 'POST', `/api/v1/webhooks/${endpoint.id}/deliveries/${dead!.id}/replay`);
    expect(replay.statusCode, replay.body).toBe(202);
    await waitFor(async () => (await deliveriesOf(a, endpoint.id))[0]?.status === 'succeeded');
    const all = receiver.received('/dead');
    expect(all).toHaveLength(TEST_POLICY.retryScheduleMs.length + 2);
    expect(all.at(-1)!.headers['webhook-id']).toBe(dead!.event_id);
  });

  it('pages the delivery log with opaque cursors bound to the endpoint', async () => {
    const endpoint = await createEndpoint(a, '/paged', ['reaction.added']);
    const other = await createEndpoint(a, '/paged-other', ['reaction.removed']);
    for (let i = 0; i < 3; i++) {
      await stack.deps.events.emit({ type: 'reaction.added', workspaceId: a.workspaceId, conversationId: uuidv7(), reaction: { emoji: '👍', n: i } });
    }
    await waitFor(async () => (await deliveriesOf(a, endpoint.id)).filter((d) => d.status === 'succeeded').length === 3);
    const first = (await api(a, 'GET', `/api/v1/webhooks/${endpoint.id}/deliveries?limit=2`)).json();
    expect(first.data).toHaveLength(2);
    expect(first.next_cursor).toEqual(expect.any(String));
    const second = (await api(a, 'GET', `/api/v1/webhooks/${endpoint.id}/deliveries?limit=2&cursor=${encodeURIComponent(first.next_cursor)}`)).json();
    expect(second.data).toHaveLength(1);
    expect(second.next_cursor).toBeNull();
    const ids = [...first.data, ...second.data].map((d: { id: string }) => d.id);
    expect(new Set(ids).size).toBe(3);
    const foreign = await api(a, 'GET', `/api/v1/webhooks/${other.id}/deliveries?cursor=${encodeURIComponent(first.next_cursor)}`);
    expect(foreign.statusCode).toBe(400);
    expect(foreign.json().error.code).toBe('invalid_cursor');
  });

  it('keeps tenants apart: A’s events never reach B’s endpoints, B’s key cannot touch A’s webhooks (T-17)', async () => {
    const endpointA = await createEndpoint(a, '/tenant-a', ['user.banned']);
    const endpointB = await createEndpoint(b, '/tenant-b', ['user.banned']);
    await stack.deps.events.emit({ type: 'user.banned', workspaceId: a.workspaceId, chatUserId: uuidv7(), ban: { id: uuidv7(), reason: 'spam' } });
    await waitFor(async () => (await deliveriesOf(a, endpointA.id))[0]?.status === 'succeeded');
    await worker.relayNow();
    await worker.sweepNow();
    expect(receiver.received('/tenant-a')).toHaveLength(1);
    expect(receiver.received('/tenant-b')).toHaveLength(0);
    expect(await deliveriesOf(b, endpointB.id)).toHaveLength(0);
    const bRows = await stack.db.select().from(schema.webhookDeliveries).where(eq(schema.webhookDeliveries.workspaceId, b.workspaceId));
    expect(bRows.filter((r) => r.eventType === 'user.banned')).toHaveLength(0);

    const [deliveryA] = await deliveriesOf(a, endpointA.id);
    for (const [method, url, body] of [
      ['GET', `/api/v1/webhooks/${endpointA.id}`, undefined],
      ['PATCH', `/api/v1/webhooks/${endpointA.id}`, { enabled: false }],
      ['DELETE', `/api/v1/webhooks/${endpointA.id}`, undefined],
      ['POST', `/api/v1/webhooks/${endpointA.id}/rotate-secret`, {}],
      ['GET', `/api/v1/webhooks/${endpointA.id}/deliveries`, undefined],
      ['POST', `/api/v1/webhooks/${endpointA.id}/deliveries/${deliveryA!.id}/replay`, undefined],
      ['POST', `/api/v1/webhooks/${endpointB.id}/deliveries/${deliveryA!.id}/replay`, undefined],
    ] as const) {
      const res = await api(b, method, url, body);
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      expect(res.json().error.code).toBe('not_found');
    }
    expect((await api(b, 'GET', '/api/v1/webhooks')).json().data.map((e: { id: string }) => e.id)).not.toContain(endpointA.id);
    expect((await api(a, 'GET', `/api/v1/webhooks/${endpointA.id}`)).json().enabled).toBe(true);
  });

  it('rotates the secret: both signatures during the overlap, only the new one after an immediate rotation', async () => {
    const endpoint = await createEndpoint(a, '/rotate', ['user.created']);
    const rotated = await api(a, 'POST', `/api/v1/webhooks/${endpoint.id}/rotate-secret`, {});
    expect(rotated.statusCode, rotated.body).toBe(200);
    const newSecret = rotated.json().secret as string;
    expect(newSecret).not.toBe(endpoint.secret);
    expect(rotated.json().previous_secret_expires_at).toEqual(expect.any(String));

    await stack.deps.events.emit({ type: 'user.created', workspaceId: a.workspaceId, user: { id: uuidv7(), external_id: 'u1' } });
    const [first] = await waitFor(() => receiver.received('/rotate').length === 1 && receiver.received('/rotate'));
    expect(first!.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(() => new Webhook(newSecret).verify(first!.body, first!.headers)).not.toThrow();
    expect(() => new Webhook(endpoint.secret).verify(first!.body, first!.headers)).not.toThrow();

    const immediate = await api(a, 'POST', `/api/v1/webhooks/${endpoint.id}/rotate-secret`, { overlap_seconds: 0 });
    const latest = immediate.json().secret as string;
    await stack.deps.events.emit({ type: 'user.created', workspaceId: a.workspaceId, user: { id: uuidv7(), external_id: 'u2' } });
    const second = (await waitFor(() => receiver.received('/rotate').length === 2 && receiver.received('/rotate')))[1]!;
    expect(second.headers['webhook-signature']!.split(' ')).toHaveLength(1);
    expect(() => new Webhook(latest).verify(second.body, second.headers)).not.toThrow();
    expect(() => new Webhook(newSecret).verify(second.body, second.headers)).toThrow();
  });

  it('delivers message.created for a message sent through the consumer API (sendMessage → outbox → worker)', async () => {
    const endpoint = await createEndpoint(a, '/api-message', ['message.created']);
    for (const [externalId, name] of [
      ['wh-guest', 'Guest'],
      ['wh-host', 'Host'],
    ]) {
      expect([200, 201]).toContain((await api(a, 'POST', '/api/v1/users', { external_id: externalId, name })).statusCode);
    }
    const conv = await api(a, 'POST', '/api/v1/conversations', {
      participants: [
        { external_id: 'wh-guest', role: 'guest' },
        { external_id: 'wh-host', role: 'host' },
      ],
    });
    expect(conv.statusCode, conv.body).toBe(201);
    const sent = await api(a, 'POST', `/api/v1/conversations/${conv.json().id}/messages`, { sender_external_id: 'wh-guest', content: 'via the API' });
    expect(sent.statusCode, sent.body).toBe(201);
    const [req] = await waitFor(() => receiver.received('/api-message').length > 0 && receiver.received('/api-message'));
    const payload = new Webhook(endpoint.secret).verify(req!.body, req!.headers) as { type: string; data: { conversation_id: string; message: { id: string; seq: number; content: string } } };
    expect(payload.type).toBe('message.created');
    expect(payload.data.conversation_id).toBe(conv.json().id);
    expect(payload.data.message).toMatchObject({ id: sent.json().id, seq: 1, content: 'via the API' });
  });

  it('pings an endpoint on request and answers only status and latency, never the target’s body (O-05)', async () => {
    receiver.on('/ping', (_req, res) => res.writeHead(418, { 'content-type': 'text/plain', 'x-secret': 'internal' }).end('internal body'));
    const endpoint = await createEndpoint(a, '/ping');
    const res = await api(a, 'POST', `/api/v1/webhooks/${endpoint.id}/test`);
    expect(res.statusCode, res.body).toBe(200);
    expect(Object.keys(res.json()).sort()).toEqual(['error', 'latency_ms', 'ok', 'status']);
    expect(res.json()).toMatchObject({ ok: false, status: 418, error: 'http_418' });
    expect(res.body).not.toContain('internal');
    const [ping] = receiver.received('/ping');
    expect((new Webhook(endpoint.secret).verify(ping!.body, ping!.headers) as { type: string }).type).toBe('webhook.test');
    expect((await api(b, 'POST', `/api/v1/webhooks/${endpoint.id}/test`)).statusCode).toBe(404);
    expect((await api(a, 'GET', `/api/v1/webhooks/${endpoint.id}?workspace_id=${b.workspaceId}`)).statusCode).toBe(422);
  });

  it('keeps one tenant’s hanging endpoint from taking every delivery slot (F-13)', async () => {
    const held: ServerResponse[] = [];
    let holding = true;
    receiver.on('/hanging', (_req, res) => (holding ? held.push(res) : res.writeHead(200).end()));
    const hanging = await createEndpoint(a, '/hanging', ['participant.joined']);
    await createEndpoint(b, '/prompt', ['participant.joined']);
    const joined = (workspaceId: string): DomainEvent => ({
      type: 'participant.joined',
      workspaceId,
      conversationId: uuidv7(),
      participant: { id: uuidv7() },
    });
    for (let i = 0; i < 10; i++) await stack.deps.events.emit(joined(a.workspaceId));
    await waitFor(() => held.length === PER_TENANT);
    // A holds its share of the slots; B's delivery still goes out while all of A's requests hang.
    await stack.deps.events.emit(joined(b.workspaceId));
    await waitFor(() => receiver.received('/prompt').length === 1);
    expect(held).toHaveLength(PER_TENANT);
    expect(receiver.received('/hanging')).toHaveLength(PER_TENANT);

    holding = false;
    for (const res of held) res.writeHead(200).end();
    await waitFor(() => receiver.received('/hanging').length === 10);
    expect(new Set(receiver.received('/hanging').map((r) => r.headers['webhook-id'])).size).toBe(10);
    await waitFor(async () => {
      const rows = await stack.db.select().from(schema.webhookDeliveries).where(eq(schema.webhookDeliveries.endpointId, hanging.id));
      return rows.length === 10 && rows.every((r) => r.status === 'succeeded');
    });
  });

  it('parks deliveries over the tenant limit until a slot frees: no re-enqueue loop, everything delivered once', async () => {
    const EVENTS = 20;
    const held: ServerResponse[] = [];
    let holding = true;
    receiver.on('/flood', (_req, res) => (holding ? held.push(res) : res.writeHead(200).end()));
    await createEndpoint(a, '/flood', ['participant.left']);
    const enqueue = vi.spyOn(stack.deps.queue, 'enqueue');
    // The sweep may add one job for a delivery that waited longer than sweepGraceMs (a stable id per row state and
    // hour, not a loop): only the other deliver enqueues are counted.
    const deliverEnqueues = () => enqueue.mock.calls.filter(([name, , options]) => name === 'webhooks.deliver' && !options?.jobId?.includes(':sweep:')).length;
    try {
      for (let i = 0; i < EVENTS; i++) {
        await stack.deps.events.emit({ type: 'participant.left', workspaceId: a.workspaceId, conversationId: uuidv7(), participant: { id: uuidv7() } });
      }
      // PER_TENANT first attempts hang at the receiver; every other delivery got one deliver job, which found no
      // free slot and now waits in the workspace's list instead of in the queue (the old code re-enqueued each
      // every 100 ms, so nothing was ever "waiting" and this never became true).
      await waitFor(() => held.length === PER_TENANT && worker.webhookSlots().waiting === EVENTS - PER_TENANT, 15_000);
      expect(worker.webhookSlots()).toEqual({ waiting: EVENTS - PER_TENANT, inFlight: PER_TENANT });
      expect(deliverEnqueues()).toBe(EVENTS - PER_TENANT);
      expect(await stack.deps.queue.depth()).toBe(0);

      holding = false;
      for (const res of held) res.writeHead(200).end();
      await waitFor(async () => {
        const rows = await stack.db.select().from(schema.webhookDeliveries).where(eq(schema.webhookDeliveries.workspaceId, a.workspaceId));
        const flood = rows.filter((r) => r.eventType === 'participant.left');
        return flood.length === EVENTS && flood.every((r) => r.status === 'succeeded' && r.attempts === 1);
      }, 15_000);
      const requests = receiver.received('/flood');
      expect(requests).toHaveLength(EVENTS);
      expect(new Set(requests.map((r) => r.headers['webhook-id'])).size).toBe(EVENTS);
      // One deliver job per delivery that did not fit, none more: waiting cost no queue traffic at all.
      expect(deliverEnqueues()).toBe(EVENTS - PER_TENANT);
      expect(worker.webhookSlots()).toEqual({ waiting: 0, inFlight: 0 });
    } finally {
      enqueue.mockRestore();
    }
  });

  it('defers a busy delivery with exponential back-off when it cannot wait in the list', async () => {
    const enqueued: { payload: unknown; delayMs: number | undefined }[] = [];
    const queue = {
      enqueue: async (_name: string, payload: unknown, options?: { delayMs?: number }) => void enqueued.push({ payload, delayMs: options?.delayMs }),
      process: () => undefined,
      depth: async () => 0,
      close: async () => undefined,
    };
    const ctx = {
      db: stack.db,
      queue,
      http: new SafeHttpClient({ allowPrivate: true }),
      policy: TEST_POLICY,
      now: () => new Date(),
      log: silent,
      perTenantLimit: 1,
      tenantInFlight: new Map([[a.workspaceId, 1]]),
      // A full list: nothing more may wait.
      tenantWaiting: new Map([[a.workspaceId, new Map([['other', { deliveryId: 'other', workspaceId: a.workspaceId }]])]]),
      maxWaitingPerTenant: 1,
    };
    let job = { deliveryId: uuidv7(), workspaceId: a.workspaceId, deferrals: 0 };
    for (let i = 0; i < 3; i++) {
      await runWebhookDeliverJob(ctx, job);
      job = enqueued.at(-1)!.payload as typeof job;
    }
    expect(enqueued.map((e) => e.delayMs)).toEqual([250, 500, 1_000]);
    expect(job.deferrals).toBe(3);
    expect(ctx.tenantWaiting.get(a.workspaceId)!.size).toBe(1);
  });

  it('dead-letters a poison job after its attempts with an audit entry, while other deliveries keep flowing (F-12)', async () => {
    // A job whose handler throws every time (its id is not even a UUID, so the database refuses the query).
    await stack.deps.queue.enqueue('webhooks.deliver', { deliveryId: 'not-a-uuid', workspaceId: a.workspaceId }, { jobId: 'poison-1', attempts: 5 });
    await createEndpoint(b, '/flowing', ['user.updated']);
    await stack.deps.events.emit({ type: 'user.updated', workspaceId: b.workspaceId, user: { id: uuidv7(), updated_at: new Date().toISOString() } });
    await waitFor(() => receiver.received('/flowing').length === 1);
    const dead = await waitFor(async () => {
      const rows = await stack.db
        .select()
        .from(schema.auditLog)
        .where(and(eq(schema.auditLog.action, 'worker.job_dead_lettered'), eq(schema.auditLog.workspaceId, a.workspaceId)));
      const poison = rows.filter((r) => r.targetId === 'poison-1');
      return poison.length > 0 && poison;
    }, 20_000);
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ workspaceId: a.workspaceId, actorType: 'system', metadata: { job: 'webhooks.deliver' } });
  });

  it('runs job handlers idempotently: fan-out twice and deliver twice → one delivery, one request (F-11)', async () => {
    const endpoint = await createEndpoint(a, '/idempotent', ['report.created']);
    const domainEvent: DomainEvent = { type: 'report.created', workspaceId: a.workspaceId, report: { id: uuidv7(), reason: 'spam' } };
    const event = toWebhookEvent(domainEvent, new Date())!;
    const http = new SafeHttpClient({ allowPrivate: true });
    const ctx = {
      db: stack.db,
      queue: stack.deps.queue,
      http,
      policy: TEST_POLICY,
      now: () => new Date(),
      log: silent,
      perTenantLimit: PER_TENANT,
      tenantInFlight: new Map<string, number>(),
    };
    const job = { outboxId: 0, workspaceId: a.workspaceId, payload: { event: event as unknown as Record<string, unknown> } };
    await runWebhookFanOutJob(ctx, job);
    await runWebhookFanOutJob(ctx, job);
    const rows = await stack.db
      .select()
      .from(schema.webhookDeliveries)
      .where(and(eq(schema.webhookDeliveries.endpointId, endpoint.id), eq(schema.webhookDeliveries.eventId, event.id)));
    expect(rows).toHaveLength(1);
    // The same deliver job twice at once and once more afterwards (the worker's own copy may run too).
    const deliver = { deliveryId: rows[0]!.id, workspaceId: a.workspaceId };
    await Promise.all([runWebhookDeliverJob(ctx, deliver), runWebhookDeliverJob(ctx, deliver)]);
    await runWebhookDeliverJob(ctx, deliver);
    await waitFor(async () => (await deliveriesOf(a, endpoint.id))[0]?.status === 'succeeded');
    await worker.sweepNow();
    expect(receiver.received('/idempotent')).toHaveLength(1);
    // A second fan-out directly through core creates nothing new either.
    expect(await fanOutWebhookEvent({ db: stack.db, workspaceId: a.workspaceId, event })).toEqual([]);
  });

  it('auto-disables an endpoint after repeated failures and stops delivering to it', async () => {
    receiver.on('/always-down', (_req, res) => res.writeHead(500).end());
    const endpoint = await createEndpoint(a, '/always-down', ['conversation.created']);
    // Lower the threshold for this endpoint by starting it near the limit.
    await stack.db
      .update(schema.webhookEndpoints)
      .set({ consecutiveFailures: TEST_POLICY.disableAfterFailures - 2 })
      .where(eq(schema.webhookEndpoints.id, endpoint.id));
    await stack.deps.events.emit({ type: 'conversation.created', workspaceId: a.workspaceId, conversation: { id: uuidv7() }, participantUserIds: [] });
    const view = await waitFor(async () => {
      const res = (await api(a, 'GET', `/api/v1/webhooks/${endpoint.id}`)).json();
      return res.enabled === false && res;
    });
    expect(view.disabled_at).toEqual(expect.any(String));
    const [delivery] = await waitFor(async () => {
      const rows = await deliveriesOf(a, endpoint.id);
      return rows[0]?.status === 'dead' && rows;
    });
    expect(delivery!.attempts).toBe(2);
    const seen = receiver.received('/always-down').length;
    await stack.deps.events.emit({ type: 'conversation.created', workspaceId: a.workspaceId, conversation: { id: uuidv7() }, participantUserIds: [] });
    await worker.relayNow();
    await worker.sweepNow();
    expect(receiver.received('/always-down')).toHaveLength(seen);
    expect((await api(a, 'PATCH', `/api/v1/webhooks/${endpoint.id}`, { enabled: true })).json()).toMatchObject({
      enabled: true,
      consecutive_failures: 0,
    });
  });
});

describe.each(backends)('webhook targets on private addresses without WEBHOOKS_ALLOW_PRIVATE (%s)', (backend) => {
  let stack: TestStack;
  let worker: RunningWorker;
  let receiver: Receiver;
  let tenant: Tenant;
  beforeAll(async () => {
    receiver = await startReceiver();
    stack = await startStack({ backend }); // WEBHOOKS_ALLOW_PRIVATE defaults to false
    worker = await startWorker(stack.deps, { logger: silent, webhookPolicy: TEST_POLICY, relayIntervalMs: 50 });
    tenant = await createTenant(stack.db);
  });
  afterAll(async () => {
    await worker?.stop();
    await stack?.close();
    await receiver?.close();
  });

  it('refuses loopback, private, metadata and non-http URLs when the endpoint is saved (O-01, O-04)', async () => {
    for (const url of [
      `${receiver.baseUrl}/hook`,
      'http://169.254.169.254/latest/meta-data/',
      'http://10.0.0.1/',
      'http://[::1]/',
      'http://2130706433/',
      'http://localhost:3000/',
      'file:///etc/passwd',
    ]) {
      const res = await stack.app.inject({
        method: 'POST',
        url: '/api/v1/webhooks',
        headers: { 'x-api-key': tenant.apiKey, 'content-type': 'application/json' },
        payload: JSON.stringify({ url, events: ['message.created'] }),
      });
      expect(res.statusCode, url).toBe(422);
    }
  });

  it('refuses at delivery time an endpoint that points at loopback (stored earlier or resolved by DNS)', async () => {
    // Stored directly, as if saved while the development setting was on, or through a name that later resolves
    // to 127.0.0.1: the worker's client is the boundary, not the API's check.
    const { endpoint } = await createWebhookEndpoint({
      db: stack.db,
      workspaceId: tenant.workspaceId,
      url: `${receiver.baseUrl}/never`,
      events: ['message.created'],
    });
    await stack.deps.events.emit(messageCreated(tenant.workspaceId));
    const row = await waitFor(async () => {
      const [d] = await stack.db.select().from(schema.webhookDeliveries).where(eq(schema.webhookDeliveries.endpointId, endpoint.id));
      return d?.status === 'dead' && d;
    });
    expect(row.lastError).toBe('blocked_address');
    expect(row.attempts).toBe(1); // refused targets are not retried for 24 h
    expect(row.responseStatus).toBeNull();
    expect(receiver.received('/never')).toHaveLength(0);
  });
});

describe.each(backends)('graceful worker stop with deliveries in flight and waiting (%s)', (backend) => {
  let stack: TestStack;
  let receiver: Receiver;
  const workers: RunningWorker[] = [];
  const start = (sweepGraceMs: number) =>
    startWorker(stack.deps, {
      logger: silent,
      webhookPolicy: TEST_POLICY,
      relayIntervalMs: 50,
      sweepIntervalMs: 100,
      sweepGraceMs,
      concurrency: { deliver: 4 },
      perTenantDeliveryConcurrency: 1,
    }).then((w) => (workers.push(w), w));

  beforeAll(async () => {
    receiver = await startReceiver();
    stack = await startStack({ backend, env: { WEBHOOKS_ALLOW_PRIVATE: 'true' } });
  });
  afterAll(async () => {
    for (const w of workers) await w.stop();
    await stack?.close();
    await receiver?.close();
  });

  it('finishes the attempt in flight, starts no waiting one, and the next worker’s sweep sends those', async () => {
    const tenant = await createTenant(stack.db);
    const held: ServerResponse[] = [];
    receiver.on('/graceful', (_req, res, nth) => (nth === 1 ? held.push(res) : res.writeHead(200).end()));
    const { endpoint } = await createWebhookEndpoint({ db: stack.db, workspaceId: tenant.workspaceId, url: `${receiver.baseUrl}/graceful`, events: ['report.created'] });
    const first = await start(3_600_000);
    for (let i = 0; i < 3; i++) {
      await stack.deps.events.emit({ type: 'report.created', workspaceId: tenant.workspaceId, report: { id: uuidv7(), reason: 'spam' } });
    }
    await waitFor(() => held.length === 1 && first.webhookSlots().waiting === 2);
    let stopped = false;
    const stopping = first.stop().then(() => (stopped = true));
    await new Promise((r) => setImmediate(r));
    expect(stopped).toBe(false);
    expect(first.webhookSlots()).toEqual({ waiting: 0, inFlight: 1 });
    held[0]!.writeHead(200).end();
    await stopping;
    const rows = await stack.db.select().from(schema.webhookDeliveries).where(eq(schema.webhookDeliveries.endpointId, endpoint.id));
    expect(rows.map((r) => r.status).sort()).toEqual(['pending', 'pending', 'succeeded']);
    expect(rows.filter((r) => r.status === 'pending').every((r) => r.attempts === 0)).toBe(true);
    expect(receiver.received('/graceful')).toHaveLength(1);

    // Their rows stayed due: the next worker's sweep finds them.
    await start(0);
    await waitFor(() => receiver.received('/graceful').length === 3);
    expect(new Set(receiver.received('/graceful').map((r) => r.headers['webhook-id'])).size).toBe(3);
  });
});
