/**
 * The IPC contract every server child of the realtime bench speaks, so the parent (the load generator, in
 * its own process) drives ours and the baselines the same way:
 *   → {type:'ready', port, pid}
 *   ← {type:'publish', channel, event, data, count}   → {type:'published'}   (broadcast `count` events, back to back)
 *   ← {type:'usage'}                                   → {type:'usage', cpuUs, rssBytes}   (after a GC)
 *   ← {type:'snapshot', file}                          → {type:'snapshot', file}   (v8 heap snapshot)
 *   ← {type:'stop'}                                    exits (ours says {type:'stopped'} once it would have exited in production)
 */
import { writeHeapSnapshot } from 'node:v8';

export interface PublishCommand {
  type: 'publish';
  channel: string;
  event: string;
  data: string;
  count: number;
}

export interface UsageReply {
  type: 'usage';
  cpuUs: number;
  rssBytes: number;
  /** The parts of RSS Node can name (bench/realtime/memory-probe.ts splits the per-connection cost with them). */
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
  arrayBuffersBytes: number;
}

export function usage(): UsageReply {
  const gc = (globalThis as { gc?: () => void }).gc;
  // Twice: the first full GC can leave weak-callback garbage (closed sockets' handles) for the second.
  if (gc) {
    gc();
    gc();
  }
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  return {
    type: 'usage',
    cpuUs: cpu.user + cpu.system,
    rssBytes: mem.rss,
    heapUsedBytes: mem.heapUsed,
    heapTotalBytes: mem.heapTotal,
    externalBytes: mem.external,
    arrayBuffersBytes: mem.arrayBuffers,
  };
}

/** Wires the IPC commands to a child's publish and stop functions. */
export function serveCommands(handlers: { publish(cmd: PublishCommand): Promise<void>; stop(): Promise<void> }): void {
  process.on('message', (raw: unknown) => {
    const msg = raw as { type: string };
    if (msg.type === 'publish') {
      void handlers.publish(msg as PublishCommand).then(() => process.send!({ type: 'published' }));
    } else if (msg.type === 'usage') {
      process.send!(usage());
    } else if (msg.type === 'snapshot') {
      // Heap snapshot for offline diffing (memory-probe.ts --snapshot): which objects exist per connection.
      const file = writeHeapSnapshot((msg as { type: string; file: string }).file);
      process.send!({ type: 'snapshot', file });
    } else if (msg.type === 'stop') {
      void handlers.stop().finally(() => process.exit(0));
    }
  });
  process.on('disconnect', () => process.exit(0));
}
