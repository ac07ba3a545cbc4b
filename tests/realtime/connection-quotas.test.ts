/**
 * Connection quotas (checklist W-21): per client address, per signed-in user and per workspace. Connection N+1
 * gets pusher:error 4004 and close 4004; the sockets already open are untouched. One node (in-memory channel
 * state) counts per process; nodes sharing Redis count users and workspaces across the cluster.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, TEST_REDIS_URL } from '@reusable-chat/testing';
import {
  APP,
  byEvent,
  decode,
  deleteRedisPrefix,
  eventually,
  openRaw,
  startRealtimeNode,
  uniqueRedisPrefix,
  uuid,
  type RawClient,
  type RealtimeNode,
} from '../conformance/support.ts';

const QUOTA_ENV = {
  REALTIME_MAX_CONNECTIONS_PER_IP: '3',
  REALTIME_MAX_CONNECTIONS_PER_USER: '2',
  REALTIME_MAX_CONNECTIONS_PER_WORKSPACE: '3',
};

describe.each(backends)('realtime connection quotas (%s)', (backend) => {
  /** Behind a proxy: the forwarded address is the one counted. */
  let proxied: Awaited<ReturnType<typeof startRealtimeNode>>;
  /** Not behind a proxy: X-Forwarded-For is the client's own claim and is ignored. */
  let direct: RealtimeNode;
  const open: RawClient[] = [];
  const connect = async (node: RealtimeNode, headers: Record<string, string> = {}, expectRefusal = false) => {
    const c = await openRaw(`${node.wsUrl}/app/${APP.key}?protocol=7`, { headers, expectRefusal });
    open.push(c);
    return c;
  };
  const signin = async (node: RealtimeNode, c: RawClient, user: Record<string, unknown> & { id: string }) => {
    c.send({ event: 'pusher:signin', data: node.sdk.authenticateUser(c.socketId, user) });
    return c.waitFor((f) => f.event === 'pusher:signin_success' || f.event === 'pusher:error');
  };

  beforeAll(async () => {
    proxied = await startRealtimeNode({ backend, env: { ...QUOTA_ENV, TRUST_PROXY: 'true' } });
    direct = await startRealtimeNode({ backend, env: QUOTA_ENV, testDb: proxied.testDb });
  });
  afterAll(async () => {
    for (const c of open) c.close();
    await direct?.close();
    await proxied?.close();
  });

  it('W-21: the fourth socket from one address gets 4004; other addresses and the first three are unaffected', async () => {
    const from = (ip: string) => ({ 'x-forwarded-for': ip });
    const first = [await connect(proxied, from('203.0.113.7')), await connect(proxied, from('203.0.113.7')), await connect(proxied, from('203.0.113.7'))];
    const extra = await connect(proxied, from('203.0.113.7'), true);
    expect(decode(await extra.waitFor(byEvent('pusher:error')))).toMatchObject({ code: 4004 });
    expect((await extra.closed).code).toBe(4004);
    const other = await connect(proxied, from('198.51.100.9'));
    expect(other.socketId).toMatch(/^\d+\.\d+$/);
    for (const c of first) expect(proxied.app.realtimeServer.isConnected(c.socketId)).toBe(true);

    // A freed slot is usable again.
    first[0]!.close();
    await eventually(() => !proxied.app.realtimeServer.isConnected(first[0]!.socketId));
    const again = await connect(proxied, from('203.0.113.7'));
    expect(again.socketId).toMatch(/^\d+\.\d+$/);
    for (const c of [...first.slice(1), other, again]) c.close();
  });

  it('W-21: without TRUST_PROXY a forged X-Forwarded-For does not escape the per-address quota', async () => {
    const sockets: RawClient[] = [];
    for (let i = 0; i < 3; i++) sockets.push(await connect(direct, { 'x-forwarded-for': `192.0.2.${i}` }));
    const extra = await connect(direct, { 'x-forwarded-for': '192.0.2.99' }, true);
    expect(decode(await extra.waitFor(byEvent('pusher:error')))).toMatchObject({ code: 4004 });
    expect((await extra.closed).code).toBe(4004);
    for (const c of sockets) expect(direct.app.realtimeServer.isConnected(c.socketId)).toBe(true);
    for (const c of sockets) c.close();
    await eventually(() => direct.app.realtimeServer.connectionCount === 0);
  });

  it('W-21: the third signed-in socket of one user gets 4004 (configurable); the user’s other tabs stay', async () => {
    const userId = uuid();
    const tabs: RawClient[] = [];
    for (let i = 0; i < 2; i++) {
      const c = await connect(proxied, { 'x-forwarded-for': `198.18.0.${i}` });
      expect((await signin(proxied, c, { id: userId })).event).toBe('pusher:signin_success');
      tabs.push(c);
    }
    const extra = await connect(proxied, { 'x-forwarded-for': '198.18.0.9' });
    const refused = await signin(proxied, extra, { id: userId });
    expect(refused.event).toBe('pusher:error');
    expect(decode(refused)).toMatchObject({ code: 4004 });
    expect((await extra.closed).code).toBe(4004);
    for (const c of tabs) expect(proxied.app.realtimeServer.isConnected(c.socketId)).toBe(true);
    for (const c of tabs) c.close();
  });

  it('W-21/W-20: signed-in sockets count toward their workspace; anonymous ones and other workspaces do not', async () => {
    const workspace = uuid();
    const members: RawClient[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await connect(proxied, { 'x-forwarded-for': `198.19.${i}.1` });
      expect((await signin(proxied, c, { id: uuid(), workspace_id: workspace })).event).toBe('pusher:signin_success');
      members.push(c);
    }
    // Not signed in: the workspace is unknown, so it is not counted (and W-20 closes it unless it authorizes).
    const anonymous = await connect(proxied, { 'x-forwarded-for': '198.19.9.1' });
    const extra = await connect(proxied, { 'x-forwarded-for': '198.19.9.2' });
    const refused = await signin(proxied, extra, { id: uuid(), workspace_id: workspace });
    expect(decode(refused)).toMatchObject({ code: 4004 });
    expect((await extra.closed).code).toBe(4004);
    const elsewhere = await connect(proxied, { 'x-forwarded-for': '198.19.9.3' });
    expect((await signin(proxied, elsewhere, { id: uuid(), workspace_id: uuid() })).event).toBe('pusher:signin_success');
    for (const c of [...members, anonymous]) expect(proxied.app.realtimeServer.isConnected(c.socketId)).toBe(true);

    // Closing one frees the workspace's slot.
    members[0]!.close();
    await eventually(() => !proxied.app.realtimeServer.isConnected(members[0]!.socketId));
    const replacement = await connect(proxied, { 'x-forwarded-for': '198.19.9.4' });
    expect((await signin(proxied, replacement, { id: uuid(), workspace_id: workspace })).event).toBe('pusher:signin_success');
    for (const c of [...members.slice(1), anonymous, elsewhere, replacement]) c.close();
  });
});

/*
 * Two nodes sharing real Redis: the per-user and per-workspace quotas hold across the cluster (the per-address one
 * stays per node, see the realtime README). Short heartbeat timings so a dead node is reaped within seconds.
 */
const redisClusters = TEST_REDIS_URL ? (['two nodes over Redis'] as const) : [];
const TIMINGS = { heartbeatMs: 200, nodeTimeoutMs: 3_000 };

describe.each(redisClusters)('realtime connection quotas: %s', () => {
  const prefix = uniqueRedisPrefix('quota');
  const redis = { url: TEST_REDIS_URL!, prefix };
  const env = { ...QUOTA_ENV, REALTIME_MAX_CONNECTIONS_PER_IP: '1000' };
  let a: Awaited<ReturnType<typeof startRealtimeNode>>;
  let b: RealtimeNode;
  const open: RawClient[] = [];
  const connect = async (node: RealtimeNode) => {
    const c = await openRaw(`${node.wsUrl}/app/${APP.key}?protocol=7`);
    open.push(c);
    return c;
  };
  const signin = async (node: RealtimeNode, c: RawClient, user: Record<string, unknown> & { id: string }) => {
    c.send({ event: 'pusher:signin', data: node.sdk.authenticateUser(c.socketId, user) });
    return c.waitFor((f) => f.event === 'pusher:signin_success' || f.event === 'pusher:error');
  };
  const signedIn = async (node: RealtimeNode, user: Record<string, unknown> & { id: string }) => {
    const c = await connect(node);
    expect((await signin(node, c, user)).event).toBe('pusher:signin_success');
    return c;
  };
  const expectRefused = async (node: RealtimeNode, user: Record<string, unknown> & { id: string }) => {
    const c = await connect(node);
    expect(decode(await signin(node, c, user))).toMatchObject({ code: 4004 });
    expect((await c.closed).code).toBe(4004);
  };

  beforeAll(async () => {
    // The quota path does not touch the database: one backend is enough.
    a = await startRealtimeNode({ backend: 'pglite', env, redis, channelStateTimings: TIMINGS });
    b = await startRealtimeNode({ backend: 'pglite', env, redis, channelStateTimings: TIMINGS, testDb: a.testDb });
  });
  afterAll(async () => {
    for (const c of open) c.close();
    await b?.close();
    await a?.close();
    await deleteRedisPrefix(prefix);
  });

  it('W-21 across nodes: the user’s third sign-in anywhere gets 4004, the open tabs stay; closing one frees a slot on the other node', async () => {
    const user = { id: uuid() };
    const onA = await signedIn(a, user);
    const onB = await signedIn(b, user);
    await expectRefused(a, user);
    await expectRefused(b, user);
    expect(a.app.realtimeServer.isConnected(onA.socketId)).toBe(true);
    expect(b.app.realtimeServer.isConnected(onB.socketId)).toBe(true);
    onA.close();
    await eventually(async () => {
      const c = await connect(b);
      return (await signin(b, c, user)).event === 'pusher:signin_success';
    }, 5_000, 'slot released on close');
    expect(b.app.realtimeServer.isConnected(onB.socketId)).toBe(true);
  });

  it('W-21 across nodes: the workspace’s fourth signed-in socket anywhere gets 4004', async () => {
    const workspace = uuid();
    const members = [await signedIn(a, { id: uuid(), workspace_id: workspace }), await signedIn(b, { id: uuid(), workspace_id: workspace }), await signedIn(a, { id: uuid(), workspace_id: workspace })];
    await expectRefused(b, { id: uuid(), workspace_id: workspace });
    await signedIn(b, { id: uuid(), workspace_id: uuid() });
    for (const [i, c] of members.entries()) expect((i === 1 ? b : a).app.realtimeServer.isConnected(c.socketId)).toBe(true);
  });

  it('W-21: the slots of a node that dies without cleaning up are freed within the node timeout', async () => {
    const doomed = await startRealtimeNode({ backend: 'pglite', env, redis, channelStateTimings: TIMINGS, testDb: a.testDb });
    try {
      const user = { id: uuid(), workspace_id: uuid() };
      await signedIn(doomed, user);
      await signedIn(doomed, user);
      await expectRefused(b, user);
      // The node drops off Redis at once: no heartbeat, and the releases its closing sockets attempt all fail.
      doomed.stateRedis!.disconnect();
      const diedAt = Date.now();
      await doomed.close();
      await expectRefused(b, user);
      await eventually(async () => {
        const c = await connect(b);
        return (await signin(b, c, user)).event === 'pusher:signin_success';
      }, 15_000, 'slots of the dead node reaped');
      expect(Date.now() - diedAt).toBeLessThan(TIMINGS.nodeTimeoutMs + TIMINGS.heartbeatMs + 3_000);
    } finally {
      await doomed.close();
    }
  });
});
