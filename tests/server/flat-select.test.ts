import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flatTable, schema } from '@reusable-chat/db';
import { backends, createTenant, startStack, type Tenant, type TestStack } from '@reusable-chat/testing';

/**
 * flatTable (packages/db/src/flat-select.ts) replaces Drizzle's row mapping on the send's context read: the
 * rows it builds must be the rows Drizzle builds — dates as Date, JSON parsed, nulls kept — on both drivers,
 * and an outer join's miss must read as null.
 */
describe.each(backends)('flatTable (%s)', (backend) => {
  let stack: TestStack;
  let tenant: Tenant;
  let conversationId: string;
  let userId: string;
  beforeAll(async () => {
    stack = await startStack({ backend });
    tenant = await createTenant(stack.db);
    const [user] = await stack.db
      .insert(schema.chatUsers)
      .values({ workspaceId: tenant.workspaceId, externalId: 'flat-user', name: 'Flat Ünïcode', metadata: { plan: 'pro', n: 3, nested: { a: [1, 'b'] } } })
      .returning();
    userId = user!.id;
    const [conversation] = await stack.db
      .insert(schema.conversations)
      .values({
        workspaceId: tenant.workspaceId,
        subject: 'listing-1',
        state: 'booked',
        metadata: { listing: 42 },
        lastSeq: 7,
        lastMessageAt: new Date('2026-03-04T05:06:07.891Z'),
      })
      .returning();
    conversationId = conversation!.id;
  });
  afterAll(async () => {
    await stack?.close();
  });

  const conversations = flatTable(schema.conversations, 'c');
  const users = flatTable(schema.chatUsers, 'u');

  const readBoth = async (joinUserId: string) => {
    const statement = stack.db
      .select({ ...conversations.selection, ...users.selection })
      .from(schema.conversations)
      .leftJoin(schema.chatUsers, sql`${schema.chatUsers.id} = ${joinUserId}::uuid`)
      .where(eq(schema.conversations.id, conversationId))
      .prepare(`flat_select_test_${joinUserId === userId ? 'hit' : 'miss'}`) as unknown as {
      all(values: Record<string, unknown>): Promise<Record<string, unknown>[]>;
    };
    const [raw] = await statement.all({});
    const [drizzleRow] = await stack.db
      .select({ conversation: schema.conversations, user: schema.chatUsers })
      .from(schema.conversations)
      .leftJoin(schema.chatUsers, sql`${schema.chatUsers.id} = ${joinUserId}::uuid`)
      .where(eq(schema.conversations.id, conversationId));
    return { flat: { conversation: conversations.read(raw!), user: users.read(raw!) }, drizzle: drizzleRow! };
  };

  it('maps every column as Drizzle does: dates, JSON, numbers and nulls', async () => {
    const { flat, drizzle } = await readBoth(userId);
    expect(flat).toEqual(drizzle);
    expect(flat.conversation!.lastMessageAt).toBeInstanceOf(Date);
    expect(flat.conversation!.lastMessageAt!.toISOString()).toBe('2026-03-04T05:06:07.891Z');
    expect(flat.conversation!.closedAt).toBeNull();
    expect(flat.conversation!.lastSeq).toBe(7);
    expect(flat.conversation!.metadata).toEqual({ listing: 42 });
    expect(flat.user!.metadata).toEqual({ plan: 'pro', n: 3, nested: { a: [1, 'b'] } });
    expect(flat.user!.name).toBe('Flat Ünïcode');
  });

  it('reads the miss of an outer join as null', async () => {
    const { flat, drizzle } = await readBoth('00000000-0000-7000-8000-000000000000');
    expect(drizzle.user).toBeNull();
    expect(flat.user).toBeNull();
    expect(flat.conversation).toEqual(drizzle.conversation);
  });
});
