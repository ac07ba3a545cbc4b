/**
 * Our server in its own process: buildApp with the production composition (composeDeps from the environment)
 * on a copy of the migrated test template, so start-up costs a second, not a fresh PGlite initdb. Broadcasts go
 * through the realtime server's publish — the path the HTTP API and the domain-event fan-out use — so the bench
 * measures the fan-out engine without HTTP in front (trigger latency over the HTTP API is measured separately).
 */
import { loadConfig } from '@reusable-chat/config';
import { createTestDatabase } from '@reusable-chat/testing';
import { buildApp } from '../../../apps/server/src/app.ts';
import { composeDeps } from '../../../apps/server/src/compose.ts';
import { serveCommands } from './child-protocol.ts';

const testDb = await createTestDatabase('pglite');
const deps = await composeDeps({ config: loadConfig(process.env), database: testDb.handle, roles: ['api', 'realtime'] });
const app = await buildApp(deps, { logger: 'warn' });
// A reconnect storm arrives at once: Node's default backlog (511) drops SYNs, and each dropped SYN costs the client
// a 1–2–4–8 s kernel retransmit; the kernel caps this at net.core.somaxconn.
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0), backlog: 4096 });
const address = app.server.address();
if (address === null || typeof address === 'string') throw new Error('no port');
process.send!({ type: 'ready', port: address.port, pid: process.pid });

serveCommands({
  async publish(cmd) {
    for (let i = 0; i < cmd.count; i++) {
      await app.realtimeServer.publish({ channels: [cmd.channel], event: cmd.event, data: cmd.data });
      // The same cadence as the baselines: yield to I/O every ten broadcasts.
      if (i % 10 === 9) await new Promise((r) => setImmediate(r));
    }
  },
  async stop() {
    const t0 = performance.now();
    // The realtime shutdown (4200 to every socket, the close handshakes) first, timed apart from the rest of close.
    await app.realtimeServer.shutdown();
    const tr = performance.now();
    await app.close();
    const t1 = performance.now();
    await deps.dispose();
    const t2 = performance.now();
    // A production node would exit here; removing the bench's copy of the test database is not part of its stop.
    process.send!({ type: 'stopped' });
    await testDb.drop();
    if (process.env.BENCH_VERBOSE) {
      console.error(`pusher-server child: stop — realtime shutdown ${Math.round(tr - t0)} ms, rest of app.close ${Math.round(t1 - tr)} ms, dispose ${Math.round(t2 - t1)} ms, drop ${Math.round(performance.now() - t2)} ms`);
    }
  },
});
