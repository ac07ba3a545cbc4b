import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPublicKey } from '@reusable-chat/core';
import { backends, startStack, type TestStack } from '@reusable-chat/testing';
import { bearer, createWidgetTenant, mintSession, ORIGIN_A, ORIGIN_B, type WidgetSession, type WidgetTenant } from './widget-helpers.ts';

/** C-05: CORS on /api/widget and /api/embed — only the workspace's own allowed origins, never `*`. */
describe.each(backends)('widget CORS (%s)', (backend) => {
  let stack: TestStack;
  let a: WidgetTenant;
  let vA: WidgetSession;

  beforeAll(async () => {
    stack = await startStack({ backend });
    a = await createWidgetTenant(stack.db, ORIGIN_A);
    await createWidgetTenant(stack.db, ORIGIN_B);
    await createPublicKey({ db: stack.db, workspaceId: a.workspaceId, allowedOrigins: ['https://second-site.example:8443'] });
    vA = await mintSession(stack.app, a, 'visitor');
  });
  afterAll(async () => {
    await stack?.close();
  });

  const preflight = (url: string, origin: string) =>
    stack.app.inject({
      method: 'OPTIONS',
      url,
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });

  it('answers preflights for known origins only, without credentials', async () => {
    const ok = await preflight('/api/widget/conversations/0190a000-0000-7000-8000-000000000000/messages', ORIGIN_A);
    expect(ok.statusCode).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe(ORIGIN_A);
    expect(String(ok.headers['access-control-allow-headers'])).toMatch(/Authorization/);
    expect(String(ok.headers['access-control-allow-methods'])).toMatch(/POST/);
    expect(ok.headers['access-control-allow-credentials']).toBeUndefined();
    expect(ok.headers['vary']).toContain('Origin');
    const unknown = await preflight('/api/widget/me', 'https://evil.example');
    expect(unknown.headers['access-control-allow-origin']).toBeUndefined();
    const embed = await preflight('/api/embed/session', ORIGIN_A);
    expect(embed.headers['access-control-allow-origin']).toBe(ORIGIN_A);
    // Realtime's channel authoriser shares the prefix and so the policy.
    const broadcasting = await preflight('/api/widget/broadcasting/auth', ORIGIN_A);
    expect(broadcasting.headers['access-control-allow-origin']).toBe(ORIGIN_A);
  });

  it("grants the session's workspace origins; B's site with A's session is refused (C-05)", async () => {
    for (const origin of [ORIGIN_A, 'https://second-site.example:8443', stack.deps.config.appUrl]) {
      const res = await stack.app.inject({ method: 'GET', url: '/api/widget/me', headers: bearer(vA, origin) });
      expect({ origin, status: res.statusCode }).toEqual({ origin, status: 200 });
      expect(res.headers['access-control-allow-origin']).toBe(new URL(origin).origin);
      expect(res.headers['access-control-allow-credentials']).toBeUndefined();
      expect(res.headers['vary']).toContain('Origin');
    }
    for (const origin of [ORIGIN_B, 'https://evil.example', 'https://shop-a.example.evil.com', 'http://shop-a.example', 'null']) {
      const res = await stack.app.inject({ method: 'POST', url: '/api/widget/conversations', headers: bearer(vA, origin), payload: {} });
      expect({ origin, status: res.statusCode }).toEqual({ origin, status: 403 });
      expect(res.json().error.code).toBe('origin_not_allowed');
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    }
  });

  it('requests without Origin (bearer API from servers, apps) are fine and get no CORS grant', async () => {
    const res = await stack.app.inject({ method: 'GET', url: '/api/widget/me', headers: bearer(vA) });
    expect(res.statusCode).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect(res.headers['vary']).toContain('Origin');
  });

  it('an allowed page can read a 401 (to refresh its session); nothing ever says *', async () => {
    const res = await stack.app.inject({ method: 'GET', url: '/api/widget/me', headers: { origin: ORIGIN_A } });
    expect(res.statusCode).toBe(401);
    expect(res.headers['access-control-allow-origin']).toBe(ORIGIN_A);
    const evil = await stack.app.inject({ method: 'GET', url: '/api/widget/me', headers: { origin: 'https://evil.example' } });
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    for (const r of [res, evil]) expect(r.headers['access-control-allow-origin']).not.toBe('*');
  });
});
