import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { schema } from '@reusable-chat/db';
import { backends, startStack, type TestStack } from '@reusable-chat/testing';
import { bearer, createWidgetTenant, mintSession, ORIGIN_A, seedConversation, type WidgetSession, type WidgetTenant } from './widget-helpers.ts';

/**
 * The message send may authenticate from the widget auth cache (config.widgetAuthCache); its own database
 * read re-checks the session, so revocation, expiry, erasure, suspension and bans still take effect on the
 * very next send — even when they were written straight into the database, past every event.
 */
describe.each(backends)('widget send with cached authentication (%s)', (backend) => {
  let stack: TestStack;
  let a: WidgetTenant;

  beforeAll(async () => {
    stack = await startStack({ backend });
    a = await createWidgetTenant(stack.db, ORIGIN_A);
  });
  afterAll(async () => {
    await stack?.close();
  });

  const pair = async (name: string): Promise<{ sender: WidgetSession; conversationId: string }> => {
    const sender = await mintSession(stack.app, a, `${name}-sender`, 'Sender');
    const other = await mintSession(stack.app, a, `${name}-other`, 'Other');
    const conversationId = await seedConversation(stack.db, a, [
      { userId: sender.userId, role: 'guest' },
      { userId: other.userId, role: 'host' },
    ]);
    return { sender, conversationId };
  };
  const send = (session: WidgetSession, conversationId: string, content: string) =>
    stack.app.inject({ method: 'POST', url: `/api/widget/conversations/${conversationId}/messages`, headers: bearer(session), payload: { content } });

  it('refuses the next send of a session revoked, expired or banned in the database after a cached send', async () => {
    const revoked = await pair('revoked');
    expect((await send(revoked.sender, revoked.conversationId, 'one')).statusCode).toBe(201);
    await stack.db.update(schema.widgetSessions).set({ revokedAt: new Date() }).where(eq(schema.widgetSessions.chatUserId, revoked.sender.userId));
    const afterRevoke = await send(revoked.sender, revoked.conversationId, 'two');
    expect(afterRevoke.statusCode).toBe(401);
    expect(afterRevoke.json().error.code).toBe('session_expired');

    const expired = await pair('expired');
    expect((await send(expired.sender, expired.conversationId, 'one')).statusCode).toBe(201);
    await stack.db
      .update(schema.widgetSessions)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(schema.widgetSessions.chatUserId, expired.sender.userId));
    expect((await send(expired.sender, expired.conversationId, 'two')).json().error.code).toBe('session_expired');

    const banned = await pair('banned');
    expect((await send(banned.sender, banned.conversationId, 'one')).statusCode).toBe(201);
    await stack.db.insert(schema.bans).values({ workspaceId: a.workspaceId, chatUserId: banned.sender.userId, reason: 'spam' });
    const afterBan = await send(banned.sender, banned.conversationId, 'two');
    expect(afterBan.statusCode).toBe(403);
    expect(afterBan.json().error.code).toBe('user_banned');

    // Nothing was stored for the refused sends.
    for (const { conversationId } of [revoked, expired, banned]) {
      const rows = await stack.db.select().from(schema.messages).where(eq(schema.messages.conversationId, conversationId));
      expect(rows.map((m) => m.content)).toEqual(['one']);
    }
  });

  it('refuses a revoked session also for a conversation that does not exist (the 404 does not leak past auth)', async () => {
    const { sender } = await pair('unknown');
    const { conversationId } = await pair('unknown-2');
    // Cached: a send into a conversation the sender is not part of answers 404.
    const notMine = await send(sender, conversationId, 'x');
    expect(notMine.statusCode).toBe(404);
    await stack.db.update(schema.widgetSessions).set({ revokedAt: new Date() }).where(eq(schema.widgetSessions.chatUserId, sender.userId));
    const missing = await send(sender, '01a20cb4-0000-7000-8000-000000000000', 'x');
    expect(missing.statusCode).toBe(401);
    expect(missing.json().error.code).toBe('session_expired');
  });
});
