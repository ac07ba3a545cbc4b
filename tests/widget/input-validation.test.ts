import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { schema } from '@reusable-chat/db';
import { backends, startStack, type TestStack } from '@reusable-chat/testing';
import { bearer, createWidgetTenant, mintSession, ORIGIN_A, ORIGIN_B, seedConversation, type WidgetSession, type WidgetTenant } from './widget-helpers.ts';

/** Input cases V-01…V-12 and V-20…V-23 against the widget and embed APIs. */
const XSS_CORPUS = [
  '<script>window.__xss=1</script>',
  '<img src=x onerror="window.__xss=1">',
  '<svg onload=window.__xss=1>',
  '<a href="javascript:window.__xss=1">x</a>',
  '[x](javascript:window.__xss=1)',
  '<iframe srcdoc="<script>parent.__xss=1</script>"></iframe>',
  '<div style="width: expression(window.__xss=1)">',
  '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
  '"><script>window.__xss=1</script>',
  '{{constructor.constructor("window.__xss=1")()}}',
];

const SQLI_CORPUS = ["' OR 1=1--", ') OR (1=1', "'; SELECT pg_sleep(5)--", "1' UNION SELECT password_hash FROM admins--", '%27%20OR%201%3D1', '\\', "'||(select identity_secret from workspaces limit 1)||'"];

describe.each(backends)('widget input validation (%s)', (backend) => {
  let stack: TestStack;
  let a: WidgetTenant;
  let b: WidgetTenant;
  let guest: WidgetSession;
  let host: WidgetSession;
  let conversationId: string;
  let bConversationId: string;

  beforeAll(async () => {
    stack = await startStack({ backend });
    a = await createWidgetTenant(stack.db, ORIGIN_A, { kind: 'single_app' });
    b = await createWidgetTenant(stack.db, ORIGIN_B);
    guest = await mintSession(stack.app, a, 'guest');
    host = await mintSession(stack.app, a, 'host');
    conversationId = await seedConversation(stack.db, a, [{ userId: guest.userId, role: 'member' }, { userId: host.userId, role: 'member' }], 'default');
    const bGuest = await mintSession(stack.app, b, 'b-guest');
    bConversationId = await seedConversation(stack.db, b, [{ userId: bGuest.userId, role: 'guest' }]);
    await stack.app.inject({
      method: 'POST',
      url: `/api/widget/conversations/${bConversationId}/messages`,
      headers: bearer(bGuest),
      payload: { content: 'tenant b needle password_hash' },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const messagesUrl = () => `/api/widget/conversations/${conversationId}/messages`;
  const sendRaw = (body: string, contentType = 'application/json') =>
    stack.app.inject({ method: 'POST', url: messagesUrl(), headers: { ...bearer(guest), 'content-type': contentType }, payload: body });
  const send = (payload: unknown) => sendRaw(JSON.stringify(payload));
  const get = (url: string) => stack.app.inject({ method: 'GET', url, headers: bearer(guest) });

  it('V-01: content at the limit is stored whole; limit+1 is a clear 422 (limit counts code points)', async () => {
    const atLimit = await send({ content: 'a'.repeat(10_000) });
    expect(atLimit.statusCode).toBe(201);
    expect(atLimit.json().content).toHaveLength(10_000);
    const over = await send({ content: 'a'.repeat(10_001) });
    expect(over.statusCode).toBe(422);
    expect(over.json().error.details).toMatchObject({ max_length: 10_000, length: 10_001 });
    const astral = await send({ content: '😀'.repeat(10_000) });
    expect(astral.statusCode).toBe(201);
    expect(Array.from(astral.json().content as string)).toHaveLength(10_000);
  });

  it('V-02: a JSON body over 1 MB is 413', async () => {
    const res = await send({ content: 'x'.repeat(1_100_000) });
    expect(res.statusCode).toBe(413);
    expect(res.json().error.code).toBe('payload_too_large');
  });

  it('V-03: Unicode round-trips byte-identical; BiDi controls are stripped from display names', async () => {
    const text = '👩‍👩‍👧‍👦 👍🏽 漢字かなカナ é (e\u0301) 𝄞 𐍈 مرحبا שלום \u202Eevil\u202C \u2066iso\u2069';
    const sent = await send({ content: text });
    expect(sent.statusCode).toBe(201);
    expect(Buffer.from(sent.json().content).equals(Buffer.from(text))).toBe(true);
    const listed = (await get(`${messagesUrl()}?after_seq=${sent.json().seq - 1}`)).json().data[0];
    expect(listed.content).toBe(text);
    const [row] = await stack.db.select().from(schema.messages).where(eq(schema.messages.id, sent.json().id));
    expect(row!.content).toBe(text);

    const named = await stack.app.inject({
      method: 'POST',
      url: '/api/embed/session',
      headers: { origin: ORIGIN_A },
      payload: { public_key: a.publicKey.key, name: 'Bob\u202Egnp.exe' },
    });
    expect(named.statusCode).toBe(201);
    expect(named.json().user.name).toBe('Bobgnp.exe');
  });

  it('V-04/V-05: NUL and lone surrogates are 422, never 500', async () => {
    expect((await sendRaw('{"content":"a\\u0000b"}')).statusCode).toBe(422);
    expect((await sendRaw('{"content":"\\ud800"}')).statusCode).toBe(422);
    expect((await sendRaw('{"content":"ok","client_id":"\\udfff"}')).statusCode).toBe(422);
    const nulName = await stack.app.inject({ method: 'POST', url: '/api/embed/session', headers: { origin: ORIGIN_A, 'content-type': 'application/json' }, payload: '{"public_key":"' + a.publicKey.key + '","name":"a\\u0000"}' });
    expect(nulName.statusCode).toBe(422);
  });

  it('V-06: malformed JSON, wrong content type, deep nesting, huge arrays → 400/415/422', async () => {
    expect((await sendRaw('{"content": "x"')).statusCode).toBe(400);
    expect((await sendRaw('content=x', 'text/plain')).statusCode).toBe(415);
    expect((await sendRaw('{"content":"x"}', 'application/xml')).statusCode).toBe(415);
    // Multipart is parsed only on the upload route; a message send is JSON.
    expect((await sendRaw('--b\r\ncontent-disposition: form-data; name="content"\r\n\r\nx\r\n--b--\r\n', 'multipart/form-data; boundary=b')).statusCode).toBe(415);
    const deep = '{"content":"x","a":' + '['.repeat(10_000) + ']'.repeat(10_000) + '}';
    expect((await sendRaw(deep)).statusCode).toBe(400);
    const dup = await sendRaw('{"content":"first","content":"second"}');
    expect(dup.statusCode).toBe(201);
    expect(dup.json().content).toBe('second');
    const huge = await send({ content: 'x', attachment_ids: Array.from({ length: 20_000 }, () => '0190a000-0000-7000-8000-000000000000') });
    expect(huge.statusCode).toBe(422);
  });

  it('V-07: type confusion and prototype pollution are 422; Object.prototype stays clean', async () => {
    for (const payload of [{ content: { $ne: null } }, { content: ['a'] }, { content: 42 }, { content: 'x', client_id: 7 }, { content: 'x', attachment_ids: 'id' }]) {
      expect((await send(payload)).statusCode).toBe(422);
    }
    expect((await sendRaw('{"content":"x","__proto__":{"polluted":true}}')).statusCode).toBe(422);
    expect((await sendRaw('{"content":"x","constructor":{"prototype":{"polluted":true}}}')).statusCode).toBe(422);
    expect((await send({ content: 'x', workspace_id: b.workspaceId })).statusCode).toBe(422);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('V-08/V-09: limits clamp or 422; cursors are tamper-proof and bound to their list; unknown sort fields are 422', async () => {
    const clamped = await get(`${messagesUrl()}?limit=1000000`);
    expect(clamped.statusCode).toBe(200);
    expect(clamped.json().data.length).toBeLessThanOrEqual(100);
    for (const q of ['limit=-1', 'limit=abc', 'limit=0', 'page=1000000000', 'sort=password_hash', 'sort=(select%201)', 'after_seq=-5', 'after_seq=1e99']) {
      expect({ q, status: (await get(`${messagesUrl()}?${q}`)).statusCode }).toEqual({ q, status: 422 });
    }
    for (let i = 0; i < 3; i++) await send({ content: `fill ${i}` });
    const page = (await get(`${messagesUrl()}?limit=1`)).json();
    expect(page.next_cursor).toEqual(expect.any(String));
    const tampered = page.next_cursor.slice(0, -2) + (page.next_cursor.endsWith('A') ? 'BB' : 'AA');
    expect((await get(`${messagesUrl()}?before=${encodeURIComponent(tampered)}`)).statusCode).toBe(400);
    expect((await get(`${messagesUrl()}?before=garbage`)).statusCode).toBe(400);
    const other = await seedConversation(stack.db, a, [{ userId: guest.userId, role: 'member' }], 'default');
    const replayed = await get(`/api/widget/conversations/${other}/messages?before=${encodeURIComponent(page.next_cursor)}`);
    expect(replayed.statusCode).toBe(400);
    expect(replayed.json().error.code).toBe('invalid_cursor');
    expect((await get(`/api/widget/conversations?sort=password_hash`)).statusCode).toBe(422);
    expect((await get(`/api/widget/search?q=x&order=id`)).statusCode).toBe(422);
  });

  it('V-10/V-11: javascript: URLs, header injection and unknown fields are refused', async () => {
    const session = (user: Record<string, unknown>) =>
      stack.app.inject({ method: 'POST', url: '/api/embed/session', headers: { origin: ORIGIN_A }, payload: { public_key: a.publicKey.key, user: { external_id: 'v10', ...user } } });
    expect((await session({ avatar_url: 'javascript:alert(1)' })).statusCode).toBe(422);
    expect((await session({ avatar_url: 'data:text/html,<script>alert(1)</script>' })).statusCode).toBe(422);
    expect((await session({ name: 'Eve\r\nBcc: everyone@example.com' })).statusCode).toBe(422);
    expect((await session({ email: 'a@example.com\r\nBcc: b@example.com' })).statusCode).toBe(422);
    expect((await session({ metadata: { a: 1 } })).statusCode).toBe(422);
    // The widget may not set message metadata at all (only the tenant's backend may).
    expect((await send({ content: 'x', metadata: { role: 'admin' } })).statusCode).toBe(422);
  });

  it('V-12: SQL injection strings are data: no 500, no other tenant, parameters only', async () => {
    for (const q of SQLI_CORPUS) {
      const res = await get(`/api/widget/search?q=${encodeURIComponent(q)}`);
      expect({ q, status: res.statusCode }).toEqual({ q, status: 200 });
      for (const m of res.json().data as { conversation_id: string }[]) expect(m.conversation_id).not.toBe(bConversationId);
      const asCursor = await get(`${messagesUrl()}?before=${encodeURIComponent(q)}`);
      expect(asCursor.statusCode).toBe(400);
      const asId = await get(`/api/widget/conversations/${encodeURIComponent(q)}`);
      expect(asId.statusCode).toBe(422);
      const stored = await send({ content: q });
      expect(stored.statusCode).toBe(201);
      expect(stored.json().content).toBe(q);
    }
    const leak = await get(`/api/widget/search?q=${encodeURIComponent('needle password_hash')}`);
    expect(leak.json().data).toEqual([]);
  });

  it('V-20…V-22: markup is stored and returned verbatim as JSON text (rendering is the clients\' job)', async () => {
    for (const payload of XSS_CORPUS) {
      const res = await send({ content: payload });
      expect(res.statusCode).toBe(201);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.json().content).toBe(payload);
    }
    const page = await get(`${messagesUrl()}?limit=${XSS_CORPUS.length}`);
    expect(page.headers['content-type']).toMatch(/^application\/json/);
    expect(page.json().data.map((m: { content: string }) => m.content)).toEqual(XSS_CORPUS);
    const named = await stack.app.inject({
      method: 'POST',
      url: '/api/embed/session',
      headers: { origin: ORIGIN_A },
      payload: { public_key: a.publicKey.key, name: '<img src=x onerror=alert(1)>' },
    });
    expect(named.json().user.name).toBe('<img src=x onerror=alert(1)>');
    expect(named.headers['content-type']).toMatch(/^application\/json/);
  });

  it('V-23: typing accepts only {is_typing: boolean}', async () => {
    const url = `/api/widget/conversations/${conversationId}/typing`;
    for (const payload of [{ is_typing: '<b>x</b>' }, { is_typing: true, html: '<script>' }, { text: 'hi' }]) {
      expect((await stack.app.inject({ method: 'POST', url, headers: bearer(guest), payload })).statusCode).toBe(422);
    }
    expect((await stack.app.inject({ method: 'POST', url, headers: bearer(guest), payload: { is_typing: false } })).statusCode).toBe(200);
  });
});
