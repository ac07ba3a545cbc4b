/**
 * Where a connection's memory goes: starts our server (or the bare `ws` ceiling) in its own process, adds idle
 * subscribed sockets in steps from light raw-protocol load processes, and after each step prints the server's
 * RSS, V8 heap, external and ArrayBuffer bytes (after a double GC) and the per-connection slope of each against
 * the empty server. With --snapshot it writes a heap snapshot at the empty server and at the last step, for
 * diffing by constructor (bench/realtime/heap-diff.ts).
 *
 *   npx tsx bench/realtime/memory-probe.ts [--steps 1000,5000,10000] [--snapshot] [--ceiling]
 * Bounded: ≤ 20 000 sockets, every child stopped at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startChild } from './index.ts';
import type { UsageReply } from './children/child-protocol.ts';

const args = process.argv.slice(2);
const stepsArg = args[args.indexOf('--steps') + 1];
const steps = args.includes('--steps') && stepsArg ? stepsArg.split(',').map(Number) : [1_000, 5_000, 10_000, 19_000];
const wantSnapshot = args.includes('--snapshot');
const ceiling = args.includes('--ceiling');
const APP = { key: 'bench-key', secret: 'bench-secret-0123456789abcdef' };
const PER_LOAD = 5_000;

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'rc-memprobe-'));
const server = ceiling
  ? await startChild('ws-ceiling.child.ts')
  : await startChild('pusher-server.child.ts', {
      DATA_DIR: dataDir,
      PORT: '0',
      HOST: '127.0.0.1',
      APP_SECRET: 'bench-app-secret-0123456789abcdefghijklmnopqrstuvwxyz',
      REVERB_APP_ID: 'bench-app',
      REVERB_APP_KEY: APP.key,
      REVERB_APP_SECRET: APP.secret,
      REALTIME_MAX_CONNECTIONS: '60000',
      REALTIME_MAX_CONNECTIONS_PER_IP: '60000',
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
    });
const loads: Awaited<ReturnType<typeof startChild>>[] = [];
const kib = (n: number) => Math.round(n / 102.4) / 10;
try {
  await new Promise((r) => setTimeout(r, 1_000));
  const base = await server.request<UsageReply>({ type: 'usage' }, 'usage');
  if (wantSnapshot) await server.request({ type: 'snapshot', file: path.join(os.tmpdir(), 'rc-mem-0.heapsnapshot') }, 'snapshot');
  console.log(`base: rss ${kib(base.rssBytes)} KiB heapUsed ${kib(base.heapUsedBytes)} KiB external ${kib(base.externalBytes)} KiB arrayBuffers ${kib(base.arrayBuffersBytes)} KiB`);
  let held = 0;
  for (const target of steps) {
    while (held < target) {
      // Each load process holds ≤ 5 000 sockets from its own source address.
      const last = loads.at(-1);
      const lastCount = (last as unknown as { count?: number } | undefined)?.count ?? PER_LOAD;
      let load = last;
      if (!load || lastCount >= PER_LOAD) {
        load = await startChild('raw-load.child.ts');
        (load as unknown as { count: number }).count = 0;
        loads.push(load);
      }
      const room = PER_LOAD - (load as unknown as { count: number }).count;
      // A load process takes one 'connect' command: its whole share at once.
      const n = Math.min(room, target - held);
      const reply = await load.request<{ open: number; failed: number; ms: number }>({
        type: 'connect',
        urls: [`ws://127.0.0.1:${server.port}`],
        count: n,
        channel: 'private-stream',
        historyUrl: 'http://127.0.0.1:9/',
        localAddress: `127.0.0.${10 + loads.length}`,
        app: APP,
      }, 'connected');
      (load as unknown as { count: number }).count = PER_LOAD; // one connect per process
      held += reply.open;
      if (reply.failed > 0) console.log(`  ${reply.failed} failed`);
    }
    await new Promise((r) => setTimeout(r, 1_500));
    const u = await server.request<UsageReply>({ type: 'usage' }, 'usage');
    const per = (a: number, b: number) => Math.round((a - b) / held);
    console.log(
      `${held} sockets: rss ${kib(u.rssBytes)} KiB (${per(u.rssBytes, base.rssBytes)} B/conn) heapUsed ${per(u.heapUsedBytes, base.heapUsedBytes)} B/conn ` +
        `heapTotal ${per(u.heapTotalBytes, base.heapTotalBytes)} B/conn external ${per(u.externalBytes, base.externalBytes)} B/conn arrayBuffers ${per(u.arrayBuffersBytes, base.arrayBuffersBytes)} B/conn`,
    );
  }
  if (wantSnapshot) await server.request({ type: 'snapshot', file: path.join(os.tmpdir(), 'rc-mem-1.heapsnapshot') }, 'snapshot');
} finally {
  await Promise.all(loads.map((l) => l.stop().catch(() => l.process.kill('SIGKILL'))));
  await server.stop().catch(() => server.process.kill('SIGKILL'));
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(0);
