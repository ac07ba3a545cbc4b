import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPolicyHook, createWidgetSession, upsertUser } from '@reusable-chat/core';
import { backends, createTenant, startStack, type TestStack } from '@reusable-chat/testing';
import { seedDemo } from '../../apps/server/src/seed/seed-demo.ts';

/** The demo pages' server routes (SPEC §8): /api/demo/* acting on the seeded demo workspace. */
describe.each(backends)('demo routes (%s)', (backend) => {
  let stack: TestStack;
  let ipCounter = 0;
  /** Each test calls from its own address, so the per-IP limits of one test never leak into another. */
  const nextIp = () => `10.20.0.${++ipCounter}`;

  beforeAll(async () => {
    stack = await startStack({ backend });
    // The masking policy runs in the message pipeline; compose wires it, older compositions may not.
    if (!stack.deps.messagePolicyHook) Object.assign(stack.deps, { messagePolicyHook: createPolicyHook() });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const post = (url: string, body: unknown, ip: string, headers: Record<string, string> = {}) =>
    stack.app.inject({ method: 'POST', url, payload: body as object, remoteAddress: ip, headers });
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  it('answers 404 while the server has no seeded demo workspace', async () => {
    const res = await post('/api/demo/rooms', {}, nextIp());
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('not_found');
    // Seeding is what `npm start` does on an empty database; every later test uses the seeded workspace.
    await seedDemo({ db: stack.db, config: stack.deps.config });
  });

  it('creates a room, shows it to a link holder, and lets two people join and chat with their sessions', async () => {
    const ip = nextIp();
    const created = await post('/api/demo/rooms', { name: 'Team standup' }, ip);
    expect(created.statusCode).toBe(201);
    const room = created.json();
    expect(room).toEqual({ id: expect.any(String), name: 'Team standup', participant_count: 0, created_at: expect.any(String) });

    const shown = await stack.app.inject({ method: 'GET', url: `/api/demo/rooms/${room.id}`, remoteAddress: ip });
    expect(shown.statusCode).toBe(200);
    expect(shown.json().name).toBe('Team standup');

    const ada = await post(`/api/demo/rooms/${room.id}/join`, { name: '  Ada  ' }, ip);
    expect(ada.statusCode).toBe(201);
    expect(ada.headers['cache-control']).toBe('no-store');
    const adaJson = ada.json();
    expect(adaJson.session.user.name).toBe('Ada');
    expect(adaJson.room.participant_count).toBe(1);
    expect(adaJson.realtime).toEqual({ app_key: stack.deps.config.realtime.appKey });
    // The demo key acts on the server only; it never reaches the page.
    expect(ada.body).not.toContain(stack.deps.config.demoApiKey!);
    expect(created.body).not.toContain(stack.deps.config.demoApiKey!);

    const bob = (await post(`/api/demo/rooms/${room.id}/join`, { name: 'Bob' }, nextIp())).json();
    expect(bob.room.participant_count).toBe(2);
    expect(bob.session.user.id).not.toBe(adaJson.session.user.id);

    const sent = await post(`/api/widget/conversations/${room.id}/messages`, { content: 'Hello Bob' }, ip, bearer(adaJson.session.token));
    expect(sent.statusCode).toBe(201);
    const seen = await stack.app.inject({ method: 'GET', url: `/api/widget/conversations/${room.id}/messages`, headers: bearer(bob.session.token) });
    expect(seen.statusCode).toBe(200);
    expect(seen.json().data.map((m: { content: string }) => m.content)).toContain('Hello Bob');
  });

  it('refuses bad input with the registry errors', async () => {
    const ip = nextIp();
    const room = (await post('/api/demo/rooms', {}, ip)).json();
    expect(room.name).toBe('Demo room');
    const cases: Array<[string, unknown, number, string]> = [
      [`/api/demo/rooms/${room.id}/join`, {}, 422, 'validation_failed'],
      [`/api/demo/rooms/${room.id}/join`, { name: '   ' }, 422, 'validation_failed'],
      [`/api/demo/rooms/${room.id}/join`, { name: 'x'.repeat(61) }, 422, 'validation_failed'],
      [`/api/demo/rooms/${room.id}/join`, { name: 'Eve\u0000' }, 422, 'validation_failed'],
      [`/api/demo/rooms/${room.id}/join`, { name: 'Eve', workspace_id: room.id }, 422, 'validation_failed'],
      ['/api/demo/rooms/not-a-uuid/join', { name: 'Eve' }, 422, 'validation_failed'],
      ['/api/demo/rooms/0190a6f0-0000-7000-8000-000000000000/join', { name: 'Eve' }, 404, 'not_found'],
      ['/api/demo/rooms', { name: 'x'.repeat(61) }, 422, 'validation_failed'],
      ['/api/demo/rooms', { topic: 'unknown field' }, 422, 'validation_failed'],
      ['/api/demo/marketplace', { guest_name: 42 }, 422, 'validation_failed'],
    ];
    for (const [url, body, status, code] of cases) {
      const res = await post(url, body, ip);
      expect({ url, body, status: res.statusCode, code: res.json().error?.code }).toEqual({ url, body, status, code });
    }
    const malformed = await stack.app.inject({
      method: 'POST',
      url: `/api/demo/rooms/${room.id}/join`,
      payload: '{"name":',
      headers: { 'content-type': 'application/json' },
      remoteAddress: ip,
    });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().error.code).toBe('malformed_request');
  });

  it('never joins anyone to a conversation that is not a demo room', async () => {
    const ip = nextIp();
    const market = (await post('/api/demo/marketplace', {}, ip)).json();
    const lookup = await stack.app.inject({ method: 'GET', url: `/api/demo/rooms/${market.conversation_id}`, remoteAddress: ip });
    expect(lookup.statusCode).toBe(404);
    const join = await post(`/api/demo/rooms/${market.conversation_id}/join`, { name: 'Mallory' }, ip);
    expect(join.statusCode).toBe(404);
    // Another tenant's demo-typed conversation is invisible too.
    const tenant = await createTenant(stack.db);
    const other = await post('/api/v1/demo/rooms', {}, ip, { 'x-api-key': tenant.apiKey });
    expect(other.statusCode).toBe(201);
    expect((await post(`/api/demo/rooms/${other.json().id}/join`, { name: 'Mallory' }, ip)).statusCode).toBe(404);
  });

  it('masks contact details in the marketplace until the host confirms the booking', async () => {
    const ip = nextIp();
    const started = await post('/api/demo/marketplace', {}, ip);
    expect(started.statusCode).toBe(201);
    const demo = started.json();
    expect(demo.state).toBe('inquiry');
    expect(demo.listing.title).toBeTruthy();
    expect(demo.guest.user.name).toBe('Alex (guest)');
    expect(demo.host.user.name).toBe('Sam (host)');
    const messagesUrl = `/api/widget/conversations/${demo.conversation_id}/messages`;

    const before = await post(messagesUrl, { content: 'Call me on +1 415 555 0134' }, ip, bearer(demo.guest.token));
    expect(before.statusCode).toBe(201);
    expect(before.json().content).not.toContain('555 0134');
    expect(before.json().masked).toMatchObject({ kinds: ['phone'] });

    const bookingUrl = `/api/demo/marketplace/${demo.conversation_id}/booking`;
    expect((await post(bookingUrl, {}, ip)).statusCode).toBe(401);
    const byGuest = await post(bookingUrl, {}, ip, bearer(demo.guest.token));
    expect(byGuest.statusCode).toBe(403);
    expect(byGuest.json().error.code).toBe('forbidden');

    const booked = await post(bookingUrl, {}, ip, bearer(demo.host.token));
    expect(booked.statusCode).toBe(200);
    expect(booked.json()).toEqual({ conversation_id: demo.conversation_id, state: 'booked' });
    expect((await post(bookingUrl, {}, ip, bearer(demo.host.token))).json().state).toBe('booked');

    const after = await post(messagesUrl, { content: 'Call me on +1 415 555 0134' }, ip, bearer(demo.guest.token));
    expect(after.json().content).toBe('Call me on +1 415 555 0134');
    expect(after.json().masked).toBeNull();
  });

  it('lets no one book a conversation that is not their demo marketplace', async () => {
    const ip = nextIp();
    const a = (await post('/api/demo/marketplace', {}, ip)).json();
    const b = (await post('/api/demo/marketplace', {}, ip)).json();
    // B's host is not a participant of A's conversation.
    expect((await post(`/api/demo/marketplace/${a.conversation_id}/booking`, {}, ip, bearer(b.host.token))).statusCode).toBe(404);
    // A demo room is not a marketplace conversation, whoever asks.
    const room = (await post('/api/demo/rooms', {}, ip)).json();
    const member = (await post(`/api/demo/rooms/${room.id}/join`, { name: 'Host?' }, ip)).json();
    expect((await post(`/api/demo/marketplace/${room.id}/booking`, {}, ip, bearer(member.session.token))).statusCode).toBe(404);
    // A session of another workspace gets 404, not 403 (SPEC §3).
    const tenant = await createTenant(stack.db);
    const { user } = await upsertUser({ db: stack.db, workspaceId: tenant.workspaceId, externalId: 'outsider', fields: { name: 'Out' } });
    const { token } = await createWidgetSession({ db: stack.db, workspaceId: tenant.workspaceId, chatUserId: user.id });
    expect((await post(`/api/demo/marketplace/${a.conversation_id}/booking`, {}, ip, bearer(token))).statusCode).toBe(404);
    expect((await post('/api/demo/marketplace/not-a-uuid/booking', {}, ip, bearer(a.host.token))).statusCode).toBe(422);
  });

  it('rate-limits room creation, joins and marketplace demos per IP', async () => {
    const ip = nextIp();
    for (let i = 0; i < 10; i += 1) expect((await post('/api/demo/rooms', {}, ip)).statusCode).toBe(201);
    const limited = await post('/api/demo/rooms', {}, ip);
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error.code).toBe('rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Another address is not affected.
    const other = nextIp();
    const room = await post('/api/demo/rooms', {}, other);
    expect(room.statusCode).toBe(201);

    for (let i = 0; i < 20; i += 1) expect((await post(`/api/demo/rooms/${room.json().id}/join`, { name: `P${i}` }, other)).statusCode).toBe(201);
    expect((await post(`/api/demo/rooms/${room.json().id}/join`, { name: 'One more' }, other)).statusCode).toBe(429);

    const third = nextIp();
    for (let i = 0; i < 10; i += 1) expect((await post('/api/demo/marketplace', {}, third)).statusCode).toBe(201);
    expect((await post('/api/demo/marketplace', {}, third)).statusCode).toBe(429);
  });

  it('serves the demo pages with a strict CSP and security headers, and their assets safely', async () => {
    for (const url of ['/demo', '/demo/', '/demo/marketplace', '/demo/r/0190a6f0-0000-7000-8000-000000000000']) {
      const res = await stack.app.inject({ method: 'GET', url });
      // 200 with the built app, 503 with the "not built" page: the headers are the same either way.
      expect([200, 503]).toContain(res.statusCode);
      expect(res.headers['content-type']).toContain('text/html');
      const csp = String(res.headers['content-security-policy']);
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toContain('unsafe-eval');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      expect(res.body).not.toContain('<style');
    }
    for (const url of ['/demo/assets/..%2f..%2fpackage.json', '/demo/assets/nope.js', '/demo/assets/.env', '/demo/assets/x.html']) {
      const res = await stack.app.inject({ method: 'GET', url });
      expect(res.statusCode).toBe(404);
    }
  });
});
