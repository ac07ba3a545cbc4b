import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { and, eq } from 'drizzle-orm';
import { schema } from '@reusable-chat/db';
import type { DomainEvent } from '@reusable-chat/core';
import { backends, startStack, type TestStack } from '@reusable-chat/testing';
import { bearer, createWidgetTenant, mintSession, ORIGIN_A, seedConversation, type WidgetSession, type WidgetTenant } from './widget-helpers.ts';

describe.each(backends)('widget conversations and messages (%s)', (backend) => {
  let stack: TestStack;
  let a: WidgetTenant;
  let guest: WidgetSession;
  let host: WidgetSession;
  let conversationId: string;
  const events: DomainEvent[] = [];

  beforeAll(async () => {
    stack = await startStack({ backend });
    stack.deps.events.subscribe((e) => {
      events.push(e);
    });
    a = await createWidgetTenant(stack.db, ORIGIN_A);
    guest = await mintSession(stack.app, a, 'guest-1', 'Guest');
    host = await mintSession(stack.app, a, 'host-1', 'Host');
    conversationId = await seedConversation(stack.db, a, [
      { userId: guest.userId, role: 'guest' },
      { userId: host.userId, role: 'host' },
    ]);
  });
  afterAll(async () => {
    await stack?.close();
  });

  const call = (session: WidgetSession, method: string, url: string, payload?: unknown) =>
    stack.app.inject({ method: method as 'GET', url, headers: bearer(session), ...(payload !== undefined ? { payload: payload as object } : {}) });
  const send = (session: WidgetSession, content: string, clientId?: string) =>
    call(session, 'POST', `/api/widget/conversations/${conversationId}/messages`, { content, ...(clientId ? { client_id: clientId } : {}) });

  it('sends, dedupes a retried client_id, and two concurrent sends with one client_id store one message (F-14)', async () => {
    const first = await send(guest, 'hello', 'c-1');
    expect(first.statusCode).toBe(201);
    expect(first.headers['content-type']).toContain('application/json');
    const msg = first.json();
    expect(msg).toMatchObject({ conversation_id: conversationId, content: 'hello', client_id: 'c-1', sender: { type: 'user', id: guest.userId } });
    const retry = await send(guest, 'hello', 'c-1');
    expect(retry.statusCode).toBe(200);
    expect(retry.json().id).toBe(msg.id);

    const racers = await Promise.all(Array.from({ length: 5 }, () => send(guest, 'race', 'c-race')));
    const ids = new Set(racers.map((r) => r.json().id));
    expect(ids.size).toBe(1);
    expect(racers.filter((r) => r.statusCode === 201)).toHaveLength(1);
    const stored = await stack.db
      .select()
      .from(schema.messages)
      .where(and(eq(schema.messages.conversationId, conversationId), eq(schema.messages.clientId, 'c-race')));
    expect(stored).toHaveLength(1);
    expect(events.filter((e) => e.type === 'message.created' && (e.message as { client_id: string }).client_id === 'c-race')).toHaveLength(1);
  });

  it('pages back with before=<cursor> and catches up with after_seq exactly', async () => {
    for (let i = 0; i < 7; i++) expect((await send(host, `page ${i}`)).statusCode).toBe(201);
    const all = (await call(guest, 'GET', `/api/widget/conversations/${conversationId}/messages?limit=100`)).json().data as { seq: number }[];
    const seqs = all.map((m) => m.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));

    const newest = (await call(guest, 'GET', `/api/widget/conversations/${conversationId}/messages?limit=3`)).json();
    expect(newest.data.map((m: { seq: number }) => m.seq)).toEqual(seqs.slice(-3));
    expect(newest.next_cursor).toEqual(expect.any(String));
    const older = (
      await call(guest, 'GET', `/api/widget/conversations/${conversationId}/messages?limit=3&before=${encodeURIComponent(newest.next_cursor)}`)
    ).json();
    expect(older.data.map((m: { seq: number }) => m.seq)).toEqual(seqs.slice(-6, -3));

    const from = seqs.at(-4)!;
    const gap = (await call(guest, 'GET', `/api/widget/conversations/${conversationId}/messages?after_seq=${from}`)).json();
    expect(gap.data.map((m: { seq: number }) => m.seq)).toEqual(seqs.filter((s) => s > from));
    expect(gap.next_cursor).toBeNull();
    const none = (await call(guest, 'GET', `/api/widget/conversations/${conversationId}/messages?after_seq=${seqs.at(-1)}`)).json();
    expect(none.data).toEqual([]);
  });

  it('edits and deletes only own messages, only within the window', async () => {
    const mine = (await send(guest, 'tpyo')).json();
    const theirs = (await send(host, 'host text')).json();
    const url = (id: string) => `/api/widget/conversations/${conversationId}/messages/${id}`;
    const edited = await call(guest, 'PATCH', url(mine.id), { content: 'typo' });
    expect(edited.statusCode).toBe(200);
    expect(edited.json()).toMatchObject({ id: mine.id, content: 'typo', seq: mine.seq });
    expect(edited.json().edited_at).toEqual(expect.any(String));
    expect(events.some((e) => e.type === 'message.updated' && (e.message as { id: string }).id === mine.id)).toBe(true);

    expect((await call(guest, 'PATCH', url(theirs.id), { content: 'hijack' })).statusCode).toBe(403);
    expect((await call(guest, 'DELETE', url(theirs.id))).statusCode).toBe(403);

    await stack.db.update(schema.messages).set({ createdAt: new Date(Date.now() - 3600_000) }).where(eq(schema.messages.id, theirs.id));
    const old = await call(host, 'PATCH', url(theirs.id), { content: 'too late' });
    expect(old.statusCode).toBe(403);
    expect(old.json().error.details.edit_window_s).toBe(900);

    const deleted = await call(guest, 'DELETE', url(mine.id));
    expect(deleted.statusCode).toBe(200);
    expect(deleted.json()).toMatchObject({ id: mine.id, content: '', seq: mine.seq });
    expect(deleted.json().deleted_at).toEqual(expect.any(String));
    expect((await call(guest, 'DELETE', url(mine.id))).statusCode).toBe(404);
    expect((await call(guest, 'PATCH', url(mine.id), { content: 'zombie' })).statusCode).toBe(404);
  });

  it('reactions: add once, list on the message, remove', async () => {
    const m = (await send(host, 'react to me')).json();
    const url = `/api/widget/conversations/${conversationId}/messages/${m.id}/reactions`;
    const added = await call(guest, 'POST', url, { emoji: '🎉' });
    expect(added.statusCode).toBe(201);
    expect(added.json()).toMatchObject({ message_id: m.id, emoji: '🎉', user_id: guest.userId });
    expect((await call(guest, 'POST', url, { emoji: '🎉' })).statusCode).toBe(200);
    const page = (await call(guest, 'GET', `/api/widget/conversations/${conversationId}/messages?after_seq=${m.seq - 1}`)).json();
    expect(page.data[0].reactions).toEqual([{ emoji: '🎉', count: 1, user_ids: [guest.userId] }]);
    expect((await call(guest, 'POST', url, { emoji: 'two words' })).statusCode).toBe(422);
    expect((await call(guest, 'DELETE', `${url}/${encodeURIComponent('🎉')}`)).statusCode).toBe(200);
    expect((await call(guest, 'DELETE', `${url}/${encodeURIComponent('🎉')}`)).statusCode).toBe(404);
    expect(events.filter((e) => e.type === 'reaction.added' || e.type === 'reaction.removed').map((e) => e.type)).toEqual(['reaction.added', 'reaction.removed']);
  });

  it('read receipts: messages.read to the conversation, unread.updated to the reader; list shows unread and last message', async () => {
    const list = (await call(guest, 'GET', '/api/widget/conversations')).json();
    const row = list.data.find((c: { id: string }) => c.id === conversationId);
    expect(row.unread_count).toBeGreaterThan(0);
    expect(row.last_message.content).toBe('react to me');
    const lastSeq = row.last_message.seq as number;

    events.length = 0;
    const read = await call(guest, 'POST', `/api/widget/conversations/${conversationId}/read`, { seq: lastSeq });
    expect(read.statusCode).toBe(200);
    expect(read.json()).toMatchObject({ last_read_seq: lastSeq, unread_count: 0, total_unread: 0 });
    expect(events.find((e) => e.type === 'messages.read')).toMatchObject({ conversationId, chatUserId: guest.userId, seq: lastSeq });
    expect(events.find((e) => e.type === 'unread.updated')).toMatchObject({ chatUserId: guest.userId, unread: { conversation_id: conversationId, unread_count: 0 } });
    // A stale, smaller seq never un-reads and emits nothing.
    events.length = 0;
    expect((await call(guest, 'POST', `/api/widget/conversations/${conversationId}/read`, { seq: 1 })).json().last_read_seq).toBe(lastSeq);
    expect(events).toEqual([]);
    const me = (await call(guest, 'GET', '/api/widget/me')).json();
    expect(me.unread_total).toBe(0);
  });

  it('typing emits user.typing with an allowlisted shape only (V-23)', async () => {
    events.length = 0;
    expect((await call(guest, 'POST', `/api/widget/conversations/${conversationId}/typing`, { is_typing: true })).statusCode).toBe(200);
    expect(events).toEqual([
      expect.objectContaining({ type: 'user.typing', conversationId, isTyping: true, user: expect.objectContaining({ id: guest.userId }) }),
    ]);
    expect((await call(guest, 'POST', `/api/widget/conversations/${conversationId}/typing`, { is_typing: '<img src=x onerror=alert(1)>' })).statusCode).toBe(422);
    expect((await call(guest, 'POST', `/api/widget/conversations/${conversationId}/typing`, { is_typing: true, html: '<b>' })).statusCode).toBe(422);
  });

  it('reports go to the moderation queue once per reporter', async () => {
    const m = (await send(host, 'buy cheap pills')).json();
    const url = `/api/widget/conversations/${conversationId}/messages/${m.id}/report`;
    const first = await call(guest, 'POST', url, { reason: 'spam' });
    expect(first.statusCode).toBe(201);
    expect(first.json()).toMatchObject({ message_id: m.id, source: 'report', status: 'open', reason: 'spam' });
    expect((await call(guest, 'POST', url, { reason: 'again' })).statusCode).toBe(200);
    const rows = await stack.db.select().from(schema.reports).where(eq(schema.reports.messageId, m.id));
    expect(rows).toHaveLength(1);
    expect(rows[0]!.reporterUserId).toBe(guest.userId);
    expect(events.some((e) => e.type === 'report.created')).toBe(true);
  });

  it("blocks: the blocked user's messages are not delivered to the blocker over HTTP; user.blocked is emitted", async () => {
    events.length = 0;
    const blocked = await call(guest, 'POST', '/api/widget/blocks', { user_id: host.userId });
    expect(blocked.statusCode).toBe(201);
    expect(events).toEqual([expect.objectContaining({ type: 'user.blocked', blockerUserId: guest.userId, blockedUserId: host.userId })]);
    expect((await call(guest, 'POST', '/api/widget/blocks', { user_id: guest.userId })).statusCode).toBe(422);
    const caughtUp = (await call(guest, 'GET', `/api/widget/conversations/${conversationId}`)).json().last_seq as number;
    await call(guest, 'POST', `/api/widget/conversations/${conversationId}/read`, { seq: caughtUp });
    await send(host, 'unwanted zebra');
    // Not shown, so not counted: badges agree with the list.
    expect((await call(guest, 'GET', `/api/widget/conversations/${conversationId}`)).json().unread_count).toBe(0);
    expect((await call(guest, 'GET', '/api/widget/me')).json().unread_total).toBe(0);
    await send(guest, 'my own zebra');
    const page = (await call(guest, 'GET', `/api/widget/conversations/${conversationId}/messages`)).json();
    expect(page.data.some((m: { sender: { id: string } }) => m.sender.id === host.userId)).toBe(false);
    const list = (await call(guest, 'GET', '/api/widget/conversations')).json();
    expect(list.data.find((c: { id: string }) => c.id === conversationId).last_message.content).toBe('my own zebra');
    const search = (await call(guest, 'GET', '/api/widget/search?q=zebra')).json();
    expect(search.data.map((m: { content: string }) => m.content)).toEqual(['my own zebra']);
    // The blocked user still sees everything of their own.
    const hostView = (await call(host, 'GET', '/api/widget/search?q=zebra')).json();
    expect(hostView.data).toHaveLength(2);
    expect((await call(guest, 'GET', '/api/widget/blocks')).json().data[0].user.id).toBe(host.userId);

    expect((await call(guest, 'DELETE', `/api/widget/blocks/${host.userId}`)).statusCode).toBe(200);
    const after = (await call(guest, 'GET', `/api/widget/conversations/${conversationId}/messages`)).json();
    expect(after.data.some((m: { content: string }) => m.content === 'unwanted zebra')).toBe(true);
  });

  it('search uses full text over own conversations, with pages', async () => {
    for (let i = 0; i < 3; i++) await send(guest, `quokka number ${i}`);
    const p1 = (await call(guest, 'GET', '/api/widget/search?q=quokka&limit=2')).json();
    expect(p1.data.map((m: { content: string }) => m.content)).toEqual(['quokka number 2', 'quokka number 1']);
    const p2 = (await call(guest, 'GET', `/api/widget/search?q=quokka&limit=2&cursor=${encodeURIComponent(p1.next_cursor)}`)).json();
    expect(p2.data.map((m: { content: string }) => m.content)).toEqual(['quokka number 0']);
    expect(p2.next_cursor).toBeNull();
    const scoped = (await call(guest, 'GET', `/api/widget/search?q=quokka&conversation_id=${conversationId}`)).json();
    expect(scoped.data).toHaveLength(3);
  });

  it('starts conversations where the configuration allows, with roles, and limits the rate (V-30)', async () => {
    const visitor = await mintSession(stack.app, a, 'guest-starter');
    const res = await call(visitor, 'POST', '/api/widget/conversations', { widget: 'guest-host', with_user_id: host.userId, subject: 'listing:42' });
    expect(res.statusCode).toBe(201);
    const conv = res.json();
    expect(conv).toMatchObject({ widget: 'guest-host', subject: 'listing:42', unread_count: 0, last_message: null });
    expect(conv.participants.map((p: { user: { id: string }; role: string }) => [p.user.id, p.role])).toEqual([
      [visitor.userId, 'guest'],
      [host.userId, 'host'],
    ]);
    expect(events.some((e) => e.type === 'conversation.created')).toBe(true);
    expect((await call(visitor, 'GET', `/api/widget/conversations/${conv.id}`)).statusCode).toBe(200);

    const support = await call(visitor, 'POST', '/api/widget/conversations', { widget: 'support' });
    expect(support.statusCode).toBe(201);
    expect(support.json().participants).toHaveLength(1);
    expect((await call(visitor, 'POST', '/api/widget/conversations', { widget: 'nope' })).statusCode).toBe(404);

    // A configuration nobody may start in.
    await stack.db
      .update(schema.widgetConfigs)
      .set({ roles: { participant_roles: ['guest', 'host'], can_start: [] } })
      .where(and(eq(schema.widgetConfigs.workspaceId, a.workspaceId), eq(schema.widgetConfigs.slug, 'support')));
    expect((await call(visitor, 'POST', '/api/widget/conversations', { widget: 'support' })).statusCode).toBe(403);

    let limited;
    for (let i = 0; i < 25; i++) {
      limited = await call(visitor, 'POST', '/api/widget/conversations', { widget: 'guest-host' });
      if (limited.statusCode === 429) break;
    }
    expect(limited!.statusCode).toBe(429);
    expect(Number(limited!.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('lists conversations by recent activity with stable pages and subject/widget filters', async () => {
    const lister = await mintSession(stack.app, a, 'guest-lister');
    const ids: string[] = [];
    for (const subject of ['listing:1', 'listing:2', 'listing:3']) {
      const res = await call(lister, 'POST', '/api/widget/conversations', { with_user_id: host.userId, subject });
      ids.push(res.json().id);
    }
    // Activity in the oldest moves it to the top.
    await call(lister, 'POST', `/api/widget/conversations/${ids[0]}/messages`, { content: 'bump' });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor ? `?limit=1&cursor=${encodeURIComponent(cursor)}` : '?limit=1';
      const page = (await call(lister, 'GET', `/api/widget/conversations${q}`)).json();
      seen.push(...page.data.map((c: { id: string }) => c.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual([ids[0], ids[2], ids[1]]);
    const bySubject = (await call(lister, 'GET', '/api/widget/conversations?subject=listing%3A2')).json();
    expect(bySubject.data.map((c: { id: string }) => c.id)).toEqual([ids[1]]);
    expect((await call(lister, 'GET', '/api/widget/conversations?widget=support')).json().data).toEqual([]);
    expect((await call(lister, 'GET', '/api/widget/conversations?widget=guest-host')).json().data).toHaveLength(3);
    // A cursor belongs to its list: the same user's cursor under another filter, or another user's, is refused.
    const first = (await call(lister, 'GET', '/api/widget/conversations?limit=1')).json().next_cursor as string;
    expect((await call(lister, 'GET', `/api/widget/conversations?widget=guest-host&cursor=${encodeURIComponent(first)}`)).statusCode).toBe(400);
    expect((await call(host, 'GET', `/api/widget/conversations?cursor=${encodeURIComponent(first)}`)).statusCode).toBe(400);
  });

  it("V-30: the configuration's message rate per session answers 429 with Retry-After", async () => {
    const tight = await createWidgetTenant(stack.db, 'https://tight.example', { rateLimits: { per_session_per_minute: 3 } });
    const s = await mintSession(stack.app, tight, 'chatty');
    const conv = (await call(s, 'POST', '/api/widget/conversations', { widget: 'support' })).json();
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push((await call(s, 'POST', `/api/widget/conversations/${conv.id}/messages`, { content: `msg ${i}` })).statusCode);
    }
    expect(statuses).toEqual([201, 201, 201, 429]);
    const limited = await call(s, 'POST', `/api/widget/conversations/${conv.id}/messages`, { content: 'again' });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('leaving ends access to the conversation', async () => {
    const leaver = await mintSession(stack.app, a, 'guest-leaver');
    const conv = (await call(leaver, 'POST', '/api/widget/conversations', { with_user_id: host.userId })).json();
    expect((await call(leaver, 'POST', `/api/widget/conversations/${conv.id}/leave`)).statusCode).toBe(200);
    expect((await call(leaver, 'GET', `/api/widget/conversations/${conv.id}`)).statusCode).toBe(404);
    expect((await call(leaver, 'POST', `/api/widget/conversations/${conv.id}/messages`, { content: 'still here?' })).statusCode).toBe(404);
    expect(events.some((e) => e.type === 'participant.left' && e.conversationId === conv.id)).toBe(true);
  });
});
