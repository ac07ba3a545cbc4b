/**
 * Conformance with the OFFICIAL clients (SPEC §5): pusher-js (Node build), laravel-echo over pusher-js, and the
 * `pusher` server SDK against the HTTP API — on the in-memory build, and on two nodes sharing real Redis where
 * clients alternate between the nodes and every HTTP API call goes to the second node (so a client on node A
 * receives what is triggered on node B, presence spans both, and terminate reaches across).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as EchoModule from 'laravel-echo';
import { backends } from '@reusable-chat/testing';
import {
  APP,
  eventually,
  nextEvent,
  PusherJs,
  pusherClient,
  sleep,
  startTopology,
  topologies,
  uuid,
  waitForState,
  type PusherJsClient,
  type Topology,
} from './support.ts';

const Echo = (EchoModule as unknown as { default: new (options: Record<string, unknown>) => EchoInstance }).default;
interface EchoChannel {
  listen(event: string, cb: (data: unknown) => void): EchoChannel;
  listenForWhisper(event: string, cb: (data: unknown) => void): EchoChannel;
  whisper(event: string, data: unknown): EchoChannel;
  here(cb: (members: unknown[]) => void): EchoChannel;
  joining(cb: (member: unknown) => void): EchoChannel;
  leaving(cb: (member: unknown) => void): EchoChannel;
  subscribed(cb: () => void): EchoChannel;
  error(cb: (err: unknown) => void): EchoChannel;
}
interface EchoInstance {
  channel(name: string): EchoChannel;
  private(name: string): EchoChannel;
  join(name: string): EchoChannel;
  encryptedPrivate(name: string): EchoChannel;
  socketId(): string | undefined;
  disconnect(): void;
}

describe.each(topologies)('official Pusher clients, %s', (kind) => {
describe.each(backends)('(%s)', (backend) => {
  let topo: Topology;
  let node: { sdk: Topology['api']['sdk']; port: number };
  let created = 0;
  const clients: { disconnect(): void }[] = [];
  const client = (options: Parameters<typeof pusherClient>[1] = {}) => {
    const target = topo.nodes[created++ % topo.nodes.length]!;
    const c = pusherClient({ port: target.port, sdk: topo.api.sdk }, options);
    clients.push(c);
    return c;
  };
  const subscribed = async (c: PusherJsClient, channel: string) => {
    const ch = c.subscribe(channel);
    await nextEvent(ch, 'pusher:subscription_succeeded');
    return ch;
  };

  beforeAll(async () => {
    topo = await startTopology(kind, backend);
    node = { sdk: topo.api.sdk, port: topo.nodes[0]!.port };
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.disconnect();
  });
  afterAll(async () => {
    await topo?.close();
  });

  it('connects with a socket id of the Pusher format and receives an SDK trigger on a public channel', async () => {
    const c = client();
    await waitForState(c, 'connected');
    expect(c.connection.socket_id).toMatch(/^\d+\.\d+$/);
    const channel = await subscribed(c, 'public-news');
    const received = nextEvent(channel, 'headline');
    await node.sdk.trigger('public-news', 'headline', { title: 'hello' });
    expect(await received).toEqual({ title: 'hello' });
  });

  it('authorizes a private channel and refuses a forged signature', async () => {
    const c = client();
    const channel = await subscribed(c, 'private-orders');
    const received = nextEvent(channel, 'order.paid');
    await node.sdk.trigger('private-orders', 'order.paid', { id: 7 });
    expect(await received).toEqual({ id: 7 });

    const forger = new PusherJs(APP.key, {
      wsHost: '127.0.0.1',
      wsPort: node.port,
      forceTLS: false,
      enabledTransports: ['ws'],
      cluster: '',
      channelAuthorization: {
        endpoint: '/unused',
        transport: 'ajax',
        customHandler: (_params, callback) => callback(null, { auth: `${APP.key}:${'0'.repeat(64)}` }),
      },
    });
    clients.push(forger);
    const refused = nextEvent<{ type: string; status: number }>(forger.subscribe('private-orders'), 'pusher:subscription_error');
    expect(await refused).toMatchObject({ type: 'AuthError', status: 401 });
  });

  it('runs presence: members, member_added once per user, member_removed after the last tab', async () => {
    const channelName = `presence-conversation.${uuid()}`;
    const alice = client({ presence: { user_id: 'alice', user_info: { name: 'Alice' } } });
    const aliceChannel = alice.subscribe(channelName);
    await nextEvent(aliceChannel, 'pusher:subscription_succeeded');

    const added: unknown[] = [];
    const removed: unknown[] = [];
    aliceChannel.bind('pusher:member_added', (m: unknown) => added.push(m));
    aliceChannel.bind('pusher:member_removed', (m: unknown) => removed.push(m));

    const bobTab1 = client({ presence: { user_id: 'bob', user_info: { name: 'Bob' } } });
    const bob1 = bobTab1.subscribe(channelName) as unknown as { members: { count: number; me: { id: string }; get(id: string): unknown } };
    await nextEvent(bob1 as never, 'pusher:subscription_succeeded');
    expect(bob1.members.count).toBe(2);
    expect(bob1.members.me.id).toBe('bob');
    expect(bob1.members.get('alice')).toEqual({ id: 'alice', info: { name: 'Alice' } });

    const bobTab2 = client({ presence: { user_id: 'bob', user_info: { name: 'Bob' } } });
    await subscribed(bobTab2, channelName);
    await eventually(() => added.length === 1, 3_000, 'member_added');
    expect(added).toEqual([{ id: 'bob', info: { name: 'Bob' } }]);

    const users = await node.sdk.get({ path: `/channels/${channelName}/users` });
    expect(((await users.json()) as { users: { id: string }[] }).users.map((u) => u.id).sort()).toEqual(['alice', 'bob']);

    bobTab1.disconnect();
    await sleep(300);
    expect(removed).toEqual([]);
    bobTab2.disconnect();
    await eventually(() => removed.length === 1, 3_000, 'member_removed');
    expect(removed).toEqual([{ id: 'bob', info: { name: 'Bob' } }]);
    expect(added).toHaveLength(1);
  });

  it('delivers an encrypted channel event that only the client can decrypt', async () => {
    const c = client();
    const channel = await subscribed(c, 'private-encrypted-vault');
    const received = nextEvent(channel, 'secret');
    await node.sdk.trigger('private-encrypted-vault', 'secret', { pin: '1234' });
    expect(await received).toEqual({ pin: '1234' });
  });

  it('forwards client events on a conversation channel to others, never back to the sender, with user_id on presence', async () => {
    const channelName = `presence-conversation.${uuid()}`;
    const a = client({ presence: { user_id: 'u-a' } });
    const b = client({ presence: { user_id: 'u-b' } });
    const channelA = await subscribed(a, channelName);
    const channelB = await subscribed(b, channelName);
    const echoed: unknown[] = [];
    channelA.bind('client-typing', (d: unknown) => echoed.push(d));
    const received = new Promise<{ data: unknown; meta: unknown }>((resolve) => {
      channelB.bind('client-typing', (data: unknown, meta: unknown) => resolve({ data, meta }));
    });
    expect(channelA.trigger('client-typing', { typing: true })).toBe(true);
    expect(await received).toEqual({ data: { typing: true }, meta: { user_id: 'u-a' } });
    await sleep(200);
    expect(echoed).toEqual([]);
  });

  it('signs in, receives server-to-user events and is terminated by the SDK', async () => {
    const c = client({ userId: 'user-42' });
    c.signin();
    await waitForState(c, 'connected');
    await sleep(200); // pusher:signin_success
    const received = new Promise<unknown>((resolve) => c.user.bind('notice', resolve));
    await eventually(async () => {
      await node.sdk.sendToUser('user-42', 'notice', { n: 1 });
      return Promise.race([received.then(() => true), sleep(200).then(() => false)]);
    }, 3_000, 'server-to-user delivery');
    expect(await received).toEqual({ n: 1 });

    await node.sdk.terminateUserConnections('user-42');
    await eventually(() => ['disconnected', 'failed', 'unavailable', 'connecting'].includes(c.connection.state), 3_000, 'termination');
  });

  it('triggers batches, excludes the sender socket and reports channel info', async () => {
    const a = client();
    const b = client();
    const channelA = await subscribed(a, 'presence-lobby');
    await subscribed(b, 'presence-lobby');
    const gotA: unknown[] = [];
    const gotB: unknown[] = [];
    channelA.bind('ping', (d: unknown) => gotA.push(d));
    b.channel('presence-lobby').bind('ping', (d: unknown) => gotB.push(d));

    await node.sdk.trigger('presence-lobby', 'ping', { n: 1 }, { socket_id: a.connection.socket_id });
    await node.sdk.triggerBatch([
      { channel: 'presence-lobby', name: 'ping', data: { n: 2 } },
      { channel: 'presence-lobby', name: 'ping', data: { n: 3 } },
    ]);
    await eventually(() => gotB.length === 3, 3_000, 'batch delivery');
    expect(gotB).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(gotA).toEqual([{ n: 2 }, { n: 3 }]);

    const info = await (await node.sdk.get({ path: '/channels/presence-lobby', params: { info: 'user_count,subscription_count' } })).json();
    expect(info).toEqual({ occupied: true, user_count: 1, subscription_count: 2 });
    const list = await (await node.sdk.get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count' } })).json();
    expect((list as { channels: Record<string, unknown> }).channels['presence-lobby']).toEqual({ user_count: 1 });
    const empty = await (await node.sdk.get({ path: '/channels/public-nobody' })).json();
    expect(empty).toEqual({ occupied: false });
    const withInfo = await (await node.sdk.trigger('presence-lobby', 'ping', { n: 4 }, { info: 'subscription_count' })).json();
    expect(withInfo).toEqual({ channels: { 'presence-lobby': { subscription_count: 2 } } });
  });

  it('works through Laravel Echo: listen, presence callbacks and whispers', async () => {
    const conversation = uuid();
    const makeEcho = (userId: string) => {
      const pusher = client({ presence: { user_id: userId, user_info: { name: userId } } });
      const echo = new Echo({ broadcaster: 'reverb', key: APP.key, client: pusher });
      clients.push(echo);
      return echo;
    };
    const echoA = makeEcho('ann');
    const echoB = makeEcho('ben');

    const received = new Promise<unknown>((resolve) => echoA.private(`conversation.${conversation}`).listen('.message.created', resolve));
    await new Promise<void>((resolve) => echoA.private(`conversation.${conversation}`).subscribed(resolve));
    await node.sdk.trigger(`private-conversation.${conversation}`, 'message.created', { id: 'm1', seq: 1 });
    expect(await received).toEqual({ id: 'm1', seq: 1 });

    const here = new Promise<unknown[]>((resolve) => echoA.join(`conversation.${conversation}`).here(resolve));
    expect(await here).toEqual([{ name: 'ann' }]);
    const joining = new Promise<unknown>((resolve) => echoA.join(`conversation.${conversation}`).joining(resolve));
    const whisper = new Promise<unknown>((resolve) => echoA.join(`conversation.${conversation}`).listenForWhisper('typing', resolve));
    const hereB = new Promise<unknown[]>((resolve) => echoB.join(`conversation.${conversation}`).here(resolve));
    expect(await joining).toEqual({ name: 'ben' });
    expect((await hereB).length).toBe(2);
    echoB.join(`conversation.${conversation}`).whisper('typing', { typing: true });
    expect(await whisper).toEqual({ typing: true });
    const leaving = new Promise<unknown>((resolve) => echoA.join(`conversation.${conversation}`).leaving(resolve));
    echoB.disconnect();
    expect(await leaving).toEqual({ name: 'ben' });
  });
});
});
