/**
 * The server under test, in its own process so the load generator (parent) and the server do not share an
 * event loop or a heap. It runs startServer from the production bundle the parent names in BENCH_SERVER_MODULE
 * (startServerChild builds it when stale), so the bench measures the code `npm start` runs. Configuration comes from the environment exactly as in production (loadConfig);
 * the parent talks to it over the IPC channel:
 *   → {type:'ready', url, pid}                 once listening
 *   ← {type:'core-send', ...}                  fallback when the HTTP route does not exist yet: run sendMessage in-process
 *   ← {type:'stop'}                            close and exit
 */
import { loadConfig } from '@reusable-chat/config';
import { listMessages, sendMessage } from '@reusable-chat/core';
import type * as ServerMain from '../../apps/server/src/main.ts';
import { summarize } from './stats.ts';

interface CoreSendRequest {
  type: 'core-send';
  workspaceId: string;
  targets: { conversationId: string; chatUserId: string }[];
  durationS: number;
  concurrency: number;
}

interface CoreHistoryRequest {
  type: 'core-history';
  workspaceId: string;
  conversationId: string;
  limit: number;
  warmup: number;
  iterations: number;
}

// The sources only when no bundle is named (this file started by hand).
const { startServer } = (await import(process.env.BENCH_SERVER_MODULE ?? '../../apps/server/src/main.ts')) as typeof ServerMain;
const server = await startServer({ config: loadConfig(process.env), logger: process.env.BENCH_SERVER_LOG ?? 'warn' });
process.send!({ type: 'ready', url: String(server.url).replace('localhost', '127.0.0.1'), pid: process.pid });

// The bench process died (or hit its deadline): never linger as an orphan holding a port and a database.
process.on('disconnect', () => {
  void server.close().finally(() => process.exit(1));
  setTimeout(() => process.exit(1), 10_000).unref();
});

process.on('message', (raw: unknown) => {
  const msg = raw as { type: string };
  if (msg.type === 'stop') {
    void server.close().then(() => process.exit(0));
  } else if (msg.type === 'core-history') {
    void runCoreHistory(msg as CoreHistoryRequest).then(
      (result) => process.send!({ type: 'core-history-result', ...result }),
      (err: unknown) => process.send!({ type: 'error', message: err instanceof Error ? err.message : String(err) }),
    );
  } else if (msg.type === 'core-send') {
    void runCoreSend(msg as CoreSendRequest).then(
      (result) => process.send!({ type: 'core-send-result', ...result }),
      (err: unknown) => process.send!({ type: 'error', message: err instanceof Error ? err.message : String(err) }),
    );
  }
});

async function runCoreSend(req: CoreSendRequest): Promise<{ count: number; errors: number; p50Ms: number; p99Ms: number; perSecond: number }> {
  const samples: number[] = [];
  let errors = 0;
  const endAt = performance.now() + req.durationS * 1000;
  let i = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: req.concurrency }, async () => {
      while (performance.now() < endAt) {
        const target = req.targets[i++ % req.targets.length]!;
        const start = performance.now();
        try {
          await sendMessage({
            db: server.deps.database.db,
            events: server.deps.events,
            workspaceId: req.workspaceId,
            conversationId: target.conversationId,
            sender: { type: 'user', chatUserId: target.chatUserId },
            content: `bench message ${i}`,
            // The same policy pipeline the HTTP route runs, so the two paths differ only by HTTP.
            ...(server.deps.messagePolicyHook ? { policyHook: server.deps.messagePolicyHook } : {}),
          });
          samples.push(performance.now() - start);
        } catch {
          errors += 1;
        }
      }
    }),
  );
  const elapsedS = (performance.now() - t0) / 1000;
  const s = summarize(samples);
  return { count: s.count, errors, p50Ms: s.p50Ms, p99Ms: s.p99Ms, perSecond: s.count / elapsedS };
}

async function runCoreHistory(req: CoreHistoryRequest): Promise<{ samplesMs: number[]; rows: number }> {
  const params = {
    db: server.deps.database.db,
    workspaceId: req.workspaceId,
    conversationId: req.conversationId,
    cursorSecret: server.deps.appSecret,
    limit: req.limit,
  };
  for (let i = 0; i < req.warmup; i++) await listMessages(params);
  const samplesMs: number[] = [];
  let rows = 0;
  for (let i = 0; i < req.iterations; i++) {
    const t0 = performance.now();
    const page = await listMessages(params);
    samplesMs.push(performance.now() - t0);
    rows = page.data.length;
  }
  return { samplesMs, rows };
}
