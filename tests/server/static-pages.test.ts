import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, startStack, type TestStack } from '@reusable-chat/testing';

describe.each(backends)('landing and demo pages (%s)', (backend) => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({ backend });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('serves / with links to the API reference and health, under a CSP that allows no script', async () => {
    const res = await stack.app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.body).toContain('href="/api/docs"');
    expect(res.body).toContain('href="/health"');
    expect(res.body).not.toContain('<script');
  });

  it('serves the /demo app (or its "not built" page) and keeps the pages out of the OpenAPI document', async () => {
    const res = await stack.app.inject({ method: 'GET', url: '/demo' });
    // The demo app is apps/dashboard/dist (tests/demo and tests/e2e/demo.test.ts cover it); unbuilt → 503 page.
    expect([200, 503]).toContain(res.statusCode);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    const openapi = (await stack.app.inject({ method: 'GET', url: '/api/openapi.json' })).json() as { paths: Record<string, unknown> };
    expect(Object.keys(openapi.paths)).not.toContain('/demo');
    expect(Object.keys(openapi.paths)).not.toContain('/');
  });
});
