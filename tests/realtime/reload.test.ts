/**
 * Zero-downtime reload of one node (docs/restarts.md): the supervised server (RELOADABLE=true) as a real process
 * tree — a node:cluster primary owning the port and one worker. SIGHUP must move every pusher-js client to a new
 * worker (4200, pusher-js's immediate retry, resubscribe) without the port ever refusing a connection; a crashed
 * worker is re-forked; SIGTERM ends everything cleanly. With the embedded database a reload is refused.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import PusherServer from 'pusher';
import { loadConfig } from '@reusable-chat/config';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, pgliteTemplateDir, prepareTemplates, TEST_DATABASE_URL, TEST_REDIS_URL, type TestDatabase } from '@reusable-chat/testing';
import { APP, deleteRedisPrefix, eventually, nextEvent, pusherClient, waitForState, type PusherJsClient } from '../conformance/support.ts';

const MAIN = fileURLToPath(new URL('../../apps/server/src/main.ts', import.meta.url));
const CLIENTS = 6;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Supervised {
  readonly child: ChildProcess;
  readonly port: number;
  readonly sdk: PusherServer;
  /** Every line the primary and its workers printed so far. */
  readonly lines: string[];
  /** Resolves with the first captured group of the first line (seen so far or later) matching `re`. */
  waitForLine(re: RegExp, timeoutMs?: number, after?: number): Promise<string>;
  readonly exited: Promise<number | null>;
}

function startSupervised(env: Record<string, string>, port: number, dataDir: string): Supervised {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    env: {
      ...process.env,
      NODE_ENV: 'test',
      RELOADABLE: 'true',
      HOST: '127.0.0.1',
      PORT: String(port),
      APP_URL: `http://127.0.0.1:${port}`,
      DATA_DIR: dataDir,
      APP_SECRET: 'test-app-secret-0123456789abcdefghijklmnopqrstuvwxyz',
      LOG_LEVEL: 'silent',
      REVERB_APP_ID: APP.id,
      REVERB_APP_KEY: APP.key,
      REVERB_APP_SECRET: APP.secret,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    for (const w of waiters) w();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const sdk = new PusherServer({ appId: APP.id, key: APP.key, secret: APP.secret, host: '127.0.0.1', port: String(port), useTLS: false });
  return {
    child,
    port,
    sdk,
    lines,
    exited,
    waitForLine(re, timeoutMs = 20_000, after = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          for (const line of lines.slice(after)) {
            const m = re.exec(line);
            if (m) {
              waiters.delete(check);
              clearTimeout(timer);
              resolve(m[1] ?? m[0]);
              return;
            }
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no line matching ${re} within ${timeoutMs} ms; output:\n${lines.join('\n')}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}

const pidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Opens TCP connections to the port back to back and counts those refused, until stopped. */
function probeRefusals(port: number): { stop(): Promise<{ attempts: number; refused: number }> } {
  let running = true;
  let attempts = 0;
  let refused = 0;
  const loop = (async () => {
    while (running) {
      attempts++;
      await new Promise<void>((resolve) => {
        const socket = net.connect(port, '127.0.0.1');
        socket.once('connect', () => {
          socket.destroy();
          resolve();
        });
        socket.once('error', (err: NodeJS.ErrnoException) => {
          if (err.code === 'ECONNREFUSED') refused++;
          resolve();
        });
      });
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { attempts, refused };
    },
  };
}

/**
 * PostgreSQL only (the embedded database refuses a reload, below). Both pub/sub drivers: with Redis the two workers
 * are nodes of one cluster during the overlap, and channel state must not keep the old worker's sockets after it.
 */
const pubSubs = TEST_DATABASE_URL ? (['in-memory', ...(TEST_REDIS_URL ? (['Redis'] as const) : [])] as const) : [];

describe.each(pubSubs)('reload supervisor (PostgreSQL, %s pub/sub)', (pubSub) => {
  let db: TestDatabase;
  let node: Supervised;
  let dataDir: string;
  const redisPrefix = `rc_h_rl:reload:${process.pid}:${Math.random().toString(36).slice(2, 8)}:`;
  const clients: { pusher: PusherJsClient; got4200: number; subscribed: number; socketIds: string[] }[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'rc-reload-'));
    const redis: Record<string, string> = pubSub === 'Redis' ? { REDIS_URL: TEST_REDIS_URL ?? '', REDIS_PREFIX: redisPrefix } : {};
    node = startSupervised({ DATABASE_URL: db.url ?? '', ...redis }, await freePort(), dataDir);
    await node.waitForLine(/worker (\d+) ready/);
  }, 30_000);
  afterAll(async () => {
    for (const c of clients) c.pusher.disconnect();
    if (node.child.exitCode === null) {
      node.child.kill('SIGKILL');
      await node.exited;
    }
    await db?.drop();
    if (pubSub === 'Redis') await deleteRedisPrefix(redisPrefix);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('SIGHUP: every pusher-js client gets 4200, reconnects and resubscribes to the new worker; the port never refuses', async () => {
    const oldPid = Number(await node.waitForLine(/worker (\d+) ready/));
    const channel = 'private-reload-room';
    for (let i = 0; i < CLIENTS; i++) {
      const pusher = pusherClient({ port: node.port, sdk: node.sdk });
      const c = { pusher, got4200: 0, subscribed: 0, socketIds: [] as string[] };
      pusher.connection.bind('error', (err: { data?: { code?: number } } | undefined) => {
        if (err?.data?.code === 4200) c.got4200++;
      });
      pusher.connection.bind('connected', () => c.socketIds.push(pusher.connection.socket_id));
      pusher.subscribe(channel).bind('pusher:subscription_succeeded', () => c.subscribed++);
      clients.push(c);
    }
    await eventually(() => clients.every((c) => c.subscribed === 1), 10_000, 'first subscriptions');

    const probe = probeRefusals(node.port);
    const from = node.lines.length;
    node.child.kill('SIGHUP');
    const newPid = Number(await node.waitForLine(/reload done: worker (\d+) serves/, 25_000, from));
    // pusher-js retries at once after 4200; nothing else (no 15 s timeout) may be waited out.
    await eventually(() => clients.every((c) => c.subscribed === 2 && c.pusher.connection.state === 'connected'), 5_000, 'resubscribed');
    const { attempts, refused } = await probe.stop();

    expect(newPid).not.toBe(oldPid);
    expect(pidAlive(oldPid)).toBe(false);
    expect(pidAlive(newPid)).toBe(true);
    expect(attempts).toBeGreaterThan(10);
    expect(refused).toBe(0);
    for (const c of clients) {
      expect(c.got4200).toBe(1);
      expect(c.socketIds).toHaveLength(2);
      expect(c.socketIds[1]).not.toBe(c.socketIds[0]);
    }
    // The new worker holds every subscription, and nothing of the old worker's sockets is left (in memory the
    // state dies with the process; in Redis the old worker removed its own on the way out)…
    const info = await node.sdk.get({ path: `/channels/${channel}`, params: { info: 'subscription_count' } });
    expect(await info.json()).toMatchObject({ occupied: true, subscription_count: CLIENTS });
    // …and what is triggered after the reload reaches every client.
    const received = clients.map((c) => nextEvent<{ n: number }>(c.pusher.channel(channel), 'after-reload', 5_000));
    await node.sdk.trigger(channel, 'after-reload', { n: 7 });
    expect(await Promise.all(received)).toEqual(clients.map(() => ({ n: 7 })));
  }, 30_000);

  it('a crashed worker is re-forked and serves again', async () => {
    const pid = Number(node.lines.map((l) => /reload done: worker (\d+) serves/.exec(l)?.[1]).filter(Boolean).at(-1));
    expect(pidAlive(pid)).toBe(true);
    const from = node.lines.length;
    process.kill(pid, 'SIGKILL');
    await node.waitForLine(new RegExp(`worker ${pid} died \\(signal SIGKILL\\); starting a new one`), 5_000, from);
    const next = Number(await node.waitForLine(/worker (\d+) ready/, 20_000, from));
    expect(next).not.toBe(pid);
    const res = await fetch(`http://127.0.0.1:${node.port}/ready`);
    expect(res.status).toBe(200);
  }, 30_000);

  it('SIGTERM stops the worker gracefully and the supervisor exits 0', async () => {
    const pid = Number(node.lines.map((l) => /worker (\d+) ready/.exec(l)?.[1]).filter(Boolean).at(-1));
    node.child.kill('SIGTERM');
    expect(await node.exited).toBe(0);
    expect(pidAlive(pid)).toBe(false);
    expect(node.lines.some((l) => l.includes(`worker ${pid} exited (code 0)`))).toBe(true);
  }, 25_000);
});

describe('reload supervisor (embedded PGlite)', () => {
  it('refuses SIGHUP with a clear log line and keeps serving on the same worker', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'rc-reload-pglite-'));
    // A migrated copy in the embedded layout (DATA_DIR/pglite): start-up then skips the migrations.
    if (!existsSync(pgliteTemplateDir())) await prepareTemplates();
    cpSync(pgliteTemplateDir(), path.join(dataDir, 'pglite'), { recursive: true });
    const node = startSupervised({}, await freePort(), dataDir);
    try {
      const pid = Number(await node.waitForLine(/worker (\d+) ready/, 25_000));
      const client = pusherClient({ port: node.port, sdk: node.sdk });
      await waitForState(client, 'connected', 10_000);
      const from = node.lines.length;
      node.child.kill('SIGHUP');
      await node.waitForLine(/SIGHUP ignored: reload needs PostgreSQL/, 5_000, from);
      // Still the same worker, the same socket: nothing was restarted.
      expect(pidAlive(pid)).toBe(true);
      const res = await fetch(`http://127.0.0.1:${node.port}/health`);
      expect(res.status).toBe(200);
      expect(client.connection.state).toBe('connected');
      expect(node.lines.slice(from).some((l) => /worker \d+ starting/.test(l))).toBe(false);
      client.disconnect();
      node.child.kill('SIGTERM');
      expect(await node.exited).toBe(0);
    } finally {
      if (node.child.exitCode === null) node.child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe('RELOADABLE', () => {
  it('is off unless true/1, and any other value stops the start naming the variable', async () => {
    const { isReloadable } = await import('../../apps/server/src/main.ts');
    expect(isReloadable({})).toBe(false);
    expect(isReloadable({ RELOADABLE: 'false' })).toBe(false);
    expect(isReloadable({ RELOADABLE: ' TRUE ' })).toBe(true);
    expect(isReloadable({ RELOADABLE: '1' })).toBe(true);
    // The same values as loadConfig's schema, which lists RELOADABLE in docs/configuration.md.
    expect(isReloadable({ RELOADABLE: 'yes' })).toBe(true);
    expect(isReloadable({ RELOADABLE: 'no' })).toBe(false);
    expect(loadConfig({ RELOADABLE: 'yes' }).reloadable).toBe(true);
    expect(() => isReloadable({ RELOADABLE: 'yes please' })).toThrow(/RELOADABLE: must be true or false/);
  });
});
