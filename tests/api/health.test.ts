import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, startStack, type TestStack } from '@reusable-chat/testing';

describe.each(backends)('health and errors (%s)', (backend) => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack({ backend });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('answers liveness and readiness', async () => {
    const health = await stack.app.inject({ method: 'GET', url: '/health' });
    expect(health.statusCode).toBe(200);
    expect(health.json()).toEqual({ status: 'ok' });
    const ready = await stack.app.inject({ method: 'GET', url: '/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json().checks.database.ok).toBe(true);
  });

  it('serves Prometheus metrics', async () => {
    await stack.app.inject({ method: 'GET', url: '/health' });
    const res = await stack.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('rc_http_request_duration_seconds_bucket');
  });

  it('answers unknown routes with a registry error', async () => {
    const res = await stack.app.inject({ method: 'GET', url: '/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: { code: 'route_not_found', message: expect.any(String) } });
  });

  it('serves an OpenAPI 3.1 document', async () => {
    const res = await stack.app.inject({ method: 'GET', url: '/api/openapi.json' });
    expect(res.statusCode).toBe(200);
    expect(res.json().openapi).toBe('3.1.0');
  });
});
