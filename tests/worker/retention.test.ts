import { and, eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { purgeExpiredMessages } from '@reusable-chat/core';
import { schema } from '@reusable-chat/db';
import { backends, createTenant, startStack, type Tenant, type TestStack } from '@reusable-chat/testing';
import { startWorker, type RunningWorker } from '../../apps/server/src/worker/index.ts';
import { waitFor } from './receiver.ts';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const DAY = 86_400_000;

/**
 * Per-workspace retention (checklist G-07) and the orphan-upload GC (U-11) as scheduled worker jobs: messages older
 * than the workspace's `retention_days` go with their attachments' rows and objects; another workspace's old
 * messages, and the same workspace's recent ones, stay; an audit row carries the counts.
 */
describe.each(backends)('retention purge and orphan GC jobs (%s)', (backend) => {
  let stack: TestStack;
  let worker: RunningWorker;
  let a: Tenant;
  let b: Tenant;

  const call = (tenant: Tenant, method: 'GET' | 'POST', url: string, body?: unknown) =>
    stack.app.inject({
      method,
      url,
      headers: { 'x-api-key': tenant.apiKey, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });

  /** A conversation with `old` messages backdated 40 days (each with an attachment and thumbnail) and `recent` new ones. */
  async function seed(tenant: Tenant, old: number, recent: number) {
    await call(tenant, 'POST', '/api/v1/users', { external_id: 'u1', name: 'U1' });
    const conversationId = (await call(tenant, 'POST', '/api/v1/conversations', { participants: [{ external_id: 'u1' }] })).json().id as string;
    const ids: string[] = [];
    for (let i = 0; i < old + recent; i++) {
      const res = await call(tenant, 'POST', `/api/v1/conversations/${conversationId}/messages`, { sender_external_id: 'u1', content: `m${i}` });
      expect(res.statusCode, res.body).toBe(201);
      ids.push(res.json().id as string);
    }
    const oldIds = ids.slice(0, old);
    const keys: string[] = [];
    for (const messageId of oldIds) {
      const key = `workspaces/${tenant.workspaceId}/attachments/${messageId}.png`;
      const thumb = `workspaces/${tenant.workspaceId}/attachments/${messageId}.thumb.webp`;
      await stack.deps.blobStore.put(key, Buffer.from('x'), { contentType: 'image/png' });
      await stack.deps.blobStore.put(thumb, Buffer.from('y'), { contentType: 'image/webp' });
      await stack.db.insert(schema.attachments).values({
        workspaceId: tenant.workspaceId,
        conversationId,
        messageId,
        storageKey: key,
        thumbnailKey: thumb,
        contentType: 'image/png',
        extension: 'png',
        sizeBytes: 1,
      });
      keys.push(key, thumb);
    }
    await stack.db
      .update(schema.messages)
      .set({ createdAt: new Date(Date.now() - 40 * DAY) })
      .where(and(eq(schema.messages.workspaceId, tenant.workspaceId), inArray(schema.messages.id, oldIds)));
    return { conversationId, oldIds, recentIds: ids.slice(old), keys };
  }

  const messageIdsOf = async (tenant: Tenant) =>
    (await stack.db.select({ id: schema.messages.id }).from(schema.messages).where(eq(schema.messages.workspaceId, tenant.workspaceId))).map((m) => m.id);

  beforeAll(async () => {
    stack = await startStack({ backend });
    worker = await startWorker(stack.deps, { logger: silent, relayIntervalMs: 50 });
    a = await createTenant(stack.db, { name: 'A' });
    b = await createTenant(stack.db, { name: 'B' });
  });
  afterAll(async () => {
    await worker?.stop();
    await stack?.close();
  });

  it('deletes only the retention workspace’s expired messages with their objects, audits the counts', async () => {
    const inA = await seed(a, 3, 2);
    const inB = await seed(b, 2, 1);
    // B keeps forever (no setting); A keeps 30 days.
    await stack.db.update(schema.workspaces).set({ settings: { retention_days: 30 } }).where(eq(schema.workspaces.id, a.workspaceId));

    await worker.scheduleMaintenanceNow();
    // The audit row is the job's last write (after the objects are deleted): wait for it, then check everything.
    const audit = await waitFor(async () => {
      const rows = await stack.db
        .select()
        .from(schema.auditLog)
        .where(and(eq(schema.auditLog.workspaceId, a.workspaceId), eq(schema.auditLog.action, 'retention.purged')));
      return rows.length > 0 && rows;
    }, 20_000);
    expect((await messageIdsOf(a)).sort()).toEqual([...inA.recentIds].sort());
    for (const key of inA.keys) expect(await stack.deps.blobStore.exists(key), key).toBe(false);
    const attachmentsA = await stack.db.select().from(schema.attachments).where(eq(schema.attachments.workspaceId, a.workspaceId));
    expect(attachmentsA).toHaveLength(0);
    expect(audit).toHaveLength(1);
    expect(audit[0]!.metadata).toMatchObject({ retention_days: 30, messages: 3, attachments: 3 });
    expect(audit[0]!.actorType).toBe('system');

    // Tenant isolation: B's old messages and objects are untouched, and B got no audit row.
    expect((await messageIdsOf(b)).sort()).toEqual([...inB.oldIds, ...inB.recentIds].sort());
    for (const key of inB.keys) expect(await stack.deps.blobStore.exists(key), key).toBe(true);
    expect(await stack.db.select().from(schema.auditLog).where(and(eq(schema.auditLog.workspaceId, b.workspaceId), eq(schema.auditLog.action, 'retention.purged')))).toHaveLength(0);

    // Idempotent: a second purge finds nothing and writes no second audit row.
    const again = await purgeExpiredMessages({ db: stack.db, blobStore: stack.deps.blobStore, workspaceId: a.workspaceId, retentionDays: 30, now: new Date() });
    expect(again.messages).toBe(0);
  }, 60_000);

  it('refuses an empty workspace id or a non-positive retention (G-04: never an unscoped delete)', async () => {
    const before = (await stack.db.select({ id: schema.messages.id }).from(schema.messages)).length;
    await expect(purgeExpiredMessages({ db: stack.db, blobStore: stack.deps.blobStore, workspaceId: '', retentionDays: 1, now: new Date() })).rejects.toThrow();
    await expect(purgeExpiredMessages({ db: stack.db, blobStore: stack.deps.blobStore, workspaceId: b.workspaceId, retentionDays: 0, now: new Date() })).rejects.toThrow();
    expect((await stack.db.select({ id: schema.messages.id }).from(schema.messages)).length).toBe(before);
  });

  it('collects uploads never attached to a message after a day, keeps fresh ones', async () => {
    const keys = { stale: `workspaces/${b.workspaceId}/attachments/stale.png`, fresh: `workspaces/${b.workspaceId}/attachments/fresh.png` };
    for (const key of Object.values(keys)) await stack.deps.blobStore.put(key, Buffer.from('z'), { contentType: 'image/png' });
    const [stale] = await stack.db
      .insert(schema.attachments)
      .values({ workspaceId: b.workspaceId, storageKey: keys.stale, contentType: 'image/png', extension: 'png', sizeBytes: 1, createdAt: new Date(Date.now() - 2 * DAY) })
      .returning();
    const [fresh] = await stack.db
      .insert(schema.attachments)
      .values({ workspaceId: b.workspaceId, storageKey: keys.fresh, contentType: 'image/png', extension: 'png', sizeBytes: 1 })
      .returning();

    await worker.scheduleMaintenanceNow();
    await waitFor(async () => !(await stack.deps.blobStore.exists(keys.stale)), 20_000);
    expect(await stack.db.select().from(schema.attachments).where(eq(schema.attachments.id, stale!.id))).toHaveLength(0);
    expect(await stack.db.select().from(schema.attachments).where(eq(schema.attachments.id, fresh!.id))).toHaveLength(1);
    expect(await stack.deps.blobStore.exists(keys.fresh)).toBe(true);
  }, 30_000);
});
