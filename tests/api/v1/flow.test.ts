import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, createTenant, startStack, type Tenant, type TestStack } from '@reusable-chat/testing';
import { callAs } from './helpers.ts';

describe.each(backends)('consumer API flow (%s)', (backend) => {
  let stack: TestStack;
  let tenant: Tenant;
  let call: ReturnType<typeof callAs>;
  beforeAll(async () => {
    stack = await startStack({ backend });
    tenant = await createTenant(stack.db);
    call = callAs(stack.app, tenant);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('user → session → conversation → message → list', async () => {
    const u1 = await call('POST', '/api/v1/users', { external_id: 'guest-1', name: 'Gina', email: 'gina@example.com' });
    expect(u1.statusCode).toBe(201);
    expect(u1.json()).toMatchObject({ external_id: 'guest-1', name: 'Gina', email: 'gina@example.com' });
    const again = await call('POST', '/api/v1/users', { external_id: 'guest-1', name: 'Gina B' });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ id: u1.json().id, name: 'Gina B', email: 'gina@example.com' });
    expect((await call('POST', '/api/v1/users', { external_id: 'host-1', name: 'Hank' })).statusCode).toBe(201);

    const session = await call('POST', '/api/v1/sessions', { external_id: 'guest-1' });
    expect(session.statusCode).toBe(201);
    expect(session.json().token).toMatch(/^wst_/);
    expect(session.json().user.external_id).toBe('guest-1');

    const conv = await call('POST', '/api/v1/conversations', {
      widget: 'guest-host',
      participants: [
        { external_id: 'guest-1', role: 'guest' },
        { external_id: 'host-1', role: 'host' },
      ],
      subject: 'booking:123',
      state: 'inquiry',
      metadata: { listing: 42 },
    });
    expect(conv.statusCode).toBe(201);
    const c = conv.json();
    expect(c).toMatchObject({ subject: 'booking:123', state: 'inquiry', widget: 'guest-host', type: 'direct' });
    expect(c.participants.map((p: { role: string }) => p.role).sort()).toEqual(['guest', 'host']);
    expect(c.participants[0].user.email).toBeUndefined();

    const m1 = await call('POST', `/api/v1/conversations/${c.id}/messages`, { sender_external_id: 'guest-1', content: 'Hello 👋🏽 שלום', client_id: 'c-1' });
    expect(m1.statusCode).toBe(201);
    expect(m1.json()).toMatchObject({ seq: 1, content: 'Hello 👋🏽 שלום', sender: { type: 'user', external_id: 'guest-1', name: 'Gina B' }, client_id: 'c-1', attachments: [], reactions: [] });
    const dup = await call('POST', `/api/v1/conversations/${c.id}/messages`, { sender_external_id: 'guest-1', content: 'Hello 👋🏽 שלום', client_id: 'c-1' });
    expect(dup.statusCode).toBe(200);
    expect(dup.json().id).toBe(m1.json().id);
    const sys = await call('POST', `/api/v1/conversations/${c.id}/messages`, { system: true, content: 'Booking requested' });
    expect(sys.statusCode).toBe(201);
    expect(sys.json()).toMatchObject({ seq: 2, type: 'system', sender: { type: 'system', id: null } });

    const list = await call('GET', `/api/v1/conversations/${c.id}/messages`);
    expect(list.statusCode).toBe(200);
    expect(list.json().data.map((m: { seq: number }) => m.seq)).toEqual([1, 2]);
    expect(list.json().next_cursor).toBeNull();

    const unread = await call('GET', '/api/v1/users/host-1/unread');
    expect(unread.json()).toMatchObject({ total: 2 });
    const guestUnread = await call('GET', '/api/v1/users/guest-1/unread');
    expect(guestUnread.json()).toMatchObject({ total: 1 });

    const mine = await call('GET', '/api/v1/users/host-1/conversations');
    expect(mine.json().data).toHaveLength(1);
    expect(mine.json().data[0]).toMatchObject({ id: c.id, unread_count: 2 });
  });

  it('pages back with before=<cursor> and catches up with after_seq', async () => {
    await call('POST', '/api/v1/users', { external_id: 'pager', name: 'P' });
    const conv = (await call('POST', '/api/v1/conversations', { participants: [{ external_id: 'pager' }] })).json();
    for (let i = 1; i <= 7; i++) {
      expect((await call('POST', `/api/v1/conversations/${conv.id}/messages`, { sender_external_id: 'pager', content: `m${i}` })).statusCode).toBe(201);
    }
    const p1 = (await call('GET', `/api/v1/conversations/${conv.id}/messages?limit=3`)).json();
    expect(p1.data.map((m: { seq: number }) => m.seq)).toEqual([5, 6, 7]);
    const p2 = (await call('GET', `/api/v1/conversations/${conv.id}/messages?limit=3&before=${p1.next_cursor}`)).json();
    expect(p2.data.map((m: { seq: number }) => m.seq)).toEqual([2, 3, 4]);
    const p3 = (await call('GET', `/api/v1/conversations/${conv.id}/messages?limit=3&before=${p2.next_cursor}`)).json();
    expect(p3.data.map((m: { seq: number }) => m.seq)).toEqual([1]);
    expect(p3.next_cursor).toBeNull();

    const f1 = (await call('GET', `/api/v1/conversations/${conv.id}/messages?after_seq=2&limit=3`)).json();
    expect(f1.data.map((m: { seq: number }) => m.seq)).toEqual([3, 4, 5]);
    const f2 = (await call('GET', `/api/v1/conversations/${conv.id}/messages?limit=3&cursor=${f1.next_cursor}`)).json();
    expect(f2.data.map((m: { seq: number }) => m.seq)).toEqual([6, 7]);
    expect(f2.next_cursor).toBeNull();

    // A cursor from one conversation is refused on another (bound to its list).
    const other = (await call('POST', '/api/v1/conversations', { participants: [{ external_id: 'pager' }] })).json();
    const cross = await call('GET', `/api/v1/conversations/${other.id}/messages?before=${p1.next_cursor}`);
    expect(cross.statusCode).toBe(400);
    expect(cross.json().error.code).toBe('invalid_cursor');
  });

  it('updates a conversation and manages participants', async () => {
    await call('POST', '/api/v1/users', { external_id: 'pa', name: 'A' });
    await call('POST', '/api/v1/users', { external_id: 'pb', name: 'B' });
    const conv = (await call('POST', '/api/v1/conversations', { participants: [{ external_id: 'pa' }] })).json();
    const upd = await call('PATCH', `/api/v1/conversations/${conv.id}`, { state: 'booked', metadata: { x: 1 } });
    expect(upd.statusCode).toBe(200);
    expect(upd.json()).toMatchObject({ state: 'booked', metadata: { x: 1 } });
    const add = await call('POST', `/api/v1/conversations/${conv.id}/participants`, { participants: [{ external_id: 'pb', role: 'member' }] });
    expect(add.statusCode).toBe(200);
    expect(add.json().participants).toHaveLength(2);
    const rm = await call('DELETE', `/api/v1/conversations/${conv.id}/participants/pb`);
    expect(rm.statusCode).toBe(204);
    expect((await call('GET', `/api/v1/conversations/${conv.id}`)).json().participants).toHaveLength(1);
    // A removed participant can no longer post.
    const post = await call('POST', `/api/v1/conversations/${conv.id}/messages`, { sender_external_id: 'pb', content: 'hi' });
    expect(post.statusCode).toBe(403);
    const byUser = await call('GET', '/api/v1/conversations?user=pa');
    expect(byUser.json().data.map((x: { id: string }) => x.id)).toContain(conv.id);
    const unknown = await call('POST', '/api/v1/conversations', { participants: [{ external_id: 'nobody' }] });
    expect(unknown.statusCode).toBe(422);
    expect(unknown.json().error.details.unknown_external_ids).toEqual(['nobody']);
  });

  it('documents every /api/v1 operation in OpenAPI with a tag, a summary and the API-key security scheme', async () => {
    const doc = (await stack.app.inject({ method: 'GET', url: '/api/openapi.json' })).json() as {
      paths: Record<string, Record<string, { tags?: string[]; summary?: string; security?: unknown[] }>>;
    };
    const v1 = Object.entries(doc.paths).filter(([path]) => path.startsWith('/api/v1/'));
    expect(v1.length).toBeGreaterThan(15);
    for (const [path, ops] of v1) {
      for (const [method, op] of Object.entries(ops)) {
        expect(op.tags?.length, `${method} ${path}`).toBeGreaterThan(0);
        expect(op.summary, `${method} ${path}`).toEqual(expect.any(String));
        expect(op.security, `${method} ${path}`).toEqual([{ apiKey: [] }]);
      }
    }
  });
});
