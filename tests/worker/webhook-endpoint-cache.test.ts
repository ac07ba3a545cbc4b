import { eq } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  rotateWebhookSecret,
  toWebhookEvent,
  updateWebhookEndpoint,
  WebhookEndpointCache,
  type DomainEvent,
} from '@reusable-chat/core';
import type { JobQueue, OutboundHttpClient } from '@reusable-chat/core/ports';
import { schema } from '@reusable-chat/db';
import { backends, createTenant, startStack, type Tenant, type TestStack } from '@reusable-chat/testing';
import { runWebhookFanOutJob, type WebhookJobContext } from '../../apps/server/src/worker/webhook.jobs.ts';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * The worker's per-workspace endpoint cache: one read of webhook_endpoints per workspace per TTL instead of one per
 * event; every endpoint write made in this process is seen at once, a write made by another process within the TTL.
 */
describe.each(backends)('webhook endpoint cache (%s)', (backend) => {
  let stack: TestStack;
  let a: Tenant;
  let b: Tenant;
  let clock = 0;

  beforeAll(async () => {
    stack = await startStack({ backend });
    a = await createTenant(stack.db);
    b = await createTenant(stack.db);
  });
  afterAll(async () => {
    await stack?.close();
  });

  const endpoint = (tenant: Tenant, host: string) =>
    createWebhookEndpoint({ db: stack.db, workspaceId: tenant.workspaceId, url: `https://${host}.example.test/hook`, events: ['report.created'] });

  it('reads once per TTL, sees this process’s writes at once and another process’s after the TTL, per workspace', async () => {
    const cache = new WebhookEndpointCache({ ttlMs: 1_000, now: () => clock });
    const first = await endpoint(a, 'a1');
    await endpoint(b, 'b1');
    const select = vi.spyOn(stack.db, 'select');
    try {
      const urls = async (t: Tenant) => (await cache.get(stack.db, t.workspaceId)).map((e) => e.url).sort();
      expect(await urls(a)).toEqual(['https://a1.example.test/hook']);
      await Promise.all([urls(a), urls(a), urls(a)]);
      expect(select).toHaveBeenCalledTimes(1);
      expect(await urls(b)).toEqual(['https://b1.example.test/hook']);
      expect(select).toHaveBeenCalledTimes(2);

      // Writes through the endpoint functions (this process): seen by the next read, before the TTL.
      await endpoint(a, 'a2');
      expect(await urls(a)).toEqual(['https://a1.example.test/hook', 'https://a2.example.test/hook']);
      await updateWebhookEndpoint({ db: stack.db, workspaceId: a.workspaceId, endpointId: first.endpoint.id, enabled: false });
      expect(await urls(a)).toEqual(['https://a2.example.test/hook']);
      await updateWebhookEndpoint({ db: stack.db, workspaceId: a.workspaceId, endpointId: first.endpoint.id, enabled: true });
      const { secret } = await rotateWebhookSecret({ db: stack.db, workspaceId: a.workspaceId, endpointId: first.endpoint.id, overlapS: 0 });
      expect((await cache.get(stack.db, a.workspaceId)).find((e) => e.id === first.endpoint.id)?.secret).toBe(secret);
      await deleteWebhookEndpoint({ db: stack.db, workspaceId: a.workspaceId, endpointId: first.endpoint.id });
      expect(await urls(a)).toEqual(['https://a2.example.test/hook']);
      // B's entry was never touched by A's writes.
      const reads = select.mock.calls.length;
      expect(await urls(b)).toEqual(['https://b1.example.test/hook']);
      expect(select).toHaveBeenCalledTimes(reads);

      // A write by another process (straight to the database here: no invalidation reaches this cache) is seen
      // once the entry is a TTL old.
      await stack.db.update(schema.webhookEndpoints).set({ url: 'https://moved.example.test/hook' }).where(eq(schema.webhookEndpoints.workspaceId, b.workspaceId));
      clock += 999;
      expect(await urls(b)).toEqual(['https://b1.example.test/hook']);
      clock += 1;
      expect(await urls(b)).toEqual(['https://moved.example.test/hook']);
    } finally {
      select.mockRestore();
    }
  });

  it('a fan-out with a cached endpoint another process deleted fails, and its retry reads the endpoints afresh', async () => {
    const own = await createTenant(stack.db);
    const keep = await endpoint(own, 'keep');
    const gone = await endpoint(own, 'gone');
    const cache = new WebhookEndpointCache({ ttlMs: 60_000 });
    const sent: string[] = [];
    const http: OutboundHttpClient = {
      post: async (request) => {
        sent.push(request.url);
        return { ok: true, status: 200, latencyMs: 1 };
      },
    };
    const queue: JobQueue = { enqueue: async () => undefined, process: () => undefined, depth: async () => 0, close: async () => undefined };
    const inlineAttempts = new Set<Promise<void>>();
    const ctx: WebhookJobContext = {
      db: stack.db,
      queue,
      http,
      policy: { retryScheduleMs: [10], leaseMs: 10_000, requestTimeoutMs: 1_000, disableAfterFailures: 100 },
      now: () => new Date(),
      log: silent,
      perTenantLimit: 10,
      tenantInFlight: new Map(),
      endpointCache: cache,
      inlineAttempts,
    };
    const job = () => {
      const event: DomainEvent = { type: 'report.created', workspaceId: own.workspaceId, report: { id: uuidv7(), reason: 'spam' } };
      return { outboxId: 0, workspaceId: own.workspaceId, payload: { event: toWebhookEvent(event, new Date()) as unknown as Record<string, unknown> } };
    };
    await runWebhookFanOutJob(ctx, job());
    await Promise.all([...inlineAttempts]);
    expect(sent.sort()).toEqual([keep.endpoint.url, gone.endpoint.url].sort());

    await stack.db.delete(schema.webhookEndpoints).where(eq(schema.webhookEndpoints.id, gone.endpoint.id));
    const next = job();
    await expect(runWebhookFanOutJob(ctx, next)).rejects.toThrow();
    expect(ctx.tenantInFlight.size).toBe(0);
    sent.length = 0;
    await runWebhookFanOutJob(ctx, next);
    await Promise.all([...inlineAttempts]);
    expect(sent).toEqual([keep.endpoint.url]);
  });
});
