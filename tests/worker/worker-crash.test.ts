import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { eq } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import { uuidv7 } from 'uuidv7';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebhookEndpoint } from '@reusable-chat/core';
import { schema } from '@reusable-chat/db';
import { createTenant, startStack, TEST_DATABASE_URL, TEST_REDIS_URL, type Tenant, type TestStack } from '@reusable-chat/testing';
import { deleteRedisPrefix } from '../conformance/support.ts';
import { startReceiver, waitFor, type Receiver } from './receiver.ts';

const WORKER_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'worker-process.ts');
const APP_SECRET = 'test-app-secret-0123456789abcdefghijklmnopqrstuvwxyz';

/**
 * "Nothing lost when a process dies" (checklist F-10): a real worker process is SIGKILLed while its webhook
 * request is in flight; a second worker process finishes the delivery with the same webhook-id. Needs a database
 * and a queue shared between processes, so it runs on PostgreSQL + Redis (PGlite is single-process).
 */
/*
 * The rule these tests pin down (F-10), for webhooks: delivery is at-least-once, never zero. A worker killed
 * before the request leaves costs nothing (the claimed row's lease expires, the next worker sends it once). A worker
 * killed after the receiver answered but before the outcome was recorded makes exactly one duplicate, with the same
 * webhook-id, so receivers dedupe on it (Standard Webhooks); exactly-once over HTTP is impossible. The duplicate
 * window is the lease (WebhookDeliveryPolicy.leaseMs). The missed-message email follows the same rule (sent_at
 * recorded after the provider accepted, see missed-message-email.ts).
 */
describe.each(TEST_DATABASE_URL && TEST_REDIS_URL ? (['postgres'] as const) : [])('worker process killed mid-delivery (%s)', (backend) => {
  let stack: TestStack;
  let receiver: Receiver;
  let tenant: Tenant;
  let dataDir: string;
  const prefix = `rc-crash-${process.pid}-${Date.now()}:`;
  const children: ChildProcess[] = [];

  /** Resolves once the worker printed `marker` (default: ready); `env` adds e.g. RC_TEST_FAULT. */
  function spawnWorker(env: Record<string, string> = {}, marker = 'worker-ready'): Promise<ChildProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER_SCRIPT], {
      env: {
        ...process.env,
        NODE_ENV: 'test',
        LOG_LEVEL: 'silent',
        DATA_DIR: dataDir,
        APP_SECRET,
        DATABASE_URL: stack.testDb.url!,
        REDIS_URL: TEST_REDIS_URL!,
        REDIS_PREFIX: prefix,
        WEBHOOKS_ALLOW_PRIVATE: 'true',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    return new Promise((resolve, reject) => {
      let err = '';
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes(marker)) resolve(child);
      });
      child.on('exit', (code) => reject(new Error(`worker exited early (${code}): ${err.slice(0, 2000)}`)));
    });
  }

  const exited = (child: ChildProcess) => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'rc-crash-'));
    receiver = await startReceiver();
    stack = await startStack({ backend, env: { WEBHOOKS_ALLOW_PRIVATE: 'true', REDIS_URL: TEST_REDIS_URL!, REDIS_PREFIX: prefix } });
    tenant = await createTenant(stack.db);
  }, 60_000);
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(children.map(exited));
    await stack?.close();
    await (stack?.deps as { dispose?: () => Promise<void> } | undefined)?.dispose?.();
    await receiver?.close();
    rmSync(dataDir, { recursive: true, force: true });
    // BullMQ's keys have no expiry: a run that left them would grow the shared Redis by every run.
    await deleteRedisPrefix(prefix);
  });

  it('retries the attempt a killed worker left in flight, with the same webhook-id, and completes it once', async () => {
    const held: ServerResponse[] = [];
    receiver.on('/crash', (_req, res, nth) => (nth === 1 ? held.push(res) : res.writeHead(200).end()));
    const { endpoint, secret } = await createWebhookEndpoint({
      db: stack.db,
      workspaceId: tenant.workspaceId,
      url: `${receiver.baseUrl}/crash`,
      events: ['user.banned'],
    });

    const first = await spawnWorker();
    await stack.deps.events.emit({ type: 'user.banned', workspaceId: tenant.workspaceId, chatUserId: uuidv7(), ban: { id: uuidv7() } });
    await waitFor(() => held.length === 1, 20_000);
    first.kill('SIGKILL');
    await exited(first);
    const [inFlight] = await stack.db.select().from(schema.webhookDeliveries).where(eq(schema.webhookDeliveries.endpointId, endpoint.id));
    expect(inFlight).toMatchObject({ status: 'pending', attempts: 1 });

    const second = await spawnWorker();
    const done = await waitFor(async () => {
      const [row] = await stack.db.select().from(schema.webhookDeliveries).where(eq(schema.webhookDeliveries.endpointId, endpoint.id));
      return row?.status === 'succeeded' && row;
    }, 20_000);
    expect(done.attempts).toBe(2);
    const requests = receiver.received('/crash');
    expect(requests).toHaveLength(2);
    expect(requests[1]!.headers['webhook-id']).toBe(requests[0]!.headers['webhook-id']);
    for (const r of requests) expect(() => new Webhook(secret).verify(r.body, r.headers)).not.toThrow();

    second.kill('SIGTERM');
    await exited(second);
    expect(receiver.received('/crash')).toHaveLength(2);
  }, 60_000);

  async function bannedEndpoint(path: string) {
    const own = await createTenant(stack.db);
    const { endpoint } = await createWebhookEndpoint({ db: stack.db, workspaceId: own.workspaceId, url: `${receiver.baseUrl}${path}`, events: ['user.banned'] });
    return { own, endpoint };
  }
  const deliveryOf = async (endpointId: string) =>
    (await stack.db.select().from(schema.webhookDeliveries).where(eq(schema.webhookDeliveries.endpointId, endpointId)))[0];

  it('killed before the request left: the next worker sends it, and the receiver sees it exactly once', async () => {
    const { own, endpoint } = await bannedEndpoint('/before');
    const first = spawnWorker({ RC_TEST_FAULT: 'hang-before-send' }, 'fault-point before-send');
    // The event is recorded while the worker starts; it claims the delivery and stops right before sending.
    await new Promise((r) => setTimeout(r, 200));
    await stack.deps.events.emit({ type: 'user.banned', workspaceId: own.workspaceId, chatUserId: uuidv7(), ban: { id: uuidv7() } });
    const killed = await first;
    killed.kill('SIGKILL');
    await exited(killed);
    expect(await deliveryOf(endpoint.id)).toMatchObject({ status: 'pending', attempts: 1 });
    expect(receiver.received('/before')).toHaveLength(0);

    const second = await spawnWorker();
    await waitFor(async () => (await deliveryOf(endpoint.id))?.status === 'succeeded', 20_000);
    second.kill('SIGTERM');
    await exited(second);
    expect(receiver.received('/before')).toHaveLength(1);
  }, 60_000);

  it('killed after the receiver answered, before recording it: one duplicate with the same webhook-id, never more', async () => {
    const { own, endpoint } = await bannedEndpoint('/after');
    const first = spawnWorker({ RC_TEST_FAULT: 'hang-after-send' }, 'fault-point after-send');
    await new Promise((r) => setTimeout(r, 200));
    await stack.deps.events.emit({ type: 'user.banned', workspaceId: own.workspaceId, chatUserId: uuidv7(), ban: { id: uuidv7() } });
    const killed = await first;
    killed.kill('SIGKILL');
    await exited(killed);
    expect(receiver.received('/after')).toHaveLength(1);
    expect(await deliveryOf(endpoint.id)).toMatchObject({ status: 'pending', attempts: 1 });

    const second = await spawnWorker();
    const done = await waitFor(async () => {
      const row = await deliveryOf(endpoint.id);
      return row?.status === 'succeeded' && row;
    }, 20_000);
    expect(done.attempts).toBe(2);
    second.kill('SIGTERM');
    await exited(second);
    const requests = receiver.received('/after');
    expect(requests).toHaveLength(2);
    expect(requests[1]!.headers['webhook-id']).toBe(requests[0]!.headers['webhook-id']);
  }, 60_000);
});
