import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY_CACHE_TTL_MS, createApiKey, createWorkspace, revokeApiKey, sha256Hex } from '@reusable-chat/core';
import { schema } from '@reusable-chat/db';
import { backends, createTenant, startStack, type Tenant, type TestStack } from '@reusable-chat/testing';
import { callAs } from './helpers.ts';

/** Checklist A-01…A-05 for X-API-Key, plus the demo scope and suspended workspaces. */
describe.each(backends)('consumer API keys (%s)', (backend) => {
  let stack: TestStack;
  let tenant: Tenant;
  beforeAll(async () => {
    stack = await startStack({ backend });
    tenant = await createTenant(stack.db);
  });
  afterAll(async () => {
    await stack?.close();
  });

  const get = (headers: Record<string, string | string[]>) =>
    stack.app.inject({ method: 'GET', url: '/api/v1/conversations', headers: headers as Record<string, string> });

  it('stores only the SHA-256 and a display prefix, never the key (A-01)', async () => {
    const rows = await stack.db.select().from(schema.apiKeys).where(eq(schema.apiKeys.workspaceId, tenant.workspaceId));
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(tenant.apiKey);
    expect(rows[0]!.keyHash).toBe(sha256Hex(tenant.apiKey));
    expect(tenant.apiKey.startsWith(rows[0]!.displayPrefix)).toBe(true);
    expect(rows[0]!.displayPrefix.length).toBeLessThan(16);
  });

  it('answers 401 for every malformed credential, never 500 (A-05)', async () => {
    const cases: Record<string, string | string[]>[] = [
      {},
      { 'x-api-key': '' },
      { 'x-api-key': ' ' },
      { 'x-api-key': 'sk_live_' },
      { 'x-api-key': `${tenant.apiKey}x` },
      { 'x-api-key': tenant.apiKey.slice(0, -1) },
      { 'x-api-key': 'sk_live_' + 'A'.repeat(10_240) },
      { 'x-api-key': 'sk_live_ÄÖÜäöüßÄÖÜäöüßÄÖÜ' },
      { 'x-api-key': 'sk_live_😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀' },
      { 'x-api-key': [tenant.apiKey, tenant.apiKey] },
      { authorization: `Bearer ${tenant.apiKey}` },
      { 'x-api-key': `Bearer ${tenant.apiKey}` },
      { 'x-api-key': 'wst_' + 'a'.repeat(43) },
      { 'x-api-key': "sk_live_' OR '1'='1' --------" },
    ];
    for (const headers of cases) {
      const res = await get(headers);
      expect(res.statusCode, JSON.stringify(headers).slice(0, 80)).toBe(401);
      expect(res.json().error.code).toBe('unauthenticated');
    }
    // A widget session token is a credential of another API family (SPEC §3).
    const session = await callAs(stack.app, tenant)('POST', '/api/v1/sessions', { user: { external_id: 'w1', name: 'W' } });
    expect((await get({ 'x-api-key': session.json().token })).statusCode).toBe(401);
  });

  it('turns repeated failures from one IP into 429, leaving other clients alone', async () => {
    const guess = (ip: string) =>
      stack.app.inject({ method: 'GET', url: '/api/v1/conversations', remoteAddress: ip, headers: { 'x-api-key': 'sk_live_guessguessguessguess' } });
    const statuses: number[] = [];
    for (let i = 0; i < 101; i++) statuses.push((await guess('10.9.9.9')).statusCode);
    expect(statuses.slice(0, 100)).toEqual(Array(100).fill(401));
    const last = await guess('10.9.9.9');
    expect(last.statusCode).toBe(429);
    expect(Number(last.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect((await guess('10.9.9.10')).statusCode).toBe(401);
  });

  it('refuses a revoked key on the very next request (A-03)', async () => {
    const { apiKey, record } = await createApiKey({ db: stack.db, workspaceId: tenant.workspaceId, environment: 'live' });
    expect((await get({ 'x-api-key': apiKey })).statusCode).toBe(200);
    expect(await revokeApiKey({ db: stack.db, workspaceId: tenant.workspaceId, keyId: record.id })).toBe(true);
    const res = await get({ 'x-api-key': apiKey });
    expect(res.statusCode).toBe(401);
    expect(res.body).not.toContain(apiKey);
  });

  it('refuses a cached key revoked inside a transaction on the next request, and a key revoked elsewhere within the TTL (A-03)', async () => {
    const { apiKey, record } = await createApiKey({ db: stack.db, workspaceId: tenant.workspaceId, environment: 'live' });
    expect((await get({ 'x-api-key': apiKey })).statusCode).toBe(200);
    expect((await get({ 'x-api-key': apiKey })).statusCode).toBe(200);
    await stack.db.transaction(async (tx) => {
      expect(await revokeApiKey({ db: tx, workspaceId: tenant.workspaceId, keyId: record.id })).toBe(true);
    });
    expect((await get({ 'x-api-key': apiKey })).statusCode).toBe(401);

    // Another node revoking writes only the row: this process notices once its cached lookup expires.
    const other = await createApiKey({ db: stack.db, workspaceId: tenant.workspaceId, environment: 'live' });
    expect((await get({ 'x-api-key': other.apiKey })).statusCode).toBe(200);
    await stack.db.update(schema.apiKeys).set({ revokedAt: new Date() }).where(eq(schema.apiKeys.id, other.record.id));
    await expect.poll(async () => (await get({ 'x-api-key': other.apiKey })).statusCode, { timeout: API_KEY_CACHE_TTL_MS * 3 }).toBe(401);
  });

  it('records last_used_at at most once a minute', async () => {
    const { apiKey, record } = await createApiKey({ db: stack.db, workspaceId: tenant.workspaceId, environment: 'test' });
    expect(record.lastUsedAt).toBeNull();
    await get({ 'x-api-key': apiKey });
    const read = async () => (await stack.db.select().from(schema.apiKeys).where(eq(schema.apiKeys.id, record.id)))[0]!.lastUsedAt;
    await expect.poll(read).not.toBeNull();
    const first = await read();
    await get({ 'x-api-key': apiKey });
    await get({ 'x-api-key': apiKey });
    expect(await read()).toEqual(first);
  });

  it('lets a demo key reach only demo rooms', async () => {
    const { apiKey } = await createApiKey({ db: stack.db, workspaceId: tenant.workspaceId, scope: 'demo' });
    const demo = callAs(stack.app, { apiKey });
    const full = callAs(stack.app, tenant);
    // Everything outside the demo routes is 403.
    for (const [method, url, body] of [
      ['GET', '/api/v1/conversations', undefined],
      ['POST', '/api/v1/users', { external_id: 'd', name: 'D' }],
      ['POST', '/api/v1/sessions', { external_id: 'w1' }],
      ['GET', '/api/v1/exports/messages', undefined],
      ['POST', '/api/v1/bans', { external_id: 'w1' }],
      ['POST', '/api/v1/webhooks', { url: 'https://example.com/h', events: ['message.created'] }],
    ] as const) {
      const res = await demo(method, url, body);
      expect(res.statusCode, `${method} ${url}`).toBe(403);
      expect(res.json().error.code).toBe('forbidden');
    }
    const room = await demo('POST', '/api/v1/demo/rooms', { name: 'Lobby' });
    expect(room.statusCode).toBe(201);
    expect(room.json().type).toBe('demo');
    const joined = await demo('POST', `/api/v1/demo/rooms/${room.json().id}/join`, { name: 'Visitor' });
    expect(joined.statusCode).toBe(201);
    expect(joined.json().token).toMatch(/^wst_/);
    const visitor = joined.json().user.external_id as string;
    const sent = await demo('POST', `/api/v1/conversations/${room.json().id}/messages`, { sender_external_id: visitor, content: 'hi from the demo' });
    expect(sent.statusCode).toBe(201);
    expect((await demo('GET', `/api/v1/conversations/${room.json().id}/messages`)).json().data).toHaveLength(1);
    expect((await demo('GET', `/api/v1/conversations/${room.json().id}`)).statusCode).toBe(200);
    expect((await demo('POST', `/api/v1/conversations/${room.json().id}/messages`, { system: true, content: 'x' })).statusCode).toBe(403);
    // A real conversation of the same workspace is invisible to the demo key.
    await full('POST', '/api/v1/users', { external_id: 'real', name: 'Real' });
    const real = (await full('POST', '/api/v1/conversations', { participants: [{ external_id: 'real' }] })).json();
    expect((await demo('GET', `/api/v1/conversations/${real.id}`)).statusCode).toBe(404);
    expect((await demo('GET', `/api/v1/conversations/${real.id}/messages`)).statusCode).toBe(404);
    expect((await demo('POST', `/api/v1/conversations/${real.id}/messages`, { sender_external_id: 'real', content: 'x' })).statusCode).toBe(404);
    expect((await demo('POST', `/api/v1/demo/rooms/${real.id}/join`, { name: 'Sneaky' })).statusCode).toBe(404);
    // Even a full key cannot "join" a real conversation through the demo route.
    expect((await full('POST', `/api/v1/demo/rooms/${real.id}/join`, { name: 'Sneaky' })).statusCode).toBe(404);
  });

  it('refuses keys of a suspended workspace', async () => {
    const ws = await createWorkspace({ db: stack.db, name: 'Suspended' });
    const { apiKey } = await createApiKey({ db: stack.db, workspaceId: ws.id });
    expect((await get({ 'x-api-key': apiKey })).statusCode).toBe(200);
    await stack.db.update(schema.workspaces).set({ status: 'suspended' }).where(eq(schema.workspaces.id, ws.id));
    // The key lookup (with its workspace) is reused for API_KEY_CACHE_TTL_MS, so suspension applies within it.
    await expect.poll(async () => (await get({ 'x-api-key': apiKey })).statusCode, { timeout: API_KEY_CACHE_TTL_MS * 3 }).toBe(403);
    const res = await get({ 'x-api-key': apiKey });
    expect(res.json().error.code).toBe('workspace_suspended');
  });
});
