import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticateWidgetSession, type DomainEvent } from '@reusable-chat/core';
import { schema } from '@reusable-chat/db';
import { backends, createTenant, startStack, type Tenant, type TestStack } from '@reusable-chat/testing';
import { callAs } from './helpers.ts';

/** Bans, session revocation, erasure, export and streamed exports, with the domain events they emit. */
describe.each(backends)('consumer API user lifecycle (%s)', (backend) => {
  let stack: TestStack;
  let tenant: Tenant;
  let call: ReturnType<typeof callAs>;
  let conversationId: string;
  const events: DomainEvent[] = [];
  beforeAll(async () => {
    stack = await startStack({ backend });
    tenant = await createTenant(stack.db);
    call = callAs(stack.app, tenant);
    stack.deps.events.subscribe((e) => {
      events.push(e);
    });
    for (const [id, name] of [['ann', 'Ann'], ['ben', 'Ben'], ['eve', 'Eve'], ['del', 'Del']]) {
      await call('POST', '/api/v1/users', { external_id: id, name, email: `${id}@example.com`, metadata: { plan: 'pro' } });
    }
    conversationId = (
      await call('POST', '/api/v1/conversations', {
        participants: [{ external_id: 'ann' }, { external_id: 'ben' }, { external_id: 'eve' }, { external_id: 'del' }],
      })
    ).json().id;
  });
  afterAll(async () => {
    await stack?.close();
  });
  const send = (who: string, content: string) => call('POST', `/api/v1/conversations/${conversationId}/messages`, { sender_external_id: who, content });

  it('emits message.created after commit with the API JSON', async () => {
    events.length = 0;
    const res = await send('ann', 'event please');
    const event = events.find((e) => e.type === 'message.created');
    expect(event).toBeDefined();
    expect(event!.type === 'message.created' && event!.message).toEqual(res.json());
    // The row was committed before the event: visible from a fresh read.
    const rows = await stack.db.select().from(schema.messages).where(eq(schema.messages.id, res.json().id));
    expect(rows).toHaveLength(1);
  });

  it('bans with expiry: sends and new sessions refused, user.banned emitted, audit written; unban restores', async () => {
    events.length = 0;
    const ban = await call('POST', '/api/v1/bans', { external_id: 'ben', reason: 'spam', duration_s: 3600 });
    expect(ban.statusCode).toBe(201);
    expect(ban.json()).toMatchObject({ reason: 'spam', lifted_at: null });
    expect(new Date(ban.json().expires_at).getTime()).toBeGreaterThan(Date.now());
    expect(events.some((e) => e.type === 'user.banned' && e.chatUserId === ban.json().user_id)).toBe(true);
    const refused = await send('ben', 'let me in');
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe('user_banned');
    expect((await call('POST', '/api/v1/sessions', { external_id: 'ben' })).json().error.code).toBe('user_banned');
    const list = (await call('GET', '/api/v1/bans')).json();
    expect(list.data.map((b: { id: string }) => b.id)).toEqual([ban.json().id]);
    const audit = await stack.db.select().from(schema.auditLog).where(and(eq(schema.auditLog.workspaceId, tenant.workspaceId), eq(schema.auditLog.action, 'user.banned')));
    expect(audit).toHaveLength(1);
    expect(audit[0]!.actorType).toBe('api_key');

    expect((await call('DELETE', '/api/v1/bans/ben')).json()).toEqual({ lifted: 1 });
    expect((await call('DELETE', '/api/v1/bans/ben')).json()).toEqual({ lifted: 0 });
    expect((await send('ben', 'back again')).statusCode).toBe(201);
    expect((await call('GET', '/api/v1/bans')).json().data).toEqual([]);
    expect((await call('GET', '/api/v1/bans?include_inactive=true')).json().data).toHaveLength(1);

    // An expired ban no longer applies.
    await call('POST', '/api/v1/bans', { external_id: 'ben', reason: 'short' });
    await stack.db.update(schema.bans).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(schema.bans.reason, 'short'));
    expect((await send('ben', 'expired ban')).statusCode).toBe(201);
    expect((await call('POST', '/api/v1/bans', { external_id: 'ben', expires_at: '2001-01-01T00:00:00Z' })).statusCode).toBe(422);
  });

  it('revokes one session or all of a user, emitting session.revoked', async () => {
    const s1 = (await call('POST', '/api/v1/sessions', { external_id: 'ann', expires_in: 600 })).json();
    const s2 = (await call('POST', '/api/v1/sessions', { external_id: 'ann' })).json();
    expect(new Date(s1.expires_at).getTime() - Date.now()).toBeLessThanOrEqual(600_000);
    expect(await authenticateWidgetSession({ db: stack.db, token: s1.token })).not.toBeNull();
    events.length = 0;
    expect((await call('DELETE', `/api/v1/sessions/${s1.id}`)).statusCode).toBe(204);
    expect(events.some((e) => e.type === 'session.revoked' && e.chatUserIds.includes(s1.user.id))).toBe(true);
    expect(await authenticateWidgetSession({ db: stack.db, token: s1.token })).toBeNull();
    expect(await authenticateWidgetSession({ db: stack.db, token: s2.token })).not.toBeNull();
    expect((await call('DELETE', `/api/v1/sessions/${s1.id}`)).statusCode).toBe(404);
    expect((await call('DELETE', '/api/v1/users/ann/sessions')).json()).toEqual({ revoked: 1 });
    expect(await authenticateWidgetSession({ db: stack.db, token: s2.token })).toBeNull();
    const tokens = await stack.db.select().from(schema.widgetSessions);
    expect(JSON.stringify(tokens)).not.toContain(s2.token);
  });

  it('never turns an empty or unknown identifier into a broad delete (G-04)', async () => {
    const live = (await call('POST', '/api/v1/sessions', { external_id: 'ann' })).json();
    for (const url of [
      '/api/v1/users//sessions',
      '/api/v1/users/%20/sessions',
      '/api/v1/sessions/00000000-0000-0000-0000-000000000000',
      '/api/v1/sessions/',
      '/api/v1/bans/',
      '/api/v1/users/nobody/sessions',
      `/api/v1/conversations/${conversationId}/participants/`,
    ]) {
      const res = await call('DELETE', url);
      expect(res.statusCode, url).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, url).toBeLessThan(500);
    }
    expect(await authenticateWidgetSession({ db: stack.db, token: live.token })).not.toBeNull();
    expect((await call('GET', `/api/v1/conversations/${conversationId}`)).json().participants).toHaveLength(4);
  });

  it('exports a user as JSON with their messages, and audits it', async () => {
    const res = await call('GET', '/api/v1/users/eve/export');
    expect(res.statusCode).toBe(200);
    await send('eve', 'for the export');
    const data = (await call('GET', '/api/v1/users/eve/export')).json();
    expect(data.user).toMatchObject({ external_id: 'eve', email: 'eve@example.com', metadata: { plan: 'pro' } });
    expect(data.messages.map((m: { content: string }) => m.content)).toEqual(['for the export']);
    expect(data.conversations.map((c: { id: string }) => c.id)).toEqual([conversationId]);
    const audit = await stack.db.select().from(schema.auditLog).where(eq(schema.auditLog.action, 'user.exported'));
    expect(audit.length).toBeGreaterThanOrEqual(2);
  });

  it('erases a user: anonymised messages, revoked sessions, cleared PII, audit row; external_id free again', async () => {
    await send('eve', 'my phone is 555-1234');
    const session = (await call('POST', '/api/v1/sessions', { external_id: 'eve' })).json();
    const eveId = session.user.id as string;
    events.length = 0;
    const res = await call('POST', '/api/v1/users/eve/erase');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ erased: true, mode: 'anonymize', messages: 2, sessions_revoked: 1 });
    expect(events.some((e) => e.type === 'session.revoked' && e.chatUserIds.includes(eveId))).toBe(true);
    expect(await authenticateWidgetSession({ db: stack.db, token: session.token })).toBeNull();
    const [row] = await stack.db.select().from(schema.chatUsers).where(eq(schema.chatUsers.id, eveId));
    expect(row).toMatchObject({ name: '', email: null, avatarUrl: null, metadata: {} });
    expect(row!.erasedAt).not.toBeNull();
    expect(row!.externalId).not.toBe('eve');
    const msgs = await stack.db.select().from(schema.messages).where(eq(schema.messages.senderUserId, eveId));
    expect(msgs).toHaveLength(2);
    for (const m of msgs) {
      expect(m.content).toBe('');
      expect(m.deletedAt).not.toBeNull();
    }
    const listed = (await call('GET', `/api/v1/conversations/${conversationId}/messages?limit=100`)).json().data;
    expect(JSON.stringify(listed)).not.toContain('555-1234');
    expect((await call('GET', '/api/v1/users/eve')).statusCode).toBe(404);
    const audit = await stack.db.select().from(schema.auditLog).where(eq(schema.auditLog.action, 'user.erased'));
    expect(audit).toHaveLength(1);
    expect(JSON.stringify(audit)).not.toContain('eve@example.com');
    // The tenant may register the same external_id again: a new, separate user.
    const again = await call('POST', '/api/v1/users', { external_id: 'eve', name: 'New Eve' });
    expect(again.statusCode).toBe(201);
    expect(again.json().id).not.toBe(eveId);
  });

  it("erases by deleting messages when the workspace's erasure setting is delete", async () => {
    await stack.db.update(schema.workspaces).set({ settings: { erasure: 'delete' } }).where(eq(schema.workspaces.id, tenant.workspaceId));
    await send('del', 'to be deleted');
    const delId = (await call('GET', '/api/v1/users/del')).json().id;
    const res = await call('POST', '/api/v1/users/del/erase');
    expect(res.json()).toMatchObject({ mode: 'delete', messages: 1 });
    expect(await stack.db.select().from(schema.messages).where(eq(schema.messages.senderUserId, delId))).toHaveLength(0);
    await stack.db.update(schema.workspaces).set({ settings: {} }).where(eq(schema.workspaces.id, tenant.workspaceId));
  });

  it('streams conversations and messages as JSON Lines and CSV', async () => {
    await send('ann', '=SUM(A1:A9)*"x"');
    await send('ann', 'comma, "quote"\nnewline');
    const jsonl = await call('GET', `/api/v1/exports/messages?conversation_id=${conversationId}`);
    expect(jsonl.statusCode).toBe(200);
    expect(jsonl.headers['content-type']).toContain('application/x-ndjson');
    const lines = jsonl.body.trim().split('\n').map((l) => JSON.parse(l));
    const seqs = lines.map((l: { seq: number }) => l.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(lines.at(-1)).toMatchObject({ content: 'comma, "quote"\nnewline', sender_external_id: 'ann' });

    const csv = await call('GET', '/api/v1/exports/messages?format=csv');
    expect(csv.headers['content-type']).toContain('text/csv');
    expect(csv.body.startsWith('id,conversation_id,seq,')).toBe(true);
    expect(csv.body).toContain(`"'=SUM(A1:A9)*""x"""`);
    expect(csv.body).toContain('"comma, ""quote""\nnewline"');

    const convs = await call('GET', '/api/v1/exports/conversations?format=csv');
    expect(convs.statusCode).toBe(200);
    expect(convs.body.split('\r\n')[0]).toBe('id,type,subject,state,name,status,metadata,last_seq,last_message_at,created_at,closed_at');
    expect(convs.body).toContain(conversationId);
    const future = await call('GET', '/api/v1/exports/conversations?since=2999-01-01T00:00:00Z');
    expect(future.body).toBe('');
    const audit = await stack.db.select().from(schema.auditLog).where(eq(schema.auditLog.action, 'export.messages'));
    expect(audit.length).toBe(2);
  });
});
