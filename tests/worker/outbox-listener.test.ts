import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainEventBus, subscribeOutboxListener } from '@reusable-chat/core';
import { schema } from '@reusable-chat/db';
import { backends, createTenant, createTestDatabase, type Tenant, type TestDatabase } from '@reusable-chat/testing';

/**
 * The after-commit outbox listener: an event whose use-case settled the outbox row itself is not recorded
 * again, and wakes the in-process relay only when that row exists (`written`); a workspace without enabled
 * webhook endpoint (`none`) has nothing to relay. Other events are recorded here, and wake the relay.
 */
describe.each(backends)('outbox listener (%s)', (backend) => {
  let testDb: TestDatabase;
  let tenant: Tenant;
  const events = new DomainEventBus((err) => {
    throw err;
  });
  let wakes = 0;
  let unsubscribe: () => void;

  beforeAll(async () => {
    testDb = await createTestDatabase(backend);
    tenant = await createTenant(testDb.handle.db);
    unsubscribe = subscribeOutboxListener({ events, db: testDb.handle.db, onRecorded: () => (wakes += 1) });
  });
  afterAll(async () => {
    unsubscribe?.();
    await testDb?.drop();
  });

  const outboxRows = async () =>
    (await testDb.handle.db.select({ id: schema.outbox.id }).from(schema.outbox).where(eq(schema.outbox.workspaceId, tenant.workspaceId))).length;

  const created = (recordedInOutbox?: 'written' | 'none') => ({
    type: 'message.created' as const,
    workspaceId: tenant.workspaceId,
    conversationId: '01900000-0000-7000-8000-000000000001',
    message: { id: '01900000-0000-7000-8000-000000000002', seq: 1 },
    ...(recordedInOutbox ? { recordedInOutbox } : {}),
  });

  it('wakes the relay for a row the send path wrote, and writes none itself', async () => {
    const before = wakes;
    await events.emit(created('written'));
    expect(wakes).toBe(before + 1);
    expect(await outboxRows()).toBe(0);
  });

  it('neither wakes the relay nor writes a row when the send path wrote none', async () => {
    const before = wakes;
    await events.emit(created('none'));
    expect(wakes).toBe(before);
    expect(await outboxRows()).toBe(0);
  });

  it('records an event the use-case left to it, and wakes the relay', async () => {
    const before = wakes;
    await events.emit(created());
    expect(wakes).toBe(before + 1);
    expect(await outboxRows()).toBe(1);
  });
});
