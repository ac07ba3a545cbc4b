import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { sendMessage } from '@reusable-chat/core';
import { backends, startStack, type TestStack } from '@reusable-chat/testing';
import {
  bearer,
  createWidgetTenant,
  mintSession,
  multipartFile,
  mutableRowCounts,
  ORIGIN_A,
  ORIGIN_B,
  seedConversation,
  type WidgetSession,
  type WidgetTenant,
} from './widget-helpers.ts';

/**
 * Tenant isolation for EVERY route under /api/widget and /api/embed (T-03, T-05, T-09, T-14, A-06, A-07,
 * The route list comes from the router itself: a new route without an entry in `requests` fails
 * the first test, so nobody can add a route that escapes these checks.
 */
interface Ids {
  conversationId: string;
  messageId: string;
  userId: string;
  attachmentId: string;
}
type Build = (ids: Ids) => { payload?: unknown; headers?: Record<string, string> };

const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#c00' } }).png().toBuffer();

const requests: Record<string, Build> = {
  'GET /api/widget/me': () => ({}),
  'GET /api/widget/conversations': () => ({}),
  'POST /api/widget/conversations': (ids) => ({ payload: { with_user_id: ids.userId } }),
  'GET /api/widget/conversations/:id': () => ({}),
  'POST /api/widget/conversations/:id/leave': () => ({}),
  'GET /api/widget/conversations/:id/messages': () => ({}),
  'POST /api/widget/conversations/:id/messages': () => ({ payload: { content: 'hello', client_id: 'iso-1' } }),
  'PATCH /api/widget/conversations/:id/messages/:messageId': () => ({ payload: { content: 'edited' } }),
  'DELETE /api/widget/conversations/:id/messages/:messageId': () => ({}),
  'POST /api/widget/conversations/:id/messages/:messageId/reactions': () => ({ payload: { emoji: '👍' } }),
  'DELETE /api/widget/conversations/:id/messages/:messageId/reactions/:emoji': () => ({}),
  'POST /api/widget/conversations/:id/messages/:messageId/report': () => ({ payload: { reason: 'spam' } }),
  'POST /api/widget/conversations/:id/read': () => ({ payload: { seq: 1 } }),
  'POST /api/widget/conversations/:id/typing': () => ({ payload: { is_typing: true } }),
  'POST /api/widget/conversations/:id/attachments': () => {
    const m = multipartFile(png, { filename: 'a.png', contentType: 'image/png' });
    return { payload: m.payload, headers: m.headers };
  },
  'GET /api/widget/attachments/:id': () => ({}),
  'GET /api/widget/blocks': () => ({}),
  'POST /api/widget/blocks': (ids) => ({ payload: { user_id: ids.userId } }),
  'DELETE /api/widget/blocks/:userId': () => ({}),
  'GET /api/widget/search': () => ({}),
  // REALTIME's channel authorisation lives under /api/widget too (T-09: 403, no signature).
  'POST /api/widget/broadcasting/auth': (ids) => ({ payload: { socket_id: '123.456', channel_name: `private-conversation.${ids.conversationId}` } }),
  'POST /api/widget/broadcasting/user-auth': () => ({ payload: { socket_id: '123.456' } }),
  'POST /api/embed/init': () => ({}),
  'POST /api/embed/session': () => ({}),
};

/** Routes whose answer to a foreign id is not 404 by design: channel auth says 403 (T-09). */
const foreignStatus: Record<string, number[]> = {
  'POST /api/widget/broadcasting/auth': [403],
};

function fill(url: string, ids: Ids): string {
  return url
    .replace(':id', url.startsWith('/api/widget/attachments/') ? ids.attachmentId : ids.conversationId)
    .replace(':messageId', ids.messageId)
    .replace(':userId', ids.userId)
    .replace(':emoji', encodeURIComponent('👍'));
}

describe.each(backends)('tenant isolation on every widget and embed route (%s)', (backend) => {
  let stack: TestStack;
  let a: WidgetTenant;
  let b: WidgetTenant;
  let vA1: WidgetSession;
  let vA2: WidgetSession;
  let hostA: WidgetSession;
  let vB1: WidgetSession;
  let idsA: Ids;
  let idsB: Ids;

  async function seed(tenant: WidgetTenant, guest: WidgetSession, host: WidgetSession): Promise<Ids> {
    const conversationId = await seedConversation(stack.db, tenant, [
      { userId: guest.userId, role: 'guest' },
      { userId: host.userId, role: 'host' },
    ]);
    const sent = await sendMessage({
      db: stack.db,
      workspaceId: tenant.workspaceId,
      conversationId,
      sender: { type: 'user', chatUserId: host.userId },
      content: 'secret of ' + tenant.workspaceId,
    });
    const up = multipartFile(png, { filename: 'p.png', contentType: 'image/png' });
    const res = await stack.app.inject({
      method: 'POST',
      url: `/api/widget/conversations/${conversationId}/attachments`,
      headers: { ...bearer(host), ...up.headers },
      payload: up.payload,
    });
    expect(res.statusCode).toBe(201);
    return { conversationId, messageId: sent.message.id, userId: host.userId, attachmentId: res.json().id };
  }

  beforeAll(async () => {
    stack = await startStack({ backend });
    a = await createWidgetTenant(stack.db, ORIGIN_A);
    b = await createWidgetTenant(stack.db, ORIGIN_B);
    vA1 = await mintSession(stack.app, a, 'guest-a1');
    vA2 = await mintSession(stack.app, a, 'guest-a2');
    hostA = await mintSession(stack.app, a, 'host-a');
    vB1 = await mintSession(stack.app, b, 'guest-b1');
    const hostB = await mintSession(stack.app, b, 'host-b');
    idsA = await seed(a, vA1, hostA);
    idsB = await seed(b, vB1, hostB);
  });
  afterAll(async () => {
    await stack?.close();
  });

  const routeKeys = () => stack.app.browserApiRoutes.map((r) => `${r.method} ${r.url}`);

  it('knows how to call every registered route', () => {
    const keys = routeKeys();
    expect(keys.length).toBeGreaterThan(20);
    expect(keys.filter((k) => !(k in requests))).toEqual([]);
  });

  it("A's session with B's ids → 404 on every route with an id (T-03, T-05, T-14)", async () => {
    const before = await mutableRowCounts(stack.db);
    const checked: string[] = [];
    for (const key of routeKeys()) {
      const [method, url] = key.split(' ') as [string, string];
      if (url.startsWith('/api/embed/')) continue;
      const req = requests[key]!(idsB);
      const hasForeignRef = url.includes(':') || req.payload !== undefined && JSON.stringify(req.payload ?? {}).includes(idsB.userId) || key.includes('broadcasting/auth');
      if (!hasForeignRef) continue;
      const res = await stack.app.inject({
        method: method as 'GET',
        url: fill(url, idsB),
        headers: { ...bearer(vA1), ...req.headers },
        ...(req.payload !== undefined ? { payload: req.payload as string } : {}),
      });
      const expected = foreignStatus[key] ?? [404];
      expect({ key, status: res.statusCode }).toEqual({ key, status: expect.toSatisfy((s: number) => expected.includes(s)) });
      expect(res.body).not.toContain('secret of');
      checked.push(key);
    }
    expect(checked.length).toBeGreaterThan(15);
    expect(await mutableRowCounts(stack.db)).toEqual(before);
  });

  it('a session of the same workspace that is not a participant → 404 (A-07, T-03)', async () => {
    const before = await mutableRowCounts(stack.db);
    let checked = 0;
    for (const key of routeKeys()) {
      const [method, url] = key.split(' ') as [string, string];
      if (!url.includes(':id') || url.startsWith('/api/embed/')) continue;
      const req = requests[key]!(idsA);
      const res = await stack.app.inject({
        method: method as 'GET',
        url: fill(url, idsA),
        headers: { ...bearer(vA2), ...req.headers },
        ...(req.payload !== undefined ? { payload: req.payload as string } : {}),
      });
      expect({ key, status: res.statusCode }).toEqual({ key, status: 404 });
      expect(res.body).not.toContain('secret of');
      checked += 1;
    }
    expect(checked).toBeGreaterThan(12);
    expect(await mutableRowCounts(stack.db)).toEqual(before);
  });

  it('lists and search never show another tenant or conversation', async () => {
    const list = await stack.app.inject({ method: 'GET', url: '/api/widget/conversations', headers: bearer(vA2) });
    expect(list.json().data).toEqual([]);
    const search = await stack.app.inject({ method: 'GET', url: '/api/widget/search?q=secret', headers: bearer(vA1) });
    expect(search.statusCode).toBe(200);
    expect(search.json().data.map((m: { conversation_id: string }) => m.conversation_id)).toEqual([idsA.conversationId]);
    const searchOther = await stack.app.inject({ method: 'GET', url: '/api/widget/search?q=secret', headers: bearer(vA2) });
    expect(searchOther.json().data).toEqual([]);
  });

  it('missing or wrong tokens change nothing on any widget route (A-06)', async () => {
    const before = await mutableRowCounts(stack.db);
    for (const key of routeKeys()) {
      const [method, url] = key.split(' ') as [string, string];
      if (!url.startsWith('/api/widget/')) continue;
      const req = requests[key]!(idsA);
      for (const auth of [{}, { authorization: 'Bearer wst_' + 'A'.repeat(43) }, { authorization: `Bearer ${a.publicKey.key}` }, { authorization: `Bearer ${a.apiKey}` }]) {
        const res = await stack.app.inject({
          method: method as 'GET',
          url: fill(url, idsA),
          headers: { ...auth, ...req.headers },
          ...(req.payload !== undefined ? { payload: req.payload as string } : {}),
        });
        expect({ key, status: res.statusCode }).toEqual({ key, status: expect.toSatisfy((s: number) => s === 401 || s === 403) });
      }
    }
    expect(await mutableRowCounts(stack.db)).toEqual(before);
  });

  it("embed routes: B's key is refused from A's origin and vice versa (C-05, A-20)", async () => {
    for (const key of routeKeys().filter((k) => k.includes('/api/embed/'))) {
      const [method, url] = key.split(' ') as [string, string];
      const res = await stack.app.inject({ method: method as 'POST', url, headers: { origin: ORIGIN_A }, payload: { public_key: b.publicKey.key } });
      expect({ key, status: res.statusCode }).toEqual({ key, status: 403 });
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    }
  });

  it("the session of B with B's origin works on B's own conversation (the checks are not blanket refusals)", async () => {
    const res = await stack.app.inject({ method: 'GET', url: `/api/widget/conversations/${idsB.conversationId}/messages`, headers: bearer(vB1, ORIGIN_B) });
    expect(res.statusCode).toBe(200);
    expect(res.json().data[0].content).toContain('secret of ' + b.workspaceId);
    const att = await stack.app.inject({ method: 'GET', url: `/api/widget/attachments/${idsB.attachmentId}`, headers: bearer(vB1) });
    // The attachment was uploaded by B's host and not yet sent: only the uploader sees it.
    expect(att.statusCode).toBe(404);
  });
});
