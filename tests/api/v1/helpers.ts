import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll } from 'vitest';
import { createTenant, startStack, type Backend, type Tenant, type TestStack } from '@reusable-chat/testing';

export interface TenantStack {
  readonly stack: TestStack;
  readonly tenant: Tenant;
  readonly call: ReturnType<typeof callAs>;
}

/**
 * A stack with one tenant for the enclosing describe block: started in a beforeAll registered here (so it runs
 * before the block's own), closed in afterAll. Read the fields inside hooks and tests, not at collection time.
 */
export function useTenantStack(backend: Backend): TenantStack {
  const ctx = {} as { stack: TestStack; tenant: Tenant; call: ReturnType<typeof callAs> };
  beforeAll(async () => {
    ctx.stack = await startStack({ backend });
    ctx.tenant = await createTenant(ctx.stack.db);
    ctx.call = callAs(ctx.stack.app, ctx.tenant);
  });
  afterAll(async () => {
    await ctx.stack?.close();
  });
  return ctx;
}

/** inject() with the tenant's API key and a JSON body. */
export function callAs(app: FastifyInstance, tenant: Pick<Tenant, 'apiKey'>) {
  return (method: InjectOptions['method'], url: string, body?: unknown, headers: Record<string, string> = {}) =>
    app.inject({
      method,
      url,
      headers: { 'x-api-key': tenant.apiKey, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { payload: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
}

export interface RouteEntry {
  readonly method: string;
  readonly url: string;
}

/**
 * Every route the router holds under `prefix`, read from app.printRoutes() (a tree of path segments with
 * their methods), so a route added later shows up here without anyone listing it.
 */
export function routesUnder(app: FastifyInstance, prefix: string): RouteEntry[] {
  const tree = app.printRoutes({ commonPrefix: false });
  const stack: { depth: number; path: string }[] = [];
  const out: RouteEntry[] = [];
  for (const line of tree.split('\n')) {
    const m = /^([│ ]*)(?:├── |└── )(\S+)(?: \(([^)]+)\))?/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    while (stack.length > 0 && stack.at(-1)!.depth >= depth) stack.pop();
    const path = (stack.at(-1)?.path ?? '') + m[2]!;
    stack.push({ depth, path });
    if (!m[3] || !path.startsWith(prefix)) continue;
    for (const method of m[3].split(',').map((s) => s.trim())) {
      if (method === 'HEAD' || method === 'OPTIONS') continue;
      out.push({ method, url: path });
    }
  }
  return out;
}
