/**
 * Scale-out (SPEC §1): the channel-state contract on every driver, and two server nodes sharing real Redis —
 * presence once per user across nodes (W-07), socket-id exclusion on every node (W-26), unique ids across
 * nodes (W-28), channel info across nodes, terminate across nodes, dead-node reaping, and a node that loses
 * its Redis subscription resubscribing by itself.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChannelStateStore } from '@reusable-chat/core/ports';
import { MemoryChannelState, RedisChannelState } from '@reusable-chat/drivers';
import { backends, TEST_REDIS_URL } from '@reusable-chat/testing';
import {
  APP,
  byEvent,
  decode,
  deleteRedisPrefix,
  eventually,
  openRaw,
  rawSubscribe,
  sleep,
  startTopology,
  uniqueRedisPrefix,
  uuid,
  type RawClient,
  type Topology,
} from '../conformance/support.ts';

type StoreKind = 'memory' | 'redis';
const storeKinds: StoreKind[] = ['memory', ...(TEST_REDIS_URL ? (['redis'] as const) : [])];
const noHooks = { onMembersGone: () => undefined, localSubscriptions: () => [] };

describe.each(storeKinds)('channel state contract (%s)', (kind) => {
  const prefix = uniqueRedisPrefix('state');
  const redisClients: Redis[] = [];
  const stores: ChannelStateStore[] = [];
  /** Two "nodes": with Redis two stores on one prefix; in memory one store is the whole cluster. */
  const makeNode = (options: { heartbeatMs?: number; nodeTimeoutMs?: number } = {}): ChannelStateStore => {
    if (kind === 'memory') {
      const store = stores[0] ?? new MemoryChannelState();
      if (!stores.includes(store)) stores.push(store);
      return store;
    }
    const redis = new Redis(TEST_REDIS_URL!);
    redisClients.push(redis);
    const store = new RedisChannelState({ redis, prefix, ...options });
    stores.push(store);
    return store;
  };
  afterAll(async () => {
    for (const s of stores) await s.close();
    for (const r of redisClients) await r.quit();
    await deleteRedisPrefix(prefix);
  });

  it('counts subscriptions and presence connections across nodes, first and last per user', async () => {
    const a = makeNode();
    const b = makeNode();
    await a.start(noHooks);
    if (b !== a) await b.start(noHooks);
    const channel = `presence-${uuid()}`;
    expect(await a.addSubscription(channel, { userId: 'u1', userInfo: { n: 1 } })).toEqual({ isFirstForUser: true });
    expect(await b.addSubscription(channel, { userId: 'u1', userInfo: { n: 1 } })).toEqual({ isFirstForUser: false });
    expect(await b.addSubscription(channel, { userId: 'u2' })).toEqual({ isFirstForUser: true });
    await a.addSubscription('public-x');
    expect(await a.channelCounts(channel)).toEqual({ subscriptionCount: 3, userCount: 2 });
    expect(await b.members(channel)).toEqual(new Map([['u1', { n: 1 }], ['u2', null]]));
    const presenceOnly = await b.listChannels('presence-');
    expect(presenceOnly.get(channel)).toEqual({ subscriptionCount: 3, userCount: 2 });
    expect(presenceOnly.has('public-x')).toBe(false);
    expect(await a.removeSubscription(channel, 'u1')).toEqual({ isLastForUser: false });
    expect(await b.removeSubscription(channel, 'u1')).toEqual({ isLastForUser: true });
    expect(await a.channelCounts(channel)).toEqual({ subscriptionCount: 1, userCount: 1 });
    await b.removeSubscription(channel, 'u2');
    await a.removeSubscription('public-x');
    expect(await a.channelCounts(channel)).toEqual({ subscriptionCount: 0, userCount: 0 });
    expect((await a.listChannels()).has(channel)).toBe(false);
  });

  it('W-21: connection slots per user and per workspace count across nodes; a refusal takes nothing; a release frees one', async () => {
    const a = makeNode();
    const b = makeNode();
    await a.start(noHooks);
    if (b !== a) await b.start(noHooks);
    const user = uuid();
    const workspace = uuid();
    const limits = { perUser: 2, perWorkspace: 3 };
    expect(await a.acquireConnection({ userId: user, workspaceId: workspace }, limits)).toBe('ok');
    expect(await b.acquireConnection({ userId: user, workspaceId: workspace }, limits)).toBe('ok');
    expect(await a.acquireConnection({ userId: user, workspaceId: workspace }, limits)).toBe('user');
    // The refused one took no workspace slot: a third user still fits, the fourth socket does not.
    expect(await b.acquireConnection({ userId: uuid(), workspaceId: workspace }, limits)).toBe('ok');
    const other = uuid();
    expect(await a.acquireConnection({ userId: other, workspaceId: workspace }, { perUser: 1, perWorkspace: 3 })).toBe('workspace');
    // ...and no user slot either.
    expect(await a.acquireConnection({ userId: other }, { perUser: 1, perWorkspace: 3 })).toBe('ok');
    await b.releaseConnection({ userId: user, workspaceId: workspace });
    expect(await a.acquireConnection({ userId: user, workspaceId: workspace }, limits)).toBe('ok');
  });
});

const redisOnly = TEST_REDIS_URL ? (['redis'] as const) : [];

describe.each(redisOnly)('channel state upkeep (%s)', () => {
  const prefix = uniqueRedisPrefix('upkeep');
  const redisClients: Redis[] = [];
  const stores: ChannelStateStore[] = [];
  const makeNode = (options: { heartbeatMs?: number; nodeTimeoutMs?: number } = {}): ChannelStateStore => {
    const redis = new Redis(TEST_REDIS_URL!);
    redisClients.push(redis);
    const store = new RedisChannelState({ redis, prefix, ...options });
    stores.push(store);
    return store;
  };
  afterAll(async () => {
    for (const s of stores) await s.close();
    for (const r of redisClients) await r.quit();
    await deleteRedisPrefix(prefix);
  });

  it('reaps a dead node: its counts go and its last members are announced gone', async () => {
    const gone: { channel: string; userId: string }[] = [];
    const survivor = makeNode({ heartbeatMs: 100, nodeTimeoutMs: 600 });
    // Heartbeats once at start and never again, like a node that crashed right after joining.
    const doomed = makeNode({ heartbeatMs: 3_600_000, nodeTimeoutMs: 600 });
    await survivor.start({ onMembersGone: (g) => gone.push(...g), localSubscriptions: () => [] });
    await doomed.start(noHooks);
    const channel = `presence-${uuid()}`;
    await doomed.addSubscription(channel, { userId: 'only-on-doomed' });
    await doomed.addSubscription(channel, { userId: 'on-both' });
    await survivor.addSubscription(channel, { userId: 'on-both' });
    await eventually(() => gone.length > 0, 5_000, 'reap');
    expect(gone).toEqual([{ channel, userId: 'only-on-doomed' }]);
    expect(await survivor.channelCounts(channel)).toEqual({ subscriptionCount: 1, userCount: 1 });
  });

  it('W-21: a node that stops heartbeating has its connection slots reaped', async () => {
    const survivor = makeNode({ heartbeatMs: 100, nodeTimeoutMs: 600 });
    const doomed = makeNode({ heartbeatMs: 3_600_000, nodeTimeoutMs: 600 });
    await survivor.start(noHooks);
    await doomed.start(noHooks);
    const slot = { userId: uuid(), workspaceId: uuid() };
    const limits = { perUser: 2, perWorkspace: 2 };
    for (let i = 0; i < 2; i++) expect(await doomed.acquireConnection(slot, limits)).toBe('ok');
    expect(await survivor.acquireConnection(slot, limits)).toBe('user');
    await eventually(async () => (await survivor.acquireConnection(slot, limits)) === 'ok', 5_000, 'reap of the silent node');
    expect(await survivor.acquireConnection({ userId: uuid(), workspaceId: slot.workspaceId }, limits)).toBe('ok');
    expect(await survivor.acquireConnection({ userId: uuid(), workspaceId: slot.workspaceId }, limits)).toBe('workspace');
  });

  it('W-21: a late release from a node already reaped does not take another node’s slot', async () => {
    const survivor = makeNode({ heartbeatMs: 100, nodeTimeoutMs: 600 });
    // Paused (never heartbeats again), reaped, then wakes up and closes its socket.
    const paused = makeNode({ heartbeatMs: 3_600_000, nodeTimeoutMs: 600 });
    await survivor.start(noHooks);
    await paused.start(noHooks);
    const slot = { userId: uuid() };
    const limits = { perUser: 2, perWorkspace: 10 };
    expect(await paused.acquireConnection(slot, limits)).toBe('ok');
    expect(await survivor.acquireConnection(slot, limits)).toBe('ok');
    await eventually(async () => (await survivor.acquireConnection(slot, limits)) === 'ok', 5_000, 'reap of the paused node');
    await paused.releaseConnection(slot);
    // The survivor still holds two: the late release gave back nothing of theirs.
    expect(await survivor.acquireConnection(slot, limits)).toBe('user');
  });

  it('W-21: a SIGKILLed node keeps its slots while it heartbeats and loses them within the node timeout after', async () => {
    const timings = { heartbeatMs: 100, nodeTimeoutMs: 1_000 };
    const survivor = makeNode(timings);
    await survivor.start(noHooks);
    const slot = { userId: uuid(), workspaceId: uuid() };
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./fixtures/quota-holder.child.ts', import.meta.url))], {
      env: {
        ...process.env,
        QUOTA_REDIS_URL: TEST_REDIS_URL!,
        QUOTA_PREFIX: prefix,
        QUOTA_HEARTBEAT_MS: String(timings.heartbeatMs),
        QUOTA_NODE_TIMEOUT_MS: String(timings.nodeTimeoutMs),
        QUOTA_USER_ID: slot.userId,
        QUOTA_WORKSPACE_ID: slot.workspaceId,
        QUOTA_COUNT: '2',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
        child.once('exit', (code) => reject(new Error(`quota holder exited early (${code})`)));
      });
      const limits = { perUser: 2, perWorkspace: 2 };
      expect(await survivor.acquireConnection(slot, limits)).toBe('user');
      // Alive for longer than the node timeout: its heartbeat keeps its slots (a duration under test, not a wait).
      await sleep(timings.nodeTimeoutMs * 2);
      expect(await survivor.acquireConnection(slot, limits)).toBe('user');
      child.kill('SIGKILL');
      await exited;
      const killedAt = Date.now();
      await eventually(async () => (await survivor.acquireConnection(slot, limits)) === 'ok', 10_000, 'slots of the killed node');
      // Bounded by the node timeout plus the survivor's heartbeat (and scheduling slack on a busy box).
      expect(Date.now() - killedAt).toBeLessThan(timings.nodeTimeoutMs + timings.heartbeatMs + 2_000);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  it('W-21: writes its connection slots again after Redis lost them', async () => {
    const slot = { userId: uuid(), workspaceId: uuid() };
    const node = makeNode({ heartbeatMs: 100 });
    await node.start({ ...noHooks, localConnections: () => [slot] });
    expect(await node.acquireConnection(slot, { perUser: 1, perWorkspace: 5 })).toBe('ok');
    await deleteRedisPrefix(prefix);
    const other = makeNode();
    await other.start(noHooks);
    await eventually(async () => (await other.acquireConnection(slot, { perUser: 1, perWorkspace: 5 })) === 'user', 5_000, 'slots rewritten');
  });

  it('writes its subscriptions again after Redis lost them', async () => {
    const channel = `presence-${uuid()}`;
    const node = makeNode({ heartbeatMs: 100 });
    await node.start({ onMembersGone: () => undefined, localSubscriptions: () => [{ channel, member: { userId: 'kept', userInfo: { k: 1 } } }] });
    await node.addSubscription(channel, { userId: 'kept', userInfo: { k: 1 } });
    await deleteRedisPrefix(prefix); // as after a Redis restart without persistence
    await eventually(async () => (await node.channelCounts(channel)).userCount === 1, 5_000, 'resync');
    expect(await node.members(channel)).toEqual(new Map([['kept', { k: 1 }]]));
  });
});

const clusterKinds = TEST_REDIS_URL ? (['two nodes over Redis'] as const) : [];

describe.each(clusterKinds)('realtime cluster: %s', (kind) => {
  describe.each(backends)('(%s)', (backend) => {
    let topo: Topology;
    const raws: RawClient[] = [];
    const on = async (i: 0 | 1) => {
      const c = await openRaw(`${topo.nodes[i]!.wsUrl}/app/${APP.key}?protocol=7`);
      raws.push(c);
      return c;
    };
    beforeAll(async () => {
      topo = await startTopology(kind, backend);
    });
    afterAll(async () => {
      for (const r of raws) r.close();
      await topo?.close();
    });

    it('W-07 across nodes: member_added once, member_removed after the last socket anywhere, counts everywhere', async () => {
      const channel = `presence-conversation.${uuid()}`;
      const watcher = await on(1);
      await rawSubscribe(watcher, topo.api.sdk, channel, { user_id: 'watcher' });
      const tabs = [await on(0), await on(1), await on(0)];
      for (const tab of tabs) {
        const ok = await rawSubscribe(tab, topo.api.sdk, channel, { user_id: 'roamer' });
        expect(decode<{ presence: { count: number } }>(ok).presence.count).toBe(2);
      }
      await watcher.waitFor(byEvent('pusher_internal:member_added', channel));
      const info = await (await topo.api.sdk.get({ path: `/channels/${channel}`, params: { info: 'subscription_count,user_count' } })).json();
      expect(info).toEqual({ occupied: true, subscription_count: 4, user_count: 2 });
      tabs[0]!.close();
      tabs[1]!.close();
      await Promise.all([tabs[0]!.closed, tabs[1]!.closed]);
      await sleep(300);
      expect(watcher.frames.filter((f) => f.event === 'pusher_internal:member_added')).toHaveLength(1);
      expect(watcher.frames.filter((f) => f.event === 'pusher_internal:member_removed')).toHaveLength(0);
      tabs[2]!.close();
      expect(decode(await watcher.waitFor(byEvent('pusher_internal:member_removed', channel)))).toEqual({ user_id: 'roamer' });
    });

    it('W-26 across nodes: the sender is excluded on its node, everyone else on both nodes receives', async () => {
      const channel = `private-conversation.${uuid()}`;
      const sender = await on(0);
      const sameNode = await on(0);
      const otherNode = await on(1);
      for (const c of [sender, sameNode, otherNode]) await rawSubscribe(c, topo.api.sdk, channel);
      await topo.api.sdk.trigger(channel, 'message.created', { n: 1 }, { socket_id: sender.socketId });
      await sameNode.waitFor(byEvent('message.created', channel));
      await otherNode.waitFor(byEvent('message.created', channel));
      await topo.api.sdk.trigger(channel, 'marker', {});
      await sender.waitFor(byEvent('marker', channel));
      expect(sender.frames.filter((f) => f.event === 'message.created')).toEqual([]);
      // Client events cross nodes too, never back to the sender.
      sameNode.send({ event: 'client-typing', channel, data: { t: 1 } });
      await otherNode.waitFor(byEvent('client-typing', channel));
    });

    it('W-28 across nodes: socket ids never collide', async () => {
      const sockets = await Promise.all(Array.from({ length: 100 }, (_, i) => on((i % 2) as 0 | 1)));
      const ids = sockets.map((s) => s.socketId);
      expect(new Set(ids).size).toBe(100);
      expect(new Set(ids.map((id) => id.split('.')[0])).size).toBe(2);
      for (const s of sockets) s.close();
    });

    it('terminates a signed-in user on another node and serves server-to-user events across nodes', async () => {
      const c = await on(0);
      c.send({ event: 'pusher:signin', data: topo.api.sdk.authenticateUser(c.socketId, { id: 'remote-user' }) });
      await c.waitFor(byEvent('pusher:signin_success'));
      await topo.api.sdk.sendToUser('remote-user', 'hello', { x: 1 });
      expect((await c.waitFor(byEvent('hello'))).channel).toBe('#server-to-user-remote-user');
      await topo.api.sdk.terminateUserConnections('remote-user');
      expect((await c.closed).code).toBe(4009);
    });

    it('a node whose Redis subscription is killed resubscribes by itself', async () => {
      const channel = `private-conversation.${uuid()}`;
      const listener = await on(0);
      await rawSubscribe(listener, topo.api.sdk, channel);
      const admin = new Redis(TEST_REDIS_URL!);
      try {
        const prefix = topo.nodes[0]!.deps.config.redis!.prefix;
        const list = (await admin.client('LIST')) as string;
        const ids = list.split('\n').filter((line) => line.includes(` name=${prefix}pubsub `)).map((line) => /id=(\d+)/.exec(line)![1]!);
        expect(ids.length).toBe(2); // one subscriber per node
        for (const id of ids) await admin.client('KILL', 'ID', id);
      } finally {
        await admin.quit();
      }
      let n = 0;
      await eventually(async () => {
        await topo.api.sdk.trigger(channel, 'after-reconnect', { n: ++n });
        return listener.frames.some((f) => f.event === 'after-reconnect');
      }, 10_000, 'delivery after resubscribe');
    });
  });
});

describe.each(clusterKinds)('realtime cluster, a node stopping: %s', (kind) => {
  let topo: Topology;
  const raws: RawClient[] = [];
  beforeAll(async () => {
    // One signed-in socket per user: a slot the stopping node fails to give back would refuse the next sign-in.
    topo = await startTopology(kind, 'pglite', { REALTIME_MAX_CONNECTIONS_PER_USER: '1' });
  });
  afterAll(async () => {
    for (const r of raws) r.close();
    await topo?.close();
  });

  it('W-07/W-21: a stopping node leaves the shared state in one step: member_removed for its last members only, counts and quota slots freed', async () => {
    const [leaving, staying] = topo.nodes as [Topology['nodes'][0], Topology['nodes'][0]];
    const on = async (node: Topology['nodes'][0]) => {
      const c = await openRaw(`${node.wsUrl}/app/${APP.key}?protocol=7`);
      raws.push(c);
      return c;
    };
    const channel = `presence-conversation.${uuid()}`;
    const watcher = await on(staying);
    await rawSubscribe(watcher, staying.sdk, channel, { user_id: 'watcher' });
    const onlyThere = await on(leaving);
    await rawSubscribe(onlyThere, leaving.sdk, channel, { user_id: 'only-on-leaving' });
    const roamerThere = await on(leaving);
    await rawSubscribe(roamerThere, leaving.sdk, channel, { user_id: 'roamer' });
    const roamerHere = await on(staying);
    await rawSubscribe(roamerHere, staying.sdk, channel, { user_id: 'roamer' });
    const signedIn = await on(leaving);
    signedIn.send({ event: 'pusher:signin', data: leaving.sdk.authenticateUser(signedIn.socketId, { id: 'one-tab-user' }) });
    await signedIn.waitFor(byEvent('pusher:signin_success'));

    await leaving.close();
    expect((await onlyThere.closed).code).toBe(4200);
    expect(decode(await watcher.waitFor(byEvent('pusher_internal:member_removed', channel)))).toEqual({ user_id: 'only-on-leaving' });
    const info = await (await staying.sdk.get({ path: `/channels/${channel}`, params: { info: 'subscription_count,user_count' } })).json();
    expect(info).toEqual({ occupied: true, subscription_count: 2, user_count: 2 });
    // The user's one slot is free again at once (not after a node timeout).
    const again = await on(staying);
    again.send({ event: 'pusher:signin', data: staying.sdk.authenticateUser(again.socketId, { id: 'one-tab-user' }) });
    expect((await again.waitFor((f) => f.event === 'pusher:signin_success' || f.event === 'pusher:error')).event).toBe('pusher:signin_success');
    await sleep(200);
    expect(watcher.frames.filter((f) => f.event === 'pusher_internal:member_removed')).toHaveLength(1);
  });
});
