import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { schema } from '@reusable-chat/db';
import { backends, startStack, type TestStack } from '@reusable-chat/testing';
import { bearer, createWidgetTenant, mintSession, ORIGIN_A, seedConversation, type WidgetSession, type WidgetTenant } from './widget-helpers.ts';

interface PageMessage {
  id: string;
  seq: number;
  content: string;
  sender: { type: string; id: string | null; external_id?: string; name?: string };
  attachments: Record<string, unknown>[];
  reactions: { emoji: string; count: number; user_ids: string[] }[];
  edited_at: string | null;
  deleted_at: string | null;
}

/**
 * The history page is one SQL statement (access check, senders, attachments, reactions, blocks): these pin what
 * that statement must keep doing for a participant.
 */
describe.each(backends)('widget history page (%s)', (backend) => {
  let stack: TestStack;
  let a: WidgetTenant;
  let guest: WidgetSession;
  let host: WidgetSession;
  let friend: WidgetSession;
  let conversationId: string;

  beforeAll(async () => {
    stack = await startStack({ backend });
    a = await createWidgetTenant(stack.db, ORIGIN_A);
    guest = await mintSession(stack.app, a, 'hp-guest', 'Guest');
    host = await mintSession(stack.app, a, 'hp-host', 'Host');
    friend = await mintSession(stack.app, a, 'hp-friend', 'Friend');
    conversationId = await seedConversation(
      stack.db,
      a,
      [
        { userId: guest.userId, role: 'guest' },
        { userId: host.userId, role: 'host' },
        { userId: friend.userId, role: 'guest' },
      ],
      'guest-host',
    );
  });
  afterAll(async () => {
    await stack?.close();
  });

  const call = (session: WidgetSession, method: string, url: string, payload?: unknown) =>
    stack.app.inject({ method: method as 'GET', url, headers: bearer(session), ...(payload !== undefined ? { payload: payload as object } : {}) });
  const send = async (session: WidgetSession, content: string): Promise<PageMessage> => {
    const res = await call(session, 'POST', `/api/widget/conversations/${conversationId}/messages`, { content });
    expect(res.statusCode).toBe(201);
    return res.json();
  };
  const page = async (session: WidgetSession, query = ''): Promise<{ data: PageMessage[]; next_cursor: string | null }> => {
    const res = await call(session, 'GET', `/api/widget/conversations/${conversationId}/messages${query}`);
    expect(res.statusCode).toBe(200);
    return res.json();
  };

  it('carries senders, reactions grouped per emoji, signed attachments and deleted/edited state, in the public key order', async () => {
    const first = await send(host, 'first');
    const second = await send(guest, 'second');
    const react = (session: WidgetSession, messageId: string, emoji: string) =>
      call(session, 'POST', `/api/widget/conversations/${conversationId}/messages/${messageId}/reactions`, { emoji });
    expect((await react(guest, first.id, '👍')).statusCode).toBe(201);
    expect((await react(friend, first.id, '🎉')).statusCode).toBe(201);
    expect((await react(friend, first.id, '👍')).statusCode).toBe(201);
    await stack.db.insert(schema.attachments).values({
      workspaceId: a.workspaceId,
      conversationId,
      messageId: first.id,
      uploaderUserId: host.userId,
      storageKey: `workspaces/${a.workspaceId}/attachments/00000000-0000-4000-8000-000000000001.png`,
      contentType: 'image/png',
      extension: 'png',
      sizeBytes: 123,
      originalName: 'photo.png',
      width: 4,
      height: 3,
    });
    expect((await call(guest, 'PATCH', `/api/widget/conversations/${conversationId}/messages/${second.id}`, { content: 'second, edited' })).statusCode).toBe(200);
    const gone = await send(guest, 'to delete');
    expect((await react(host, gone.id, '👍')).statusCode).toBe(201);
    expect((await call(guest, 'DELETE', `/api/widget/conversations/${conversationId}/messages/${gone.id}`)).statusCode).toBe(200);

    const res = await call(guest, 'GET', `/api/widget/conversations/${conversationId}/messages?after_seq=${first.seq - 1}`);
    expect(res.statusCode).toBe(200);
    const data = (res.json() as { data: PageMessage[] }).data;
    expect(data.map((m) => m.seq)).toEqual([first.seq, second.seq, gone.seq]);
    const [m1, m2, m3] = data as [PageMessage, PageMessage, PageMessage];
    // The key order the API has always written (its response schema's order).
    expect(Object.keys(m1)).toEqual([
      'id',
      'conversation_id',
      'seq',
      'sender',
      'type',
      'content',
      'attachments',
      'reactions',
      'client_id',
      'created_at',
      'masked',
      'edited_at',
      'deleted_at',
      'metadata',
    ]);
    expect(m1.sender).toEqual({ type: 'user', id: host.userId, external_id: 'hp-host', name: 'Host' });
    expect(m1.reactions).toEqual([
      { emoji: '👍', count: 2, user_ids: [guest.userId, friend.userId] },
      { emoji: '🎉', count: 1, user_ids: [friend.userId] },
    ]);
    expect(m1.attachments).toHaveLength(1);
    expect(m1.attachments[0]).toMatchObject({ content_type: 'image/png', size_bytes: 123, name: 'photo.png', width: 4, height: 3, message_id: first.id });
    expect(m1.attachments[0]!.url).toEqual(expect.stringContaining('http'));
    expect(m1.attachments[0]!.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(m2).toMatchObject({ content: 'second, edited', edited_at: expect.any(String), deleted_at: null, reactions: [], attachments: [] });
    // A deleted message keeps its seq but loses content, attachments and reactions.
    expect(m3).toMatchObject({ content: '', deleted_at: expect.any(String), reactions: [], attachments: [] });
  });

  it('leaves internal notes out and hides blocked senders before the limit, so pages stay full and cursors continue', async () => {
    const base = await send(guest, 'base');
    const [note] = await stack.db
      .insert(schema.messages)
      .values({ workspaceId: a.workspaceId, conversationId, seq: base.seq + 1, senderType: 'system', type: 'text', content: 'internal note', isInternal: true })
      .returning();
    await stack.db.update(schema.conversations).set({ lastSeq: base.seq + 1 }).where(eq(schema.conversations.id, conversationId));
    const g1 = await send(guest, 'g1');
    await send(host, 'h1');
    await send(host, 'h2');
    const g2 = await send(guest, 'g2');
    await send(guest, 'g3');

    const all = await page(guest, `?after_seq=${base.seq}`);
    expect(all.data.map((m) => m.content)).toEqual(['g1', 'h1', 'h2', 'g2', 'g3']);
    expect(all.data.some((m) => m.id === note!.id)).toBe(false);

    expect((await call(guest, 'POST', '/api/widget/blocks', { user_id: host.userId })).statusCode).toBe(201);
    const newest = await page(guest, '?limit=2');
    expect(newest.data.map((m) => m.content)).toEqual(['g2', 'g3']);
    const older = await page(guest, `?limit=2&before=${encodeURIComponent(newest.next_cursor!)}`);
    expect(older.data.map((m) => m.seq)).toEqual([base.seq, g1.seq]);
    const gap = await page(guest, `?after_seq=${base.seq}`);
    expect(gap.data.map((m) => m.content)).toEqual(['g1', 'g2', 'g3']);
    expect(gap.next_cursor).toBeNull();
    // Forward pages of a catch-up skip them too.
    const firstForward = await page(guest, `?after_seq=${base.seq}&limit=1`);
    expect(firstForward.data.map((m) => m.seq)).toEqual([g1.seq]);
    const nextForward = await page(guest, `?cursor=${encodeURIComponent(firstForward.next_cursor!)}&limit=1`);
    expect(nextForward.data.map((m) => m.seq)).toEqual([g2.seq]);
    // The blocked host still reads everything.
    expect((await page(host, `?after_seq=${base.seq}`)).data.map((m) => m.content)).toEqual(['g1', 'h1', 'h2', 'g2', 'g3']);
    expect((await call(guest, 'DELETE', `/api/widget/blocks/${host.userId}`)).statusCode).toBe(200);
  });

  it('is 404 for a participant who left, an outsider and a foreign conversation, even with a cursor; a bad cursor on a readable one is 400', async () => {
    const outsider = await mintSession(stack.app, a, 'hp-outsider');
    const url = `/api/widget/conversations/${conversationId}/messages`;
    expect((await call(outsider, 'GET', url)).statusCode).toBe(404);
    const own = await page(guest, '?limit=1');
    expect(own.next_cursor).toEqual(expect.any(String));
    const withCursor = `${url}?before=${encodeURIComponent(own.next_cursor!)}`;
    expect((await call(outsider, 'GET', withCursor)).statusCode).toBe(404);
    expect((await call(outsider, 'GET', `${url}?before=garbage`)).statusCode).toBe(404);
    expect((await call(guest, 'GET', `${url}?before=garbage`)).statusCode).toBe(400);
    const other = await createWidgetTenant(stack.db, 'https://other.example');
    const stranger = await mintSession(stack.app, other, 'hp-stranger');
    expect((await call(stranger, 'GET', withCursor)).statusCode).toBe(404);

    expect((await call(friend, 'GET', url)).statusCode).toBe(200);
    expect((await call(friend, 'POST', `/api/widget/conversations/${conversationId}/leave`, {})).statusCode).toBe(200);
    expect((await call(friend, 'GET', url)).statusCode).toBe(404);
  });
});
