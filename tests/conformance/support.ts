/**
 * Shared set-up for the realtime conformance and behaviour tests: real servers on port 0, official clients
 * (pusher-js, laravel-echo, the `pusher` SDK) and a raw `ws` client for what the official ones never send.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import * as PusherJsModule from 'pusher-js';
import type { default as PusherJsDefault } from 'pusher-js';
import PusherServer from 'pusher';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { loadConfig } from '@reusable-chat/config';
import { RedisChannelState } from '@reusable-chat/drivers';
import { createTestDatabase, TEST_REDIS_URL, type Backend, type TestDatabase } from '@reusable-chat/testing';
import { buildApp } from '../../apps/server/src/app.ts';
import { composeDeps } from '../../apps/server/src/compose.ts';
import type { AppDeps } from '../../apps/server/src/deps.ts';

/** pusher-js's Node build is CommonJS with the class on `default` (stack-notes: unwrap under NodeNext). */
type PusherJsClass = typeof PusherJsDefault;
export const PusherJs: PusherJsClass =
  ((PusherJsModule as unknown as { default?: PusherJsClass & { default?: PusherJsClass } }).default?.default ??
    (PusherJsModule as unknown as { default: PusherJsClass }).default);
export type PusherJsClient = InstanceType<PusherJsClass>;

export const APP = { id: 'conformance-app', key: 'conformance-key', secret: 'conformance-secret-0123456789' } as const;
/** 32 bytes, base64: the SDK derives each encrypted channel's shared secret from it. */
export const ENCRYPTION_MASTER_KEY = Buffer.alloc(32, 7).toString('base64');

export interface RealtimeNode {
  readonly app: FastifyInstance;
  readonly deps: AppDeps;
  readonly port: number;
  readonly baseUrl: string;
  readonly wsUrl: string;
  /** The `pusher` server SDK pointed at this node. */
  readonly sdk: PusherServer;
  close(): Promise<void>;
}

export interface NodeOptions {
  readonly backend: Backend;
  readonly env?: Record<string, string>;
  /** Share a database with another node (in-process: the same handle). */
  readonly testDb?: TestDatabase;
  /** REDIS_URL and REDIS_PREFIX: pub/sub and channel state go through Redis, as on a multi-node deployment. */
  readonly redis?: { url: string; prefix: string };
  /**
   * With `redis`: the channel state on a connection of its own with these heartbeat timings, so a test can cut
   * that connection (a node that dies without cleaning up) and wait a short node timeout for it to be reaped.
   */
  readonly channelStateTimings?: { heartbeatMs: number; nodeTimeoutMs: number };
}

/** One server node listening on 127.0.0.1:0 with fixed Pusher credentials. */
export async function startRealtimeNode(options: NodeOptions): Promise<RealtimeNode & { testDb: TestDatabase; stateRedis?: Redis }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'rc-rt-'));
  const ownsDb = !options.testDb;
  const testDb = options.testDb ?? (await createTestDatabase(options.backend));
  const config = loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    APP_SECRET: 'test-app-secret-0123456789abcdefghijklmnopqrstuvwxyz',
    LOG_LEVEL: 'silent',
    REVERB_APP_ID: APP.id,
    REVERB_APP_KEY: APP.key,
    REVERB_APP_SECRET: APP.secret,
    ...(options.redis ? { REDIS_URL: options.redis.url, REDIS_PREFIX: options.redis.prefix } : {}),
    ...options.env,
  });
  const base = await composeDeps({ config, database: testDb.handle });
  let deps: AppDeps = base;
  let stateRedis: Redis | undefined;
  if (options.redis && options.channelStateTimings) {
    stateRedis = new Redis(options.redis.url);
    stateRedis.on('error', () => undefined);
    deps = { ...base, channelState: new RedisChannelState({ redis: stateRedis, prefix: options.redis.prefix, ...options.channelStateTimings }) };
  }
  const app = await buildApp(deps, { logger: false });
  await app.ready();
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const port = address.port;
  const sdk = new PusherServer({
    appId: APP.id,
    key: APP.key,
    secret: APP.secret,
    host: '127.0.0.1',
    port: String(port),
    useTLS: false,
    encryptionMasterKeyBase64: ENCRYPTION_MASTER_KEY,
  });
  let closed = false;
  return {
    app,
    deps,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    sdk,
    testDb,
    ...(stateRedis ? { stateRedis } : {}),
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
      await base.dispose();
      if (stateRedis) {
        await deps.channelState?.close();
        await stateRedis.quit().catch(() => stateRedis.disconnect());
      }
      if (ownsDb) await testDb.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ClientOptions {
  /** Sign-in identity for `pusher.signin()` (the backend's user authentication endpoint, simulated). */
  readonly userId?: string;
  /** Presence identity and info returned by the simulated channel authorizer. */
  readonly presence?: { user_id: string; user_info?: Record<string, unknown> };
  readonly sdk?: PusherServer;
}

/**
 * pusher-js as the widget uses it: channel and user authorisation through the server's own
 * /api/widget/broadcasting endpoints with the widget session's bearer token.
 */
export function widgetPusherClient(node: Pick<RealtimeNode, 'port' | 'baseUrl'>, token: string): PusherJsClient {
  const headers = { Authorization: `Bearer ${token}` };
  return new PusherJs(APP.key, {
    wsHost: '127.0.0.1',
    wsPort: node.port,
    forceTLS: false,
    enabledTransports: ['ws'],
    cluster: '',
    channelAuthorization: { endpoint: `${node.baseUrl}/api/widget/broadcasting/auth`, transport: 'ajax', headers },
    userAuthentication: { endpoint: `${node.baseUrl}/api/widget/broadcasting/user-auth`, transport: 'ajax', headers },
  });
}

/** pusher-js exactly as an app configures it for a self-hosted server, with a backend-style authorizer. */
export function pusherClient(node: Pick<RealtimeNode, 'port' | 'sdk'>, options: ClientOptions = {}): PusherJsClient {
  const sdk = options.sdk ?? node.sdk;
  return new PusherJs(APP.key, {
    wsHost: '127.0.0.1',
    wsPort: node.port,
    forceTLS: false,
    enabledTransports: ['ws'],
    cluster: '',
    disableStats: true,
    channelAuthorization: {
      endpoint: '/unused',
      transport: 'ajax',
      customHandler: ({ socketId, channelName }, callback) => {
        try {
          const data = channelName.startsWith('presence-')
            ? sdk.authorizeChannel(socketId, channelName, options.presence ?? { user_id: 'anonymous' })
            : sdk.authorizeChannel(socketId, channelName);
          callback(null, data);
        } catch (err) {
          callback(err as Error, null);
        }
      },
    },
    userAuthentication: {
      endpoint: '/unused',
      transport: 'ajax',
      customHandler: ({ socketId }, callback) => {
        callback(null, sdk.authenticateUser(socketId, { id: options.userId ?? 'anonymous' }) as { auth: string; user_data: string });
      },
    },
  });
}

export function waitForState(client: PusherJsClient, state: string, timeoutMs = 5_000): Promise<void> {
  if (client.connection.state === state) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`state ${state} not reached (now ${client.connection.state})`)), timeoutMs);
    client.connection.bind('state_change', ({ current }: { current: string }) => {
      if (current === state) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

export function nextEvent<T = unknown>(bindable: { bind(event: string, cb: (data: T, meta?: unknown) => void): unknown; unbind(event: string, cb: (data: T) => void): unknown }, event: string, timeoutMs = 5_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const handler = (data: T) => {
      clearTimeout(timer);
      bindable.unbind(event, handler);
      resolve(data);
    };
    const timer = setTimeout(() => {
      bindable.unbind(event, handler);
      reject(new Error(`no ${event} within ${timeoutMs} ms`));
    }, timeoutMs);
    bindable.bind(event, handler);
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(20);
  }
  throw new Error(`${what} not met within ${timeoutMs} ms`);
}

export const uuid = () => randomUUID();

// ───────────── raw WebSocket client ─────────────

export interface Frame {
  event: string;
  channel?: string;
  data?: unknown;
  user_id?: string;
}

export interface RawClient {
  readonly ws: WebSocket;
  readonly frames: Frame[];
  socketId: string;
  send(frame: unknown): void;
  sendRaw(data: string | Buffer, binary?: boolean): void;
  /** Resolves with the first frame (already received or future) matching `predicate`. */
  waitFor(predicate: (frame: Frame) => boolean, timeoutMs?: number): Promise<Frame>;
  readonly closed: Promise<{ code: number; reason: string }>;
  close(): void;
}

export function decode<T = Record<string, unknown>>(frame: Frame): T {
  return (typeof frame.data === 'string' ? JSON.parse(frame.data) : frame.data) as T;
}

/** Opens a raw socket; resolves after `pusher:connection_established` unless `expectRefusal`. */
export async function openRaw(
  url: string,
  options: { headers?: Record<string, string>; expectRefusal?: boolean; readPaused?: boolean } = {},
): Promise<RawClient> {
  const ws = new WebSocket(url, { headers: options.headers, maxPayload: 256 * 1024 * 1024 });
  const frames: Frame[] = [];
  const waiters: { predicate: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  ws.on('error', () => undefined);
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    const frame = JSON.parse(data.toString()) as Frame;
    frames.push(frame);
    for (const w of [...waiters]) {
      if (w.predicate(frame)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(frame);
      }
    }
  });
  const client: RawClient = {
    ws,
    frames,
    socketId: '',
    send: (frame) => ws.send(JSON.stringify(frame)),
    sendRaw: (data, binary = false) => ws.send(data, { binary }),
    waitFor(predicate, timeoutMs = 5_000) {
      const found = frames.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const waiter = { predicate, resolve: (f: Frame) => { clearTimeout(timer); resolve(f); } };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(frames.map((f) => f.event))}`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    closed,
    close: () => ws.close(),
  };
  if (!options.expectRefusal) {
    const established = await client.waitFor((f) => f.event === 'pusher:connection_established');
    client.socketId = decode<{ socket_id: string }>(established).socket_id;
  }
  return client;
}

export const byEvent = (event: string, channel?: string) => (f: Frame) => f.event === event && (channel === undefined || f.channel === channel);

/** Subscribes a raw client the way pusher-js would, signing with the app secret (a backend authorizer). */
export async function rawSubscribe(client: RawClient, sdk: PusherServer, channel: string, presence?: { user_id: string; user_info?: unknown }): Promise<Frame> {
  const data: Record<string, string> = { channel };
  if (channel.startsWith('private-')) data.auth = sdk.authorizeChannel(client.socketId, channel).auth;
  if (channel.startsWith('presence-')) {
    const signed = sdk.authorizeChannel(client.socketId, channel, presence as { user_id: string });
    data.auth = signed.auth;
    data.channel_data = signed.channel_data!;
  }
  client.send({ event: 'pusher:subscribe', data });
  return client.waitFor((f) => f.channel === channel && (f.event === 'pusher_internal:subscription_succeeded' || f.event === 'pusher:subscription_error'));
}

/** A key prefix no other run or file shares, so tests on one Redis never see each other's state. */
export function uniqueRedisPrefix(label: string): string {
  return `rc-test:${label}:${process.pid}:${Date.now().toString(36)}:${Math.random().toString(36).slice(2, 8)}:`;
}

/** Deletes every key under a test prefix. */
export async function deleteRedisPrefix(prefix: string, url = TEST_REDIS_URL): Promise<void> {
  if (!url) return;
  const redis = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
}

export interface Topology {
  readonly name: string;
  /** Nodes clients connect to, in turn. */
  readonly nodes: RealtimeNode[];
  /** The node the HTTP API calls go to (another node than the first client's when there are two). */
  readonly api: RealtimeNode;
  close(): Promise<void>;
}

export type TopologyKind = 'in-memory' | 'two nodes over Redis';
/** The in-memory build always; two nodes sharing real Redis when TEST_REDIS_URL is set. */
export const topologies: TopologyKind[] = ['in-memory', ...(TEST_REDIS_URL ? (['two nodes over Redis'] as const) : [])];

export async function startTopology(kind: TopologyKind, backend: Backend, env: Record<string, string> = {}): Promise<Topology> {
  if (kind === 'in-memory') {
    const node = await startRealtimeNode({ backend, env });
    return { name: kind, nodes: [node], api: node, close: () => node.close() };
  }
  const prefix = uniqueRedisPrefix('cluster');
  const redis = { url: TEST_REDIS_URL!, prefix };
  const a = await startRealtimeNode({ backend, env, redis });
  const b = await startRealtimeNode({ backend, env, redis, testDb: a.testDb });
  return {
    name: kind,
    nodes: [a, b],
    api: b,
    async close() {
      await b.close();
      await a.close();
      await deleteRedisPrefix(prefix);
    },
  };
}
