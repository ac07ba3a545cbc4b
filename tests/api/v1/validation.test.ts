import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorRegistry } from '@reusable-chat/core';
import { backends, createTenant, startStack, type Tenant, type TestStack } from '@reusable-chat/testing';
import { callAs, routesUnder } from './helpers.ts';
import { countAllRows, routeCases, seedTenant, type TenantIds } from './route-cases.ts';

interface OpenApiOperation {
  requestBody?: unknown;
  parameters?: { name: string; in: string }[];
}

/**
 * Bad input on every /api/v1 route (checklist V-01…V-12): a clear 4xx with a registry code, never a 500,
 * and nothing written. Which routes take a body or which query parameters comes from the OpenAPI
 * document, i.e. from the same schemas that validate requests.
 */
describe.each(backends)('consumer API input validation (%s)', (backend) => {
  let stack: TestStack;
  let tenant: Tenant;
  let ids: TenantIds;
  let operations: Record<string, OpenApiOperation>;
  beforeAll(async () => {
    stack = await startStack({ backend });
    tenant = await createTenant(stack.db);
    ids = await seedTenant(stack, tenant, 'val');
    const doc = (await stack.app.inject({ method: 'GET', url: '/api/openapi.json' })).json() as {
      paths: Record<string, Record<string, OpenApiOperation>>;
    };
    operations = {};
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) operations[`${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`] = op;
    }
  });
  afterAll(async () => {
    await stack?.close();
  });

  function expectClear4xx(res: { statusCode: number; body: string }, label: string, status?: number | number[]) {
    expect(res.statusCode, `${label} → ${res.statusCode} ${res.body.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
    expect(res.statusCode, `${label} → ${res.statusCode} ${res.body.slice(0, 300)}`).toBeLessThan(500);
    if (status !== undefined) expect([status].flat(), `${label} → ${res.statusCode} ${res.body.slice(0, 300)}`).toContain(res.statusCode);
    const code = (JSON.parse(res.body) as { error: { code: string } }).error.code;
    expect(Object.keys(errorRegistry), `${label}: ${code}`).toContain(code);
  }

  const raw = (method: string, url: string, payload: string | Buffer, contentType = 'application/json') =>
    stack.app.inject({ method: method as 'POST', url, headers: { 'x-api-key': tenant.apiKey, 'content-type': contentType }, payload });

  it('refuses malformed, mistyped, unknown, NUL, lone-surrogate, oversized and hostile bodies — and writes nothing', async () => {
    const before = await countAllRows(stack.db);
    const call = callAs(stack.app, tenant);
    let bodyRoutes = 0;
    for (const route of routesUnder(stack.app, '/api/v1')) {
      const key = `${route.method} ${route.url}`;
      const c = routeCases[key]!;
      const url = c.url(ids);
      if (route.method === 'GET') continue;
      // Malformed JSON is refused by the parser on every route that could take a body.
      expectClear4xx(await raw(route.method, url, '{"a":'), `${key} malformed JSON`, 400);
      if (!operations[key]?.requestBody) continue;
      bodyRoutes += 1;
      const base = (c.body?.(ids) ?? {}) as Record<string, unknown>;
      const firstString = Object.keys(base).find((k) => typeof base[k] === 'string') ?? 'name';
      expectClear4xx(await call(route.method, url, []), `${key} array body`, 422);
      expectClear4xx(await call(route.method, url, { ...base, unexpected_field: 1 }), `${key} unknown field`, 422);
      expectClear4xx(await call(route.method, url, { ...base, [firstString]: { $ne: null } }), `${key} type confusion`, 422);
      expectClear4xx(await call(route.method, url, { ...base, [firstString]: 12345 }), `${key} number for string`, 422);
      expectClear4xx(await call(route.method, url, { ...base, [firstString]: 'a\u0000b' }), `${key} NUL`, 422);
      const surrogate = JSON.stringify({ ...base, [firstString]: 'X' }).replace('"X"', '"\\ud800"');
      expectClear4xx(await raw(route.method, url, surrogate), `${key} lone surrogate`, 422);
      expectClear4xx(await raw(route.method, url, `{"__proto__":{"polluted":true}}`), `${key} __proto__`);
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
      expectClear4xx(await raw(route.method, url, '['.repeat(10_000) + ']'.repeat(10_000)), `${key} deep nesting`, 400);
      const huge = JSON.stringify({ ...base, [firstString]: 'x'.repeat(1_100_000) });
      expectClear4xx(await raw(route.method, url, huge), `${key} 1.1 MiB body`, 413);
      // text/plain is parsed as a string, which no body schema accepts.
      expectClear4xx(await raw(route.method, url, JSON.stringify(base), 'text/plain'), `${key} text/plain`, [415, 422]);
      expectClear4xx(await raw(route.method, url, 'x', 'application/xml'), `${key} application/xml`, 415);
    }
    expect(bodyRoutes).toBeGreaterThan(8);
    expect(await countAllRows(stack.db)).toEqual(before);
  });

  it('refuses bad path parameters on every route with one', async () => {
    const before = await countAllRows(stack.db);
    const call = callAs(stack.app, tenant);
    for (const route of routesUnder(stack.app, '/api/v1')) {
      if (!route.url.includes(':')) continue;
      const key = `${route.method} ${route.url}`;
      const c = routeCases[key]!;
      const url = c.url(ids);
      const body = c.body?.(ids);
      const mutations: [string, string][] = [];
      for (const id of [ids.conversationId, ids.sessionId, ids.demoRoomId, ids.webhookId, ids.deliveryId, ids.exportId]) {
        if (url.includes(id)) {
          mutations.push(['not a uuid', url.replace(id, 'not-a-uuid')]);
          mutations.push(['SQL in id', url.replace(id, encodeURIComponent("1' OR '1'='1"))]);
        }
      }
      for (const ext of [ids.externalId, ids.externalId2]) {
        if (url.includes(`/${ext}`)) {
          mutations.push(['NUL in external_id', url.replace(`/${ext}`, '/a%00b')]);
          mutations.push(['CRLF in external_id', url.replace(`/${ext}`, '/a%0D%0Ab')]);
          mutations.push(['lone surrogate in external_id', url.replace(`/${ext}`, '/a%ED%A0%80b')]);
          mutations.push(['overlong external_id', url.replace(`/${ext}`, `/${'x'.repeat(300)}`)]);
        }
      }
      expect(mutations.length, key).toBeGreaterThan(0);
      for (const [what, bad] of mutations) expectClear4xx(await call(route.method, bad, body), `${key} ${what}`);
    }
    expect(await countAllRows(stack.db)).toEqual(before);
  });

  it('clamps or refuses bad pagination and refuses tampered cursors on every list', async () => {
    const call = callAs(stack.app, tenant);
    // Enough rows for a second page everywhere the list is per conversation.
    for (let i = 0; i < 3; i++) {
      await call('POST', `/api/v1/conversations/${ids.conversationId}/messages`, { sender_external_id: ids.externalId, content: `p${i}` });
    }
    const before = await countAllRows(stack.db);
    let lists = 0;
    for (const route of routesUnder(stack.app, '/api/v1')) {
      const key = `${route.method} ${route.url}`;
      const params = (operations[key]?.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
      if (route.method !== 'GET' || !params.includes('limit')) continue;
      lists += 1;
      const url = routeCases[key]!.url(ids);
      const sep = url.includes('?') ? '&' : '?';
      // Clamped to 100 (our lists) or refused (V-08 allows either); never a page of a million.
      const clamped = await call('GET', `${url}${sep}limit=1000000`);
      if (clamped.statusCode === 200) expect(clamped.json().data.length).toBeLessThanOrEqual(100);
      else expectClear4xx(clamped, `${key} limit=1000000`, 422);
      for (const bad of ['-1', '0', 'abc', '1e9x', '']) {
        expectClear4xx(await call('GET', `${url}${sep}limit=${bad}`), `${key} limit=${bad}`, 422);
      }
      for (const name of params.filter((p) => p === 'cursor' || p === 'before')) {
        const page = (await call('GET', `${url}${sep}limit=1`)).json() as { next_cursor: string | null };
        const cursors = ['garbage', 'eyJ3IjoxfQ.AAAA', `${'a'.repeat(2000)}`];
        if (page.next_cursor) {
          const [body, sig] = page.next_cursor.split('.');
          const forged = Buffer.from(body!, 'base64url').toString('utf8').replace(/"s":\d+/, '"s":999').replace(/"id":"[^"]+"/, '"id":"ffffffff-ffff-7fff-bfff-ffffffffffff"');
          cursors.push(`${Buffer.from(forged).toString('base64url')}.${sig}`);
          cursors.push(`${body}.${sig!.slice(0, -2)}xx`);
        }
        for (const cursor of cursors) {
          const res = await call('GET', `${url}${sep}${name}=${encodeURIComponent(cursor)}`);
          expectClear4xx(res, `${key} ${name}=tampered`, [400, 422]);
        }
      }
    }
    expect(lists).toBeGreaterThanOrEqual(5);
    // SQL in filters is just a value that matches nothing (V-12): parameterised, never interpolated.
    const sqli = await call('GET', `/api/v1/conversations?subject=${encodeURIComponent("' OR 1=1--")}`);
    expect(sqli.statusCode).toBe(200);
    expect(sqli.json().data).toEqual([]);
    expectClear4xx(await call('GET', `/api/v1/conversations?state=${encodeURIComponent("x'; select pg_sleep(5)--")}`), 'state SQL', 422);
    expectClear4xx(await call('GET', '/api/v1/conversations?sort=password_hash'), 'sort not allowlisted', 422);
    expect(await countAllRows(stack.db)).toEqual(before);
  });

  it('enforces field rules: message length in code points, metadata bounds, URLs, emails (V-01, V-03, V-10, V-11)', async () => {
    const call = callAs(stack.app, tenant);
    // The `support` configuration keeps the default limit (guest-host lowers it to 5 000 by policy).
    const support = await call('POST', '/api/v1/conversations', { widget: 'support', participants: [{ external_id: ids.externalId, role: 'customer' }] });
    expect(support.statusCode).toBe(201);
    const url = `/api/v1/conversations/${support.json().id}/messages`;
    // 10 000 astral code points (20 000 UTF-16 units) is exactly at the limit.
    const atLimit = await call('POST', url, { sender_external_id: ids.externalId, content: '😀'.repeat(10_000) });
    expect(atLimit.statusCode).toBe(201);
    expect(atLimit.json().content).toBe('😀'.repeat(10_000));
    const over = await call('POST', url, { sender_external_id: ids.externalId, content: 'a'.repeat(10_001) });
    expectClear4xx(over, 'content 10 001', 422);
    expect(over.json().error.details).toMatchObject({ max_length: 10_000 });
    const unicode = 'e\u0301 👩‍👩‍👧 👍🏿 漢字 مرحبا עברית 𝕏';
    const round = await call('POST', url, { sender_external_id: ids.externalId, content: unicode });
    expect(round.json().content).toBe(unicode);

    expectClear4xx(await call('POST', '/api/v1/users', { external_id: 'x1', name: 'X', avatar_url: 'javascript:alert(1)' }), 'javascript: url', 422);
    expectClear4xx(await call('POST', '/api/v1/users', { external_id: 'x1', name: 'X', email: 'a@b.c\r\nBcc: evil@x' }), 'header injection email', 422);
    expectClear4xx(await call('POST', '/api/v1/users', { external_id: 'x1', name: 'X\r\nBcc: evil@x' }), 'CRLF in name', 422);
    const many = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, i]));
    expectClear4xx(await call('POST', '/api/v1/users', { external_id: 'x1', name: 'X', metadata: many }), '51 metadata keys', 422);
    expectClear4xx(await call('POST', '/api/v1/users', { external_id: 'x1', name: 'X', metadata: { ['k'.repeat(65)]: 1 } }), 'long metadata key', 422);
    expectClear4xx(await call('POST', '/api/v1/users', { external_id: 'x1', name: 'X', metadata: { big: 'x'.repeat(17_000) } }), 'big metadata', 422);
    const bidi = await call('POST', '/api/v1/users', { external_id: 'x2', name: 'evil\u202Etxt.exe' });
    expect(bidi.statusCode).toBe(201);
    expect(bidi.json().name).toBe('eviltxt.exe');
  });
});
