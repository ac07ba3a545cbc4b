import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Metrics } from '../metrics.ts';

const readySchema = z.object({
  status: z.enum(['ok', 'unavailable']),
  checks: z.record(z.string(), z.object({ ok: z.boolean(), latency_ms: z.number() })),
});

export function registerHealthRoutes(app: FastifyInstance, metrics: Metrics): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get('/health', {
    schema: { tags: ['health'], summary: 'Liveness', response: { 200: z.object({ status: z.literal('ok') }) } },
    logLevel: 'warn',
    handler: async () => ({ status: 'ok' as const }),
  });

  r.get('/ready', {
    schema: {
      tags: ['health'],
      summary: 'Readiness: database, Redis and storage reachable',
      response: { 200: readySchema, 503: readySchema },
    },
    logLevel: 'warn',
    handler: async (_req, reply) => {
      const { database, blobStore, readinessChecks } = app.deps;
      const probes: Record<string, () => Promise<void>> = {
        database: () => database.ping(),
        storage: () => blobStore.ping(),
        ...readinessChecks,
      };
      const checks: Record<string, { ok: boolean; latency_ms: number }> = {};
      await Promise.all(
        Object.entries(probes).map(async ([name, probe]) => {
          const t0 = performance.now();
          let ok = true;
          try {
            await withTimeout(probe(), 2_000);
          } catch {
            ok = false;
          }
          checks[name] = { ok, latency_ms: Math.round((performance.now() - t0) * 100) / 100 };
        }),
      );
      const allOk = Object.values(checks).every((c) => c.ok);
      return reply.code(allOk ? 200 : 503).send({ status: allOk ? 'ok' : 'unavailable', checks });
    },
  });

  app.get('/metrics', { schema: { hide: true }, logLevel: 'warn' }, async (_req, reply) => {
    // Queue depth is read at scrape time: one cheap call instead of a timer per process.
    try {
      metrics.queueDepth.set(await app.deps.queue.depth());
    } catch {
      // A queue that cannot answer (Redis down) leaves the last value; /ready reports the outage.
    }
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
