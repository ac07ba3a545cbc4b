/**
 * The WebSocket side of the Pusher protocol, driven with a raw `ws` client so every malformed or hostile
 * frame of the checklist can be sent (W-01…W-21, W-23, W-26, W-28).
 */
import type net from 'node:net';
import { connect as tcpConnect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '@reusable-chat/testing';
import { signChannelAuth } from '@reusable-chat/protocol';
import { createSocketIdFactory } from '../../apps/server/src/realtime/socket-ids.ts';
import {
  APP,
  byEvent,
  decode,
  eventually,
  openRaw,
  rawSubscribe,
  sleep,
  startRealtimeNode,
  uuid,
  type RawClient,
  type RealtimeNode,
} from '../conformance/support.ts';

const conversationChannel = () => `private-conversation.${uuid()}`;

describe.each(backends)('Pusher WebSocket protocol (%s)', (backend) => {
  let node: RealtimeNode;
  let url: string;
  const open: RawClient[] = [];
  const connect = async (query = '?protocol=7', options: Parameters<typeof openRaw>[1] = {}) => {
    const c = await openRaw(`${node.wsUrl}/app/${APP.key}${query}`, options);
    open.push(c);
    return c;
  };

  beforeAll(async () => {
    node = await startRealtimeNode({ backend });
    url = `${node.wsUrl}/app/${APP.key}?protocol=7`;
  });
  afterAll(async () => {
    for (const c of open) c.close();
    await node?.close();
  });

  it('W-01: an unknown app key gets pusher:error 4001 and close 4001', async () => {
    const c = await openRaw(`${node.wsUrl}/app/not-our-key?protocol=7`, { expectRefusal: true });
    const error = await c.waitFor(byEvent('pusher:error'));
    expect(decode(error)).toMatchObject({ code: 4001 });
    expect((await c.closed).code).toBe(4001);
  });

  it('W-02: protocol missing → 4008, unsupported → 4007, malformed → 4006; 7 is accepted', async () => {
    for (const [query, code] of [['', 4008], ['?protocol=1', 4007], ['?protocol=abc', 4006], ['?protocol=6', 4007]] as const) {
      const c = await openRaw(`${node.wsUrl}/app/${APP.key}${query}`, { expectRefusal: true });
      expect(decode(await c.waitFor(byEvent('pusher:error')))).toMatchObject({ code });
      expect((await c.closed).code).toBe(code);
    }
    const ok = await connect();
    expect(ok.socketId).toMatch(/^\d+\.\d+$/);
    const established = ok.frames[0]!;
    expect(decode(established)).toEqual({ socket_id: ok.socketId, activity_timeout: 120 });
  });

  it('the Pusher path is /app/{key} only: other upgrade paths and plain GETs get the router\'s 404, never a held socket', async () => {
    // Upgrades to /app/{key} bypass Fastify's router (websocket.route.ts); everything else must still reach it.
    const statusOfUpgrade = (path: string) =>
      new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(`${node.wsUrl}${path}`);
        ws.on('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          ws.terminate();
        });
        ws.on('open', () => {
          ws.terminate();
          reject(new Error(`${path} was upgraded`));
        });
        ws.on('error', () => undefined);
      });
    expect(await statusOfUpgrade(`/app/${APP.key}/extra?protocol=7`)).toBe(404);
    expect(await statusOfUpgrade(`/nowhere/${APP.key}?protocol=7`)).toBe(404);
    const plain = await fetch(`${node.baseUrl}/app/${APP.key}?protocol=7`, { signal: AbortSignal.timeout(5_000) });
    expect(plain.status).toBe(404);
    // A malformed handshake on the Pusher path is refused by `ws` (400) at once, although the socket was corked.
    const refused = await new Promise<string>((resolve, reject) => {
      const socket = tcpConnect(node.port, '127.0.0.1', () => {
        socket.write(`GET /app/${APP.key}?protocol=7 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 99\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
      });
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
      setTimeout(() => reject(new Error('no answer to a malformed handshake')), 5_000).unref();
    });
    expect(refused.startsWith('HTTP/1.1 400')).toBe(true);
    // A percent-encoded key is the same key, as Fastify's router would decode it.
    const encoded = await openRaw(`${node.wsUrl}/app/${encodeURIComponent(APP.key).replace('-', '%2D')}?protocol=7`);
    open.push(encoded);
    expect(encoded.socketId).toMatch(/^\d+\.\d+$/);
  });

  it('an open socket keeps nothing of its HTTP upgrade request alive (memory per idle connection)', async () => {
    // V8's collector, reachable without --expose-gc: a WeakRef to the upgrade's IncomingMessage must clear while
    // the socket stays open. Before the fix the hijacked ServerResponse kept the request, its headers, the Fastify
    // request/reply and a child logger alive for the life of every socket (≈ 4 KB each).
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const requests: WeakRef<object>[] = [];
    const capture = (req: object) => requests.push(new WeakRef(req));
    node.app.server.prependListener('upgrade', capture);
    const c = await connect();
    node.app.server.off('upgrade', capture);
    expect(requests).toHaveLength(1);
    await eventually(async () => {
      gc();
      await sleep(20);
      return requests[0]!.deref() === undefined;
    }, 5_000, 'the upgrade request to be collected');
    // …and the socket still works.
    expect(node.app.realtimeServer.isConnected(c.socketId)).toBe(true);
  });

  it('W-04: private subscriptions without a valid signature fail with 401 and the socket stays open', async () => {
    const c = await connect();
    const other = await connect();
    const channel = conversationChannel();
    const good = node.sdk.authorizeChannel(c.socketId, channel).auth;
    const hex = good.split(':')[1]!;
    const attempts: (string | undefined)[] = [
      undefined,
      '',
      `${APP.key}:`,
      `wrong-key:${hex}`,
      `${APP.key}:${hex.toUpperCase()}`,
      node.sdk.authorizeChannel(other.socketId, channel).auth,
      node.sdk.authorizeChannel(c.socketId, conversationChannel()).auth,
      signChannelAuth({ key: APP.key, secret: 'another-apps-secret' }, c.socketId, channel),
    ];
    for (const auth of attempts) {
      c.frames.length = 0;
      c.send({ event: 'pusher:subscribe', data: auth === undefined ? { channel } : { channel, auth } });
      const error = await c.waitFor(byEvent('pusher:subscription_error', channel));
      expect(decode(error)).toMatchObject({ type: 'AuthError', status: 401 });
    }
    await node.sdk.trigger(channel, 'message.created', { secret: true });
    c.send({ event: 'pusher:ping', data: {} });
    await c.waitFor(byEvent('pusher:pong'));
    expect(c.frames.filter((f) => f.event === 'message.created')).toEqual([]);
    expect(node.app.realtimeServer.isConnected(c.socketId)).toBe(true);
  });

  it('W-06: presence channel_data is checked as signed, with size and membership limits', async () => {
    const channel = `presence-conversation.${uuid()}`;
    const c = await connect();
    const member = await rawSubscribe(c, node.sdk, channel, { user_id: 'first' });
    expect(member.event).toBe('pusher_internal:subscription_succeeded');

    const attempt = async (channelData: string, signedData = channelData) => {
      const s = await connect();
      const auth = signChannelAuth({ key: APP.key, secret: APP.secret }, s.socketId, channel, signedData);
      s.send({ event: 'pusher:subscribe', data: { channel, auth, channel_data: channelData } });
      return decode(await s.waitFor(byEvent('pusher:subscription_error', channel)));
    };
    // channel_data altered after signing (another user_id)
    expect(await attempt('{"user_id":"mallory"}', '{"user_id":"bob"}')).toMatchObject({ type: 'AuthError', status: 401 });
    expect(await attempt('{"user_info":{"name":"x"}}')).toMatchObject({ type: 'AuthError' });
    expect(await attempt(JSON.stringify({ user_id: 'big', user_info: { blob: 'x'.repeat(1100) } }))).toMatchObject({ type: 'LimitReached' });
    expect(await attempt(JSON.stringify({ user_id: 'u'.repeat(129) }))).toMatchObject({ type: 'LimitReached' });

    // Fill to 100 members; the 101st distinct user is refused and nobody already in is affected.
    const members = await Promise.all(Array.from({ length: 99 }, () => connect()));
    await Promise.all(members.map((m, i) => rawSubscribe(m, node.sdk, channel, { user_id: `member-${i}` })));
    expect((await node.app.realtimeServer.channelCounts(channel)).userCount).toBe(100);
    expect(await attempt('{"user_id":"the-101st"}')).toMatchObject({ type: 'LimitReached' });
    // An existing user may still open another tab.
    const tab = await connect();
    expect((await rawSubscribe(tab, node.sdk, channel, { user_id: 'member-3' })).event).toBe('pusher_internal:subscription_succeeded');
    expect((await node.app.realtimeServer.channelCounts(channel)).userCount).toBe(100);
    for (const m of members) m.close();
  });

  it('W-07: one user on three sockets → one member_added; member_removed only after the last closes', async () => {
    const channel = `presence-conversation.${uuid()}`;
    const watcher = await connect();
    await rawSubscribe(watcher, node.sdk, channel, { user_id: 'watcher' });
    const tabs = await Promise.all([connect(), connect(), connect()]);
    for (const tab of tabs) await rawSubscribe(tab, node.sdk, channel, { user_id: 'multi', user_info: { name: 'M' } });
    await watcher.waitFor(byEvent('pusher_internal:member_added', channel));
    tabs[0]!.close();
    tabs[1]!.close();
    await Promise.all([tabs[0]!.closed, tabs[1]!.closed]);
    await sleep(200);
    expect(watcher.frames.filter((f) => f.event === 'pusher_internal:member_added')).toHaveLength(1);
    expect(watcher.frames.filter((f) => f.event === 'pusher_internal:member_removed')).toHaveLength(0);
    tabs[2]!.close();
    const removed = await watcher.waitFor(byEvent('pusher_internal:member_removed', channel));
    expect(decode(removed)).toEqual({ user_id: 'multi' });
    expect(decode(watcher.frames.find((f) => f.event === 'pusher_internal:member_added')!)).toEqual({ user_id: 'multi', user_info: { name: 'M' } });
  });

  it('W-09: reserved and malformed channel names are refused with 4009', async () => {
    const c = await connect();
    for (const channel of ['#server-to-user-victim', 'pusher:foo', 'bad name', 'a'.repeat(165), 'tab\tchar']) {
      c.send({ event: 'pusher:subscribe', data: { channel } });
      const error = await c.waitFor((f) => f.event === 'pusher:subscription_error' && f.channel === channel.slice(0, 200));
      expect(decode(error)).toMatchObject({ status: 4009 });
    }
    const ok = await rawSubscribe(c, node.sdk, 'a'.repeat(164));
    expect(ok.event).toBe('pusher_internal:subscription_succeeded');
  });

  it('W-10, W-11, W-12: client events need a client- name, a joined private/presence channel where they are enabled', async () => {
    const sender = await connect();
    const receiver = await connect();
    const conversation = conversationChannel();
    const userChannel = `private-user.${uuid()}`;
    for (const channel of [conversation, userChannel, 'public-room']) {
      await rawSubscribe(sender, node.sdk, channel);
      await rawSubscribe(receiver, node.sdk, channel);
    }
    const notJoined = conversationChannel();
    await rawSubscribe(receiver, node.sdk, notJoined);

    const rejections: [string, string][] = [
      ['client-typing', userChannel], // W-10: disabled on private-user
      ['typing', conversation], // W-11
      ['my-client-event', conversation],
      ['x.client-y', conversation],
      ['client-typing', 'public-room'], // W-12
      ['client-typing', notJoined],
    ];
    for (const [event, channel] of rejections) {
      sender.frames.length = 0;
      sender.send({ event, channel, data: { typing: true } });
      expect(decode(await sender.waitFor(byEvent('pusher:error')))).toMatchObject({ code: 4301 });
    }
    sender.send({ event: 'client-typing', channel: conversation, data: { ok: 1 } });
    const delivered = await receiver.waitFor(byEvent('client-typing', conversation));
    expect(delivered.data).toEqual({ ok: 1 });
    expect(receiver.frames.filter((f) => f.event !== 'pusher_internal:subscription_succeeded' && f.event !== 'pusher:connection_established')).toEqual([delivered]);
  });

  it('W-13: a client-event flood is limited to 10 per second with 4301, and persistent abuse disconnects', async () => {
    const channel = conversationChannel();
    const sender = await connect();
    const receiver = await connect();
    await rawSubscribe(sender, node.sdk, channel);
    await rawSubscribe(receiver, node.sdk, channel);
    for (let i = 0; i < 100; i++) sender.send({ event: 'client-flood', channel, data: { i } });
    await sender.waitFor((f) => f.event === 'pusher:error' && decode<{ code: number }>(f).code === 4301);
    await sleep(300);
    const forwarded = receiver.frames.filter((f) => f.event === 'client-flood').length;
    expect(forwarded).toBeGreaterThanOrEqual(1);
    expect(forwarded).toBeLessThanOrEqual(20); // at most two one-second windows in the burst
    expect(sender.frames.filter((f) => f.event === 'pusher:error').length).toBeGreaterThanOrEqual(80);

    // Keep flooding: after several seconds over the limit the socket is closed with 4301.
    const flood = setInterval(() => {
      if (sender.ws.readyState === sender.ws.OPEN) for (let i = 0; i < 20; i++) sender.send({ event: 'client-flood', channel, data: {} });
    }, 100);
    try {
      expect((await Promise.race([sender.closed, sleep(9_000).then(() => ({ code: -1 }))])).code).toBe(4301);
    } finally {
      clearInterval(flood);
    }
    expect(node.app.realtimeServer.isConnected(receiver.socketId)).toBe(true);
  }, 15_000);

  it('W-14: a client event is not echoed, and on presence the server sets user_id', async () => {
    const channel = `presence-conversation.${uuid()}`;
    const a = await connect();
    const b = await connect();
    await rawSubscribe(a, node.sdk, channel, { user_id: 'real-a' });
    await rawSubscribe(b, node.sdk, channel, { user_id: 'real-b' });
    a.send({ event: 'client-typing', channel, data: { t: 1 }, user_id: 'spoofed' });
    const got = await b.waitFor(byEvent('client-typing', channel));
    expect(got.user_id).toBe('real-a');
    await sleep(150);
    expect(a.frames.filter((f) => f.event === 'client-typing')).toEqual([]);
  });

  it('W-15: client-event payloads over 10 KB and names over 200 characters are refused', async () => {
    const channel = conversationChannel();
    const a = await connect();
    const b = await connect();
    await rawSubscribe(a, node.sdk, channel);
    await rawSubscribe(b, node.sdk, channel);
    a.send({ event: 'client-big', channel, data: { blob: 'x'.repeat(10_300) } });
    expect(decode(await a.waitFor(byEvent('pusher:error')))).toMatchObject({ code: 4301 });
    a.frames.length = 0;
    a.send({ event: `client-${'n'.repeat(200)}`, channel, data: {} });
    expect(decode(await a.waitFor(byEvent('pusher:error')))).toMatchObject({ code: 4301 });
    await sleep(150);
    expect(b.frames.filter((f) => f.event.startsWith('client-'))).toEqual([]);
  });

  it('W-16: oversized frames and fragment floods close with 1009 without taking the server down', async () => {
    const rssBefore = process.memoryUsage().rss;
    const over = await connect();
    over.sendRaw(Buffer.alloc(64 * 1024 + 1, 0x61).toString());
    expect((await over.closed).code).toBe(1009);

    const tenMb = await connect();
    tenMb.sendRaw(Buffer.alloc(10 * 1024 * 1024, 0x61).toString());
    expect((await tenMb.closed).code).toBe(1009);

    // A frame header announcing 100 MB: refused on the header, the payload is never buffered.
    const huge = await connect();
    const header = Buffer.alloc(14);
    header[0] = 0x81;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(100n * 1024n * 1024n, 2);
    (huge.ws as unknown as { _socket: net.Socket })._socket.write(Buffer.concat([header, Buffer.alloc(1024)]));
    expect((await huge.closed).code).toBe(1009);

    const fragments = await connect();
    for (let i = 0; i < 80; i++) fragments.ws.send(Buffer.alloc(1024, 0x61).toString(), { fin: false });
    expect((await fragments.closed).code).toBe(1009);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 * 1024 * 1024);

    const still = await connect();
    expect(still.socketId).toMatch(/^\d+\.\d+$/);
  });

  it('W-17: binary frames and malformed JSON get pusher:error and the socket stays usable', async () => {
    const c = await connect();
    const inputs: [string | Buffer, boolean][] = [
      [Buffer.from([1, 2, 3]), true],
      ['not json', false],
      ['{"data":{}}', false],
      ['[1,2]', false],
      ['{"event":"pusher:subscribe","data":42}', false],
      ['{"event":"pusher:subscribe","data":{"channel":["x"]}}', false],
      ['{"event":5}', false],
    ];
    for (const [data, binary] of inputs) {
      c.frames.length = 0;
      c.sendRaw(data, binary);
      expect(decode(await c.waitFor(byEvent('pusher:error')))).toMatchObject({ code: 4200 });
    }
    c.send({ event: 'pusher:ping', data: {} });
    await c.waitFor(byEvent('pusher:pong'));
  });

  it('W-18: a consumer that stops reading is dropped; other subscribers get every event', async () => {
    const channel = 'public-stream';
    const slow = await connect();
    const healthy = await connect();
    await rawSubscribe(slow, node.sdk, channel);
    await rawSubscribe(healthy, node.sdk, channel);
    (slow.ws as unknown as { _socket: net.Socket })._socket.pause();
    const payload = 'x'.repeat(8_000);
    let sent = 0;
    for (let round = 0; round < 400 && node.app.realtimeServer.isConnected(slow.socketId); round++) {
      for (let i = 0; i < 10; i++) {
        await node.app.realtimeServer.publish({ channels: [channel], event: 'chunk', data: payload });
        sent += 1;
      }
      await sleep(2);
    }
    expect(node.app.realtimeServer.isConnected(slow.socketId)).toBe(false);
    await eventually(() => healthy.frames.filter((f) => f.event === 'chunk').length === sent, 10_000, 'healthy delivery');
  }, 30_000);

  it('W-19: pusher:ping → pusher:pong and protocol pings are answered', async () => {
    const c = await connect();
    c.send({ event: 'pusher:ping', data: {} });
    expect((await c.waitFor(byEvent('pusher:pong'))).event).toBe('pusher:pong');
    const pong = new Promise<void>((resolve) => c.ws.once('pong', () => resolve()));
    c.ws.ping();
    await pong;
  });

  it('W-21: an eleventh signed-in socket of one user gets 4004; the others stay', async () => {
    const sockets: RawClient[] = [];
    const signin = async (c: RawClient) => {
      const userData = JSON.stringify({ id: 'many-tabs' });
      c.send({ event: 'pusher:signin', data: node.sdk.authenticateUser(c.socketId, { id: 'many-tabs' }) });
      return userData;
    };
    for (let i = 0; i < 10; i++) {
      const c = await connect();
      await signin(c);
      await c.waitFor(byEvent('pusher:signin_success'));
      sockets.push(c);
    }
    const extra = await connect();
    await signin(extra);
    expect(decode(await extra.waitFor(byEvent('pusher:error')))).toMatchObject({ code: 4004 });
    expect((await extra.closed).code).toBe(4004);
    for (const s of sockets) expect(node.app.realtimeServer.isConnected(s.socketId)).toBe(true);
    for (const s of sockets) s.close();
  });

  it('signs in only with a valid signature and a single identity (§1.4)', async () => {
    const c = await connect();
    c.send({ event: 'pusher:signin', data: { auth: `${APP.key}:${'0'.repeat(64)}`, user_data: '{"id":"x"}' } });
    expect(decode(await c.waitFor(byEvent('pusher:error')))).toMatchObject({ code: 4009 });
    expect((await c.closed).code).toBe(4009);

    const d = await connect();
    d.send({ event: 'pusher:signin', data: node.sdk.authenticateUser(d.socketId, { id: 'first' }) });
    const success = await d.waitFor(byEvent('pusher:signin_success'));
    expect(JSON.parse(decode<{ user_data: string }>(success).user_data)).toEqual({ id: 'first' });
    d.send({ event: 'pusher:signin', data: node.sdk.authenticateUser(d.socketId, { id: 'second' }) });
    expect((await d.closed).code).toBe(4009);
  });

  it('W-26: socket_id on publish excludes only the sender', async () => {
    const channel = conversationChannel();
    const sender = await connect();
    const other = await connect();
    await rawSubscribe(sender, node.sdk, channel);
    await rawSubscribe(other, node.sdk, channel);
    await node.sdk.trigger(channel, 'message.created', { n: 1 }, { socket_id: sender.socketId });
    await other.waitFor(byEvent('message.created', channel));
    await node.sdk.trigger(channel, 'after', {});
    await sender.waitFor(byEvent('after', channel));
    expect(sender.frames.filter((f) => f.event === 'message.created')).toEqual([]);
  });

  it('W-28: socket ids are unique and well-formed across 20 000 ids on two nodes and across real connections', async () => {
    const a = createSocketIdFactory('1234567890');
    const b = createSocketIdFactory('9876543210');
    const ids = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      ids.add(a());
      ids.add(b());
    }
    expect(ids.size).toBe(20_000);
    for (const id of ids) expect(id).toMatch(/^\d+\.\d+$/);
    const sockets = await Promise.all(Array.from({ length: 50 }, () => openRaw(url)));
    expect(new Set(sockets.map((s) => s.socketId)).size).toBe(50);
    for (const s of sockets) s.close();
  });
});
