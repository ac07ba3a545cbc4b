import { beforeAll, describe, expect, it } from 'vitest';
import { and, asc, eq, getTableColumns, sql } from 'drizzle-orm';
import { schema } from '@reusable-chat/db';
import { listMessages, serializeMessages } from '@reusable-chat/core';
import { backends } from '@reusable-chat/testing';
import { useTenantStack } from './helpers.ts';

const { searchVector: _searchVector, ...messageColumns } = getTableColumns(schema.messages);

/**
 * The history page's JSON is written by PostgreSQL and sent on as text (listMessagesJson). These pin it to the
 * bytes the API wrote before, when Node built every message with toMessageJson and JSON.stringify: the reference
 * below is serializeMessages (the path every other message read takes) over the same rows, stringified.
 */
describe.each(backends)('history page JSON text (%s)', (backend) => {
  const ctx = useTenantStack(backend);
  let conversationId: string;

  beforeAll(async () => {
    const db = ctx.stack.db;
    const workspaceId = ctx.tenant.workspaceId;
    const [conversation] = await db.insert(schema.conversations).values({ workspaceId, type: 'group', name: 'json' }).returning();
    conversationId = conversation!.id;
    const [ana, bob, gone] = await db
      .insert(schema.chatUsers)
      .values([
        { workspaceId, externalId: 'ana "quoted" \\ ext', name: 'Ana \u0001\t\n 👋🏽 "A"' },
        { workspaceId, externalId: 'bob', name: '' },
        { workspaceId, externalId: 'gone', name: 'Gone' },
      ])
      .returning();
    const [admin] = await db
      .insert(schema.admins)
      .values({ email: `agent-${backend}-${Date.now()}@example.com`, name: 'Agent </script> \u2028', passwordHash: 'x' })
      .returning();
    const base = { workspaceId, conversationId };
    const rows = await db
      .insert(schema.messages)
      .values([
        // Every character JSON.stringify escapes, and some it must not (/, U+2028, DEL, astral).
        {
          ...base,
          seq: 1,
          senderType: 'user',
          senderUserId: ana!.id,
          content: 'ctl x \u0001\u0008\u000b\u000c\u001f \b\f\n\r\t "q" \\ / \u2028\u2029 \u007f é 👋🏽 שלום',
          clientId: 'c-"1"\\',
          masked: { rules: ['contact_info'], kinds: ['email', 'phone'], count: 2 },
        },
        { ...base, seq: 2, senderType: 'user', senderUserId: bob!.id, content: 'plain', metadata: { listing: 42, nested: { a: [1, 'two', null, true] } } },
        { ...base, seq: 3, senderType: 'agent', senderAdminId: admin!.id, content: 'from an agent' },
        { ...base, seq: 4, senderType: 'system', type: 'system', content: 'Booking requested' },
        { ...base, seq: 5, senderType: 'user', senderUserId: gone!.id, content: 'sender erased later' },
        { ...base, seq: 6, senderType: 'user', senderUserId: ana!.id, content: 'deleted, had reactions and a file' },
        { ...base, seq: 7, senderType: 'user', senderUserId: bob!.id, content: 'internal note', isInternal: true },
        { ...base, seq: 8, senderType: 'user', senderUserId: bob!.id, type: 'attachment', content: 'edited, with a file' },
        { ...base, seq: 9, senderType: 'agent', senderAdminId: null, content: 'agent gone' },
      ])
      .returning();
    const bySeq = new Map(rows.map((m) => [m.seq, m]));
    await db.update(schema.conversations).set({ lastSeq: 9 }).where(eq(schema.conversations.id, conversationId));
    // The sender's row is gone (ON DELETE SET NULL): sender {type:'user', id:null}.
    await db.delete(schema.chatUsers).where(eq(schema.chatUsers.id, gone!.id));
    // Microseconds the API truncates to milliseconds, jsonb text forms JSON.stringify writes differently
    // (1.50 → 1.5, key order with integer-like keys, spaces), a jsonb null in masked.
    await db.execute(sql`update messages set created_at = '2026-03-04 05:06:07.999999+00', masked = null,
      metadata = '{"b": 1.50, "a": [1, 2e3, {"x": null}], "10": "ten", "zz": "s p a c e: , ", "big": 12345678901234567890}'::jsonb
      where id = ${bySeq.get(2)!.id}`);
    await db.execute(sql`update messages set created_at = '2026-03-04 05:06:08.000001+00', masked = 'null'::jsonb where id = ${bySeq.get(3)!.id}`);
    await db.execute(sql`update messages set created_at = '2026-03-04 05:06:09+00' where id = ${bySeq.get(4)!.id}`);
    await db.execute(sql`update messages set deleted_at = '2026-03-05 00:00:00.5+00' where id = ${bySeq.get(6)!.id}`);
    await db.execute(sql`update messages set edited_at = '2026-03-05 01:02:03.456789+00' where id = ${bySeq.get(8)!.id}`);
    const at = (s: number) => new Date(Date.UTC(2026, 2, 6, 0, 0, s));
    await db.insert(schema.reactions).values([
      { messageId: bySeq.get(1)!.id, workspaceId, chatUserId: bob!.id, emoji: '👍', createdAt: at(1) },
      { messageId: bySeq.get(1)!.id, workspaceId, chatUserId: ana!.id, emoji: '🎉', createdAt: at(2) },
      { messageId: bySeq.get(1)!.id, workspaceId, chatUserId: ana!.id, emoji: '👍', createdAt: at(3) },
      { messageId: bySeq.get(1)!.id, workspaceId, chatUserId: bob!.id, emoji: '"\\', createdAt: at(4) },
      { messageId: bySeq.get(6)!.id, workspaceId, chatUserId: bob!.id, emoji: '👍', createdAt: at(5) },
    ]);
    const attachment = (messageId: string, name: string) => ({
      workspaceId,
      conversationId,
      messageId,
      uploaderUserId: ana!.id,
      storageKey: `workspaces/${workspaceId}/attachments/${crypto.randomUUID()}.png`,
      contentType: 'image/png',
      extension: 'png',
      sizeBytes: 2048,
      originalName: name,
      width: 64,
      height: 48,
    });
    await db.insert(schema.attachments).values([attachment(bySeq.get(6)!.id, 'gone.png'), attachment(bySeq.get(8)!.id, 'ph"oto\n.png')]);
  });

  /** What JSON.stringify(toMessageJson(…)) writes for the visible messages with seq in [from, to]. */
  const reference = async (from: number, to: number) => {
    const rows = await ctx.stack.db
      .select(messageColumns)
      .from(schema.messages)
      .where(and(eq(schema.messages.conversationId, conversationId), eq(schema.messages.isInternal, false)))
      .orderBy(asc(schema.messages.seq));
    return serializeMessages({ db: ctx.stack.db, workspaceId: ctx.tenant.workspaceId, messages: rows.filter((m) => m.seq >= from && m.seq <= to) });
  };

  it('is byte for byte what JSON.stringify of the message objects writes, on backward and forward pages', async () => {
    const url = `/api/v1/conversations/${conversationId}/messages`;
    const newest = await ctx.call('GET', url);
    expect(newest.statusCode).toBe(200);
    expect(newest.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(newest.body).toBe(JSON.stringify({ data: await reference(1, 9), next_cursor: null }));

    const firstTwo = await ctx.call('GET', `${url}?limit=3`);
    const cursor = (firstTwo.json() as { next_cursor: string | null }).next_cursor;
    expect(cursor).toEqual(expect.any(String));
    // Seqs 9, 8 and 6 (7 is internal): the page, and a cursor onwards.
    expect(firstTwo.body).toBe(JSON.stringify({ data: await reference(6, 9), next_cursor: cursor }));
    const older = await ctx.call('GET', `${url}?limit=3&before=${encodeURIComponent(cursor!)}`);
    const olderCursor = (older.json() as { next_cursor: string | null }).next_cursor;
    expect(older.body).toBe(JSON.stringify({ data: await reference(3, 5), next_cursor: olderCursor }));
    expect(olderCursor).toEqual(expect.any(String));

    const forward = await ctx.call('GET', `${url}?after_seq=1&limit=2`);
    const forwardCursor = (forward.json() as { next_cursor: string | null }).next_cursor;
    expect(forward.body).toBe(JSON.stringify({ data: await reference(2, 3), next_cursor: forwardCursor }));
    const rest = await ctx.call('GET', `${url}?cursor=${encodeURIComponent(forwardCursor!)}&limit=50`);
    expect(rest.body).toBe(JSON.stringify({ data: await reference(4, 9), next_cursor: null }));

    const empty = await ctx.call('GET', `${url}?after_seq=9`);
    expect(empty.body).toBe('{"data":[],"next_cursor":null}');
  });

  it('gives core callers the same messages as objects', async () => {
    const page = await listMessages({ db: ctx.stack.db, workspaceId: ctx.tenant.workspaceId, conversationId, cursorSecret: 'test-secret', limit: 50 });
    expect(page.nextCursor).toBeNull();
    expect(page.data).toEqual(await reference(1, 9));
    const byMessage = new Map(page.data.map((m) => [m.seq, m]));
    // Spot checks that do not lean on the reference implementation.
    expect(byMessage.get(1)!.reactions).toEqual([
      { emoji: '👍', count: 2, user_ids: [expect.any(String), expect.any(String)] },
      { emoji: '🎉', count: 1, user_ids: [expect.any(String)] },
      { emoji: '"\\', count: 1, user_ids: [expect.any(String)] },
    ]);
    expect(byMessage.get(2)!.created_at).toBe('2026-03-04T05:06:07.999Z');
    expect(byMessage.get(2)!.metadata).toEqual({ 10: 'ten', a: [1, 2000, { x: null }], b: 1.5, zz: 's p a c e: , ', big: 12345678901234567000 });
    expect(byMessage.get(3)!.created_at).toBe('2026-03-04T05:06:08.000Z');
    expect(byMessage.get(3)!.masked).toBeNull();
    expect(byMessage.get(4)!.created_at).toBe('2026-03-04T05:06:09.000Z');
    expect(byMessage.get(5)!.sender).toEqual({ type: 'user', id: null });
    expect(byMessage.get(6)).toMatchObject({ content: '', attachments: [], reactions: [], deleted_at: '2026-03-05T00:00:00.500Z' });
    expect(byMessage.get(8)!.attachments).toEqual([{ id: expect.any(String), content_type: 'image/png', size_bytes: 2048, name: 'ph"oto\n.png', width: 64, height: 48 }]);
    expect(byMessage.get(8)!.edited_at).toBe('2026-03-05T01:02:03.456Z');
    expect(byMessage.get(9)!.sender).toEqual({ type: 'agent', id: null });
  });
  it('finds attachments and reactions through the flags the database keeps, however they were written', async () => {
    const db = ctx.stack.db;
    const workspaceId = ctx.tenant.workspaceId;
    const flags = async (id: string) =>
      (await db.select({ a: schema.messages.hasAttachments, r: schema.messages.hasReactions }).from(schema.messages).where(eq(schema.messages.id, id)))[0];
    const [conversation] = await db.insert(schema.conversations).values({ workspaceId, type: 'group', name: 'flags' }).returning();
    const [user] = await db.insert(schema.chatUsers).values({ workspaceId, externalId: `flags-${backend}` , name: 'F' }).returning();
    const [message] = await db
      .insert(schema.messages)
      .values({ workspaceId, conversationId: conversation!.id, seq: 1, senderType: 'user', senderUserId: user!.id, content: 'x' })
      .returning();
    await db.update(schema.conversations).set({ lastSeq: 1 }).where(eq(schema.conversations.id, conversation!.id));
    expect(await flags(message!.id)).toEqual({ a: false, r: false });
    const page = async () => (await ctx.call('GET', `/api/v1/conversations/${conversation!.id}/messages`)).json().data[0];

    // An upload is stored first and linked to its message later (an UPDATE of message_id).
    const [upload] = await db
      .insert(schema.attachments)
      .values({
        workspaceId,
        conversationId: conversation!.id,
        uploaderUserId: user!.id,
        storageKey: `workspaces/${workspaceId}/attachments/${crypto.randomUUID()}.pdf`,
        contentType: 'application/pdf',
        extension: 'pdf',
        sizeBytes: 10,
        originalName: 'a.pdf',
      })
      .returning();
    expect(await flags(message!.id)).toEqual({ a: false, r: false });
    await db.update(schema.attachments).set({ messageId: message!.id }).where(eq(schema.attachments.id, upload!.id));
    expect(await flags(message!.id)).toEqual({ a: true, r: false });
    expect((await page()).attachments.map((a: { id: string }) => a.id)).toEqual([upload!.id]);

    await db.insert(schema.reactions).values({ messageId: message!.id, workspaceId, chatUserId: user!.id, emoji: '👍' });
    expect(await flags(message!.id)).toEqual({ a: true, r: true });
    expect((await page()).reactions).toEqual([{ emoji: '👍', count: 1, user_ids: [user!.id] }]);

    // Removing the last reaction leaves the flag set (the flag merely saves lookups): the page still reads the truth.
    await db.delete(schema.reactions).where(eq(schema.reactions.messageId, message!.id));
    expect(await flags(message!.id)).toEqual({ a: true, r: true });
    expect((await page()).reactions).toEqual([]);
  });
});
