import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '@reusable-chat/db';
import { backends, createTenant, startStack, type Tenant, type TestStack } from '@reusable-chat/testing';

/**
 * messages_conversation_fk (migration 0006): a message references its conversation through
 * (workspace_id, conversation_id), so the database itself refuses a message filed under another tenant than
 * its conversation's, a conversation that does not exist, or a workspace that does not; deleting the
 * conversation (or the workspace, through its conversations) still deletes its messages.
 */
describe.each(backends)('message foreign key (%s)', (backend) => {
  let stack: TestStack;
  let a: Tenant;
  let b: Tenant;
  let conversationId: string;
  beforeAll(async () => {
    stack = await startStack({ backend });
    a = await createTenant(stack.db, { name: 'A' });
    b = await createTenant(stack.db, { name: 'B' });
    const [conversation] = await stack.db.insert(schema.conversations).values({ workspaceId: a.workspaceId, type: 'group', name: 'keys' }).returning();
    conversationId = conversation!.id;
  });
  afterAll(async () => {
    await stack?.close();
  });

  const message = (workspaceId: string, conversation: string, seq: number) => ({
    workspaceId,
    conversationId: conversation,
    seq,
    senderType: 'system' as const,
    type: 'system' as const,
    content: `message ${seq}`,
  });

  it('stores a message whose workspace is its conversation’s', async () => {
    const [row] = await stack.db.insert(schema.messages).values(message(a.workspaceId, conversationId, 1)).returning();
    expect(row!.workspaceId).toBe(a.workspaceId);
  });

  it('refuses a message under another workspace than its conversation’s, or an unknown conversation', async () => {
    await expect(stack.db.insert(schema.messages).values(message(b.workspaceId, conversationId, 2))).rejects.toThrow();
    await expect(stack.db.insert(schema.messages).values(message(a.workspaceId, '0190a8f0-0000-7000-8000-00000000dead', 1))).rejects.toThrow();
    const rows = await stack.db.select().from(schema.messages).where(eq(schema.messages.conversationId, conversationId));
    expect(rows.map((r) => r.seq)).toEqual([1]);
  });

  it('deletes the messages with their conversation', async () => {
    await stack.db.delete(schema.conversations).where(eq(schema.conversations.id, conversationId));
    const rows = await stack.db.select().from(schema.messages).where(eq(schema.messages.conversationId, conversationId));
    expect(rows).toEqual([]);
  });
});
