import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { and, eq, isNull } from 'drizzle-orm';
import { schema } from '@reusable-chat/db';
import { backends, startStack, type TestStack } from '@reusable-chat/testing';
import { bearer, createWidgetTenant, mintSession, ORIGIN_A, ORIGIN_B, userHash, type WidgetTenant } from './widget-helpers.ts';

describe.each(backends)('embed API: init and sessions (%s)', (backend) => {
  let stack: TestStack;
  let a: WidgetTenant;
  let b: WidgetTenant;
  beforeAll(async () => {
    stack = await startStack({ backend });
    a = await createWidgetTenant(stack.db, ORIGIN_A);
    b = await createWidgetTenant(stack.db, ORIGIN_B);
  });
  afterAll(async () => {
    await stack?.close();
  });

  const post = (url: string, payload: unknown, origin?: string) =>
    stack.app.inject({ method: 'POST', url, payload: payload as object, headers: origin ? { origin } : {} });

  it('init answers theme and widget configuration for an allowed origin only', async () => {
    const ok = await post('/api/embed/init', { public_key: a.publicKey.key }, ORIGIN_A);
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['access-control-allow-origin']).toBe(ORIGIN_A);
    expect(ok.headers['vary']).toContain('Origin');
    const body = ok.json();
    expect(body.workspace.id).toBe(a.workspaceId);
    expect(body.widget.slug).toBe('guest-host');
    expect(body.identity_verification).toBe(true);
    // Moderation internals stay server-side.
    expect(JSON.stringify(body)).not.toContain('contact_info');

    const support = await post('/api/embed/init', { public_key: a.publicKey.key, widget: 'support' }, ORIGIN_A);
    expect(support.json().widget.slug).toBe('support');

    // B's origin with A's key, no origin at all, a made-up key → refused, no CORS grant (C-05, A-20).
    const foreign = await post('/api/embed/init', { public_key: a.publicKey.key }, ORIGIN_B);
    expect(foreign.statusCode).toBe(403);
    expect(foreign.json().error.code).toBe('origin_not_allowed');
    expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
    expect((await post('/api/embed/init', { public_key: a.publicKey.key })).statusCode).toBe(403);
    expect((await post('/api/embed/init', { public_key: 'pk_doesnotexist000000000000' }, ORIGIN_A)).statusCode).toBe(401);
    expect((await post('/api/embed/init', { public_key: a.publicKey.key, extra: 1 }, ORIGIN_A)).statusCode).toBe(422);
  });

  it('anonymous sessions create a new anon_ user each time', async () => {
    const s1 = await post('/api/embed/session', { public_key: a.publicKey.key }, ORIGIN_A);
    const s2 = await post('/api/embed/session', { public_key: a.publicKey.key, name: 'Ann' }, ORIGIN_A);
    expect(s1.statusCode).toBe(201);
    expect(s1.json().user.external_id).toMatch(/^anon_/);
    expect(s1.json().user.is_anonymous).toBe(true);
    expect(s2.json().user.id).not.toBe(s1.json().user.id);
    expect(s2.json().user.name).toBe('Ann');
    expect(s1.json().token).toMatch(/^wst_/);
    const me = await stack.app.inject({ method: 'GET', url: '/api/widget/me', headers: { authorization: `Bearer ${s1.json().token}` } });
    expect(me.statusCode).toBe(200);
    expect(me.json().user.id).toBe(s1.json().user.id);
  });

  it('an identified user needs a valid user_hash; without it no existing identity is claimed (A-20, A-21)', async () => {
    const owner = await mintSession(stack.app, a, 'host-1', 'Host One');
    // Wrong hash, another workspace's hash, missing hash → 401 and no session.
    const wrong = await post('/api/embed/session', { public_key: a.publicKey.key, user: { external_id: 'host-1', user_hash: '0'.repeat(64) } }, ORIGIN_A);
    expect(wrong.statusCode).toBe(401);
    const foreignHash = await post(
      '/api/embed/session',
      { public_key: a.publicKey.key, user: { external_id: 'host-1', user_hash: userHash(b.identitySecret, 'host-1') } },
      ORIGIN_A,
    );
    expect(foreignHash.statusCode).toBe(401);
    const noHash = await post('/api/embed/session', { public_key: a.publicKey.key, user: { external_id: 'host-1' } }, ORIGIN_A);
    expect(noHash.statusCode).toBe(401);
    // Upper-case hex verifies too (constant-time compare of the normalised digest).
    const upper = await post(
      '/api/embed/session',
      { public_key: a.publicKey.key, user: { external_id: 'host-1', user_hash: userHash(a.identitySecret, 'host-1').toUpperCase() } },
      ORIGIN_A,
    );
    expect(upper.statusCode).toBe(201);
    expect(upper.json().user.id).toBe(owner.userId);

    // With verification off, a claim without hash becomes a NEW anonymous user, never the existing one.
    const lax = await createWidgetTenant(stack.db, 'https://lax.example', { requireIdentityVerification: false });
    const existing = await mintSession(stack.app, lax, 'victim', 'Victim');
    const claim = await post('/api/embed/session', { public_key: lax.publicKey.key, user: { external_id: 'victim', email: 'victim@example.com' } }, lax.origin);
    expect(claim.statusCode).toBe(201);
    expect(claim.json().user.id).not.toBe(existing.userId);
    expect(claim.json().user.is_anonymous).toBe(true);
    expect(claim.json().user.email ?? null).toBeNull();

    // A public key alone is not a widget credential.
    const asBearer = await stack.app.inject({ method: 'GET', url: '/api/widget/conversations', headers: { authorization: `Bearer ${a.publicKey.key}` } });
    expect(asBearer.statusCode).toBe(401);
  });

  it('keys without anonymous access refuse visitors; identity change revokes the previous session (A-22, A-23)', async () => {
    const strict = await createWidgetTenant(stack.db, 'https://strict.example', { allowAnonymous: false });
    expect((await post('/api/embed/session', { public_key: strict.publicKey.key }, strict.origin)).statusCode).toBe(401);

    const user1 = await mintSession(stack.app, strict, 'user-1');
    const revoked: string[][] = [];
    const off = stack.deps.events.subscribe((e) => {
      if (e.type === 'session.revoked') revoked.push(e.chatUserIds);
    });
    const res = await post(
      '/api/embed/session',
      { public_key: strict.publicKey.key, user: { external_id: 'user-2', user_hash: userHash(strict.identitySecret, 'user-2') }, previous_token: user1.token },
      strict.origin,
    );
    off();
    expect(res.statusCode).toBe(201);
    expect(revoked).toEqual([[user1.userId]]);
    const old = await stack.app.inject({ method: 'GET', url: '/api/widget/me', headers: bearer(user1) });
    expect(old.statusCode).toBe(401);
    expect(old.json().error.code).toBe('session_expired');
    const rows = await stack.db
      .select()
      .from(schema.widgetSessions)
      .where(and(eq(schema.widgetSessions.chatUserId, user1.userId), isNull(schema.widgetSessions.revokedAt)));
    expect(rows).toHaveLength(0);
  });

  it('a banned user is refused on every widget call and cannot mint a session', async () => {
    const s = await mintSession(stack.app, a, 'to-ban');
    expect((await stack.app.inject({ method: 'GET', url: '/api/widget/me', headers: bearer(s) })).statusCode).toBe(200);
    await stack.db.insert(schema.bans).values({ workspaceId: a.workspaceId, chatUserId: s.userId, reason: 'spam' });
    const me = await stack.app.inject({ method: 'GET', url: '/api/widget/me', headers: bearer(s) });
    expect(me.statusCode).toBe(403);
    expect(me.json().error.code).toBe('user_banned');
    const mint = await post('/api/embed/session', { public_key: a.publicKey.key, user: { external_id: 'to-ban', user_hash: userHash(a.identitySecret, 'to-ban') } }, ORIGIN_A);
    expect(mint.statusCode).toBe(403);
  });

  it('expired and unknown tokens answer 401 with distinct codes', async () => {
    const s = await mintSession(stack.app, a, 'expiring');
    await stack.db.update(schema.widgetSessions).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(schema.widgetSessions.chatUserId, s.userId));
    const expired = await stack.app.inject({ method: 'GET', url: '/api/widget/me', headers: bearer(s) });
    expect(expired.statusCode).toBe(401);
    expect(expired.json().error.code).toBe('session_expired');
    const unknown = await stack.app.inject({ method: 'GET', url: '/api/widget/me', headers: { authorization: `Bearer wst_${'x'.repeat(43)}` } });
    expect(unknown.json().error.code).toBe('unauthenticated');
    const missing = await stack.app.inject({ method: 'GET', url: '/api/widget/me' });
    expect(missing.statusCode).toBe(401);
  });
});
