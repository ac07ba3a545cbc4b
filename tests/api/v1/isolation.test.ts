import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, createTenant, startStack, type Tenant, type TestStack } from '@reusable-chat/testing';
import { callAs, routesUnder } from './helpers.ts';
import { routeCases, seedTenant, snapshotWorkspace, type TenantIds } from './route-cases.ts';

/**
 * Tenant isolation for every /api/v1 route (checklist T-01, T-04, T-08, T-13): workspace A's key with
 * workspace B's ids is 404 and B's rows are byte-for-byte unchanged afterwards.
 */
describe.each(backends)('consumer API tenant isolation (%s)', (backend) => {
  let stack: TestStack;
  let a: Tenant;
  let b: Tenant;
  let idsA: TenantIds;
  let idsB: TenantIds;
  beforeAll(async () => {
    stack = await startStack({ backend });
    a = await createTenant(stack.db, { name: 'A' });
    b = await createTenant(stack.db, { name: 'B' });
    idsA = await seedTenant(stack, a, 'tenant-a');
    idsB = await seedTenant(stack, b, 'tenant-b');
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('has an isolation case for exactly the routes the router serves', () => {
    const served = routesUnder(stack.app, '/api/v1').map((r) => `${r.method} ${r.url}`).sort();
    expect(served.length).toBeGreaterThan(20);
    expect(served).toEqual(Object.keys(routeCases).sort());
  });

  it("answers A's key with B's ids with 404 on every route and leaves B untouched", async () => {
    const callA = callAs(stack.app, a);
    const before = await snapshotWorkspace(stack.db, b.workspaceId);
    // Server-issued ids of B. External ids are the caller's own input and may be echoed in a 422.
    const bIds = [idsB.userId, idsB.conversationId, idsB.messageId, idsB.sessionId, idsB.demoRoomId, idsB.webhookId, idsB.deliveryId];
    // Routes that act on A's own data run last: POST /users with B's external_id creates A's own user
    // of that name, after which the other routes would (correctly) find A's user.
    const ordered = routesUnder(stack.app, '/api/v1').sort(
      (x, y) => Number(routeCases[`${x.method} ${x.url}`]?.crossTenant === 'own') - Number(routeCases[`${y.method} ${y.url}`]?.crossTenant === 'own'),
    );
    for (const route of ordered) {
      const key = `${route.method} ${route.url}`;
      const c = routeCases[key]!;
      const res = await callA(route.method as 'GET', c.url(idsB), c.body?.(idsB));
      const label = `${key} → ${res.statusCode} ${res.body.slice(0, 200)}`;
      if (c.crossTenant === 'own') {
        expect(res.statusCode, label).toBeLessThan(300);
      } else {
        expect(res.statusCode, label).toBe(c.crossTenant);
      }
      // Nothing of B comes back, whatever the status (no body hints, T-01).
      for (const id of bIds) expect(res.body.includes(id), `${label} leaks ${id}`).toBe(false);
    }
    expect(await snapshotWorkspace(stack.db, b.workspaceId)).toBe(before);
  });

  it('ignores or refuses every attempt to name another workspace (T-04, T-08, T-13)', async () => {
    const callA = callAs(stack.app, a);
    const before = await snapshotWorkspace(stack.db, b.workspaceId);
    // Header: ignored, the key decides the workspace.
    const viaHeader = await callA('GET', '/api/v1/conversations', undefined, { 'x-workspace-id': b.workspaceId });
    expect(viaHeader.statusCode).toBe(200);
    expect(viaHeader.body).not.toContain(idsB.conversationId);
    expect(viaHeader.body).toContain(idsA.conversationId);
    // Query and body fields naming a workspace: 422 from the strict schemas, on every route that has them.
    for (const route of routesUnder(stack.app, '/api/v1')) {
      const c = routeCases[`${route.method} ${route.url}`]!;
      const url = c.url(idsA);
      const withQuery = `${url}${url.includes('?') ? '&' : '?'}workspace_id=${b.workspaceId}`;
      const q = await callA(route.method as 'GET', withQuery, c.body?.(idsA));
      // Strict query schemas answer 422; routes without one ignore the parameter (then it acts on A only).
      expect(q.statusCode, `${route.method} ${route.url} query → ${q.statusCode}`).toBeLessThan(500);
      if (q.statusCode !== 422) expect(q.body).not.toContain(idsB.conversationId);
      const base = c.body?.(idsA);
      if (base && typeof base === 'object') {
        for (const field of ['workspace_id', 'workspaceId', 'account_id']) {
          const res = await callA(route.method as 'POST', url, { ...base, [field]: b.workspaceId });
          expect(res.statusCode, `${route.method} ${route.url} body.${field} → ${res.statusCode} ${res.body}`).toBe(422);
        }
      }
    }
    const t13 = await callA('GET', `/api/v1/conversations/${idsA.conversationId}/messages?conversation_id=${idsB.conversationId}`);
    expect(t13.statusCode).toBe(422);
    expect(await snapshotWorkspace(stack.db, b.workspaceId)).toBe(before);
  });

  it("does not let A's cursor read B's list, nor B's cursor A's", async () => {
    const callA = callAs(stack.app, a);
    const callB = callAs(stack.app, b);
    for (let i = 0; i < 3; i++) {
      await callB('POST', `/api/v1/conversations/${idsB.conversationId}/messages`, { sender_external_id: idsB.externalId, content: `b${i}` });
    }
    const pageB = (await callB('GET', `/api/v1/conversations/${idsB.conversationId}/messages?limit=1`)).json();
    expect(pageB.next_cursor).toEqual(expect.any(String));
    const cross = await callA('GET', `/api/v1/conversations/${idsA.conversationId}/messages?before=${pageB.next_cursor}`);
    expect(cross.statusCode).toBe(400);
    expect(cross.json().error.code).toBe('invalid_cursor');
  });
});
