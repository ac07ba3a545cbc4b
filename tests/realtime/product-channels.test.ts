/**
 * Product channels end to end (SPEC §5): the widget authorizers, tenant isolation of channels (T-09, T-10,
 * T-19, W-05), revocation and bans closing sockets (W-08), and the domain-event fan-out, with pusher-js using
 * the real `/api/widget/broadcasting/*` endpoints as a widget would.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { backends, createTenant, type Tenant } from '@reusable-chat/testing';
import { verifyChannelAuth } from '@reusable-chat/protocol';
import { schema } from '@reusable-chat/db';
import { authorizeAgentChannel } from '../../apps/server/src/realtime/authorize-channel.ts';
import { channelDeliveriesFor } from '../../apps/server/src/realtime/fan-out.ts';
import { messageJsonSchema as widgetMessageJsonSchema } from '../../apps/server/src/http/widget/shared/widget.schema.ts';
import {
  APP,
  byEvent,
  decode,
  eventually,
  nextEvent,
  openRaw,
  rawSubscribe,
  sleep,
  startRealtimeNode,
  uuid,
  waitForState,
  widgetPusherClient,
  type PusherJsClient,
  type RawClient,
  type RealtimeNode,
} from '../conformance/support.ts';

interface Person {
  id: string;
  externalId: string;
  token: string;
  sessionId: string;
}

describe.each(backends)('product channels (%s)', (backend) => {
  let node: RealtimeNode;
  let tenantA: Tenant;
  let tenantB: Tenant;
  let alice: Person; // A
  let bob: Person; // A
  let carol: Person; // A, not in the conversation
  let victor: Person; // B
  let conversationA: string;
  let conversationB: string;
  const clients: { disconnect(): void }[] = [];
  const raws: RawClient[] = [];

  const api = async (tenant: Tenant, method: 'POST' | 'DELETE' | 'GET', url: string, payload?: unknown) => {
    const res = await node.app.inject({ method, url, headers: { 'x-api-key': tenant.apiKey }, ...(payload ? { payload: payload as object } : {}) });
    if (res.statusCode >= 300) throw new Error(`${method} ${url} → ${res.statusCode} ${res.body}`);
    return res.body ? res.json() : null;
  };
  const person = async (tenant: Tenant, name: string): Promise<Person> => {
    const externalId = `${name}-${uuid()}`;
    await api(tenant, 'POST', '/api/v1/users', { external_id: externalId, name });
    const session = await api(tenant, 'POST', '/api/v1/sessions', { external_id: externalId });
    const sessionId = session.id ?? session.session_id ?? session.session?.id;
    return { id: session.user.id, externalId, token: session.token, sessionId };
  };
  const authorize = (who: Person, socketId: string, channelName: string) =>
    node.app.inject({
      method: 'POST',
      url: '/api/widget/broadcasting/auth',
      headers: { authorization: `Bearer ${who.token}`, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ socket_id: socketId, channel_name: channelName }).toString(),
    });
  const widgetClient = (who: Person): PusherJsClient => {
    const c = widgetPusherClient(node, who.token);
    clients.push(c);
    return c;
  };
  const raw = async () => {
    const c = await openRaw(`${node.wsUrl}/app/${APP.key}?protocol=7`);
    raws.push(c);
    return c;
  };

  beforeAll(async () => {
    node = await startRealtimeNode({ backend });
    tenantA = await createTenant(node.deps.database.db, { name: 'A' });
    tenantB = await createTenant(node.deps.database.db, { name: 'B' });
    [alice, bob, carol, victor] = await Promise.all([person(tenantA, 'alice'), person(tenantA, 'bob'), person(tenantA, 'carol'), person(tenantB, 'victor')]);
    const victor2 = await person(tenantB, 'victor2');
    conversationA = (await api(tenantA, 'POST', '/api/v1/conversations', { participants: [{ external_id: alice.externalId }, { external_id: bob.externalId }] })).id;
    conversationB = (await api(tenantB, 'POST', '/api/v1/conversations', { participants: [{ external_id: victor.externalId }, { external_id: victor2.externalId }] })).id;
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.disconnect();
    for (const r of raws.splice(0)) r.close();
  });
  afterAll(async () => {
    await node?.close();
  });

  it('signs only the channels a session may join (T-09: another tenant → 403, no signature)', async () => {
    const socketId = '123.456';
    const own = await authorize(alice, socketId, `private-conversation.${conversationA}`);
    expect(own.statusCode).toBe(200);
    expect(verifyChannelAuth({ key: APP.key, secret: APP.secret }, own.json().auth, socketId, `private-conversation.${conversationA}`)).toBe(true);

    const presence = await authorize(alice, socketId, `presence-conversation.${conversationA}`);
    expect(presence.statusCode).toBe(200);
    const channelData = JSON.parse(presence.json().channel_data);
    expect(channelData).toEqual({ user_id: alice.id, user_info: { name: 'alice', avatar_url: null, type: 'user' } });

    expect((await authorize(alice, socketId, `private-user.${alice.id}`)).statusCode).toBe(200);

    const refusals = [
      [victor, `private-conversation.${conversationA}`], // T-09: tenant B → A's conversation
      [alice, `private-conversation.${conversationB}`],
      [alice, `presence-conversation.${conversationB}`],
      [carol, `private-conversation.${conversationA}`], // same tenant, not a participant
      [alice, `private-user.${bob.id}`],
      [alice, `private-workspace.${tenantA.workspaceId}`],
      [alice, 'private-conversation.not-a-uuid'],
      [alice, 'public-anything'],
      [alice, `private-encrypted-conversation.${conversationA}`],
    ] as const;
    for (const [who, channel] of refusals) {
      const res = await authorize(who, socketId, channel);
      expect(res.statusCode, channel).toBe(403);
      expect(res.json().auth).toBeUndefined();
    }
    expect((await authorize(alice, 'nope', `private-conversation.${conversationA}`)).statusCode).toBe(422);
    const anonymous = await node.app.inject({ method: 'POST', url: '/api/widget/broadcasting/auth', payload: { socket_id: socketId, channel_name: `private-conversation.${conversationA}` } });
    expect(anonymous.statusCode).toBe(401);
  });

  it('T-10 and W-05: a signature for another socket or channel never opens B’s conversation', async () => {
    const attacker = await raw();
    const channelB = `private-conversation.${conversationB}`;
    const forOwnChannel = (await authorize(alice, attacker.socketId, `private-conversation.${conversationA}`)).json().auth as string;
    const victim = await raw();
    await rawSubscribe(victim, node.sdk, channelB);
    const forOtherSocket = node.sdk.authorizeChannel(victim.socketId, channelB).auth;
    for (const auth of [forOwnChannel, forOtherSocket]) {
      attacker.send({ event: 'pusher:subscribe', data: { channel: channelB, auth } });
      expect(decode(await attacker.waitFor(byEvent('pusher:subscription_error', channelB)))).toMatchObject({ status: 401 });
      attacker.frames.length = 0;
    }
    await node.deps.events.emit({ type: 'message.created', workspaceId: tenantB.workspaceId, conversationId: conversationB, message: { id: 'm', seq: 1 } });
    await victim.waitFor(byEvent('message.created', channelB));
    expect(attacker.frames.filter((f) => f.channel === channelB)).toEqual([]);
  });

  it('T-19: tenant B’s sockets on every channel they may join receive nothing about A’s conversation', async () => {
    const b = widgetClient(victor);
    const channels = [`private-conversation.${conversationB}`, `presence-conversation.${conversationB}`, `private-user.${victor.id}`];
    const frames: { channel: string; event: string }[] = [];
    for (const name of channels) {
      const ch = b.subscribe(name);
      await nextEvent(ch, 'pusher:subscription_succeeded');
      ch.bind_global((event: string) => frames.push({ channel: name, event }));
    }
    const sentinel = nextEvent(b.channel(`private-user.${victor.id}`), 'unread.updated');
    const message = await api(tenantA, 'POST', `/api/v1/conversations/${conversationA}/messages`, { sender_external_id: alice.externalId, content: 'for A only' });
    expect(message.seq).toBeGreaterThan(0);
    await node.deps.events.emit({ type: 'unread.updated', workspaceId: tenantB.workspaceId, chatUserId: victor.id, unread: { total: 0 } });
    await sentinel; // delivered in publish order after A's events, so anything about A would have arrived by now
    expect(frames.filter((f) => !f.event.startsWith('pusher:') && f.event !== 'unread.updated')).toEqual([]);
  });

  it('delivers a message posted through the API to participants through the widget authorizer', async () => {
    const a = widgetClient(alice);
    const ch = a.subscribe(`private-conversation.${conversationA}`);
    await nextEvent(ch, 'pusher:subscription_succeeded');
    const received = nextEvent<{ content: string; seq: number; conversation_id?: string }>(ch, 'message.created');
    await api(tenantA, 'POST', `/api/v1/conversations/${conversationA}/messages`, { sender_external_id: bob.externalId, content: 'hello alice' });
    const message = await received;
    expect(message.content).toBe('hello alice');
    expect(message.seq).toBeGreaterThan(0);
    expect(JSON.stringify(message)).not.toContain('original_content');
  });

  it('answers a widget send with exactly the JSON text its realtime frame carries, in the schema’s shape and order', async () => {
    const listener = await raw();
    const channel = `private-conversation.${conversationA}`;
    await rawSubscribe(listener, node.sdk, channel);
    const sent = await node.app.inject({
      method: 'POST',
      url: `/api/widget/conversations/${conversationA}/messages`,
      headers: { authorization: `Bearer ${alice.token}` },
      payload: { content: 'write me at alice@example.com', client_id: `same-bytes-${uuid()}` },
    });
    expect(sent.statusCode).toBe(201);
    expect(sent.headers['content-type']).toBe('application/json; charset=utf-8');
    const frame = await listener.waitFor((f) => byEvent('message.created', channel)(f) && String(f.data).includes(decode<{ id: string }>({ event: '', data: sent.body }).id));
    expect(frame.data).toBe(sent.body);
    // The response schema still describes the answer: parsing it changes nothing, not even the key order.
    const parsed = widgetMessageJsonSchema.parse(JSON.parse(sent.body));
    expect(JSON.stringify(parsed)).toBe(sent.body);
    expect(parsed.masked).not.toBeNull();
    expect(sent.body).not.toContain('alice@example.com');
  });

  it('does not deliver a blocked sender’s messages to the blocker’s signed-in sockets (SPEC §6)', async () => {
    const [blocker, sender, other] = await Promise.all([person(tenantA, 'blocker'), person(tenantA, 'sender'), person(tenantA, 'other')]);
    const conversation = (
      await api(tenantA, 'POST', '/api/v1/conversations', {
        widget: 'support',
        participants: [
          { external_id: blocker.externalId, role: 'customer' },
          { external_id: sender.externalId, role: 'customer' },
          { external_id: other.externalId, role: 'agent' },
        ],
      })
    ).id as string;
    const block = await node.app.inject({
      method: 'POST',
      url: '/api/widget/blocks',
      headers: { authorization: `Bearer ${blocker.token}` },
      payload: { user_id: sender.id },
    });
    expect(block.statusCode).toBeLessThan(300);

    const blockerClient = widgetClient(blocker);
    const otherClient = widgetClient(other);
    blockerClient.signin();
    otherClient.signin();
    const blockerChannel = blockerClient.subscribe(`private-conversation.${conversation}`);
    const otherChannel = otherClient.subscribe(`private-conversation.${conversation}`);
    await Promise.all([nextEvent(blockerChannel, 'pusher:subscription_succeeded'), nextEvent(otherChannel, 'pusher:subscription_succeeded')]);
    await eventually(() => node.app.realtimeServer.signedInUserOf(blockerClient.connection.socket_id) === blocker.id, 5_000, 'blocker signed in');

    const seenByBlocker: string[] = [];
    blockerChannel.bind('message.created', (m: { content: string }) => seenByBlocker.push(m.content));
    const toOther = nextEvent<{ content: string }>(otherChannel, 'message.created');
    await api(tenantA, 'POST', `/api/v1/conversations/${conversation}/messages`, { sender_external_id: sender.externalId, content: 'from the blocked one' });
    expect((await toOther).content).toBe('from the blocked one');
    // The blocker still hears other senders on the same channel, so silence above is the filter, not a dead socket.
    const toBlocker = nextEvent<{ content: string }>(blockerChannel, 'message.created');
    await api(tenantA, 'POST', `/api/v1/conversations/${conversation}/messages`, { sender_external_id: other.externalId, content: 'from someone else' });
    expect((await toBlocker).content).toBe('from someone else');
    expect(seenByBlocker).toEqual(['from someone else']);
  });

  it('enables typing whispers on conversation channels for the participants', async () => {
    const a = widgetClient(alice);
    const b = widgetClient(bob);
    const channelA = a.subscribe(`presence-conversation.${conversationA}`);
    const channelB = b.subscribe(`presence-conversation.${conversationA}`);
    await Promise.all([nextEvent(channelA, 'pusher:subscription_succeeded'), nextEvent(channelB, 'pusher:subscription_succeeded')]);
    const typing = new Promise<unknown>((resolve) => channelB.bind('client-typing', (_d: unknown, meta: unknown) => resolve(meta)));
    channelA.trigger('client-typing', { typing: true });
    expect(await typing).toEqual({ user_id: alice.id });
  });

  it('W-08: revoking the session closes the signed-in socket with 4009 and re-authorization is refused', async () => {
    const who = await person(tenantA, 'revoked');
    const c = widgetClient(who);
    c.signin();
    await waitForState(c, 'connected');
    const socketId = c.connection.socket_id;
    await eventually(() => node.app.realtimeServer.isConnected(socketId), 2_000, 'connected');
    await sleep(200); // signin round trip through the user-auth endpoint
    const closed = new Promise<number>((resolve) => {
      c.connection.bind('error', (e: { data?: { code?: number } }) => e.data?.code && resolve(e.data.code));
    });
    await api(tenantA, 'DELETE', `/api/v1/sessions/${who.sessionId}`);
    expect(await Promise.race([closed, sleep(5_000).then(() => -1)])).toBe(4009);
    await eventually(() => !node.app.realtimeServer.isConnected(socketId), 5_000, 'socket closed');
    expect((await authorize(who, '1.2', `private-user.${who.id}`)).statusCode).toBe(401);
  });

  it('gives the dashboard seam: agents join their workspace and its conversations, never another tenant’s', async () => {
    const db = node.deps.database.db;
    const [agent] = await db.insert(schema.admins).values({ email: `agent-${uuid()}@example.test`, name: 'Agent A', passwordHash: 'x' }).returning();
    await db.insert(schema.workspaceMembers).values({ workspaceId: tenantA.workspaceId, adminId: agent!.id, role: 'agent' });
    const admin = { id: agent!.id, name: 'Agent A' };
    const allowed = (channelName: string) => authorizeAgentChannel({ db, admin, channelName }).then((d) => d.allowed);
    expect(await allowed(`private-workspace.${tenantA.workspaceId}`)).toBe(true);
    expect(await allowed(`private-conversation.${conversationA}`)).toBe(true);
    expect(await authorizeAgentChannel({ db, admin, channelName: `presence-conversation.${conversationA}` })).toEqual({
      allowed: true,
      presence: { user_id: `admin:${agent!.id}`, user_info: { name: 'Agent A', type: 'agent' } },
    });
    expect(await allowed(`private-workspace.${tenantB.workspaceId}`)).toBe(false);
    expect(await allowed(`private-conversation.${conversationB}`)).toBe(false);
    expect(await allowed(`private-user.${alice.id}`)).toBe(false);
    expect(await allowed(`private-conversation.${uuid()}`)).toBe(false);
  });

  it('W-08: banning a user tells their user channel and closes their sockets', async () => {
    const who = await person(tenantA, 'banned');
    const c = widgetClient(who);
    c.signin();
    const userChannel = c.subscribe(`private-user.${who.id}`);
    await nextEvent(userChannel, 'pusher:subscription_succeeded');
    const socketId = c.connection.socket_id;
    const banned = nextEvent(userChannel, 'banned');
    await api(tenantA, 'POST', '/api/v1/bans', { external_id: who.externalId, reason: 'spam' });
    expect(await banned).toMatchObject({ reason: 'spam' });
    await eventually(() => !node.app.realtimeServer.isConnected(socketId), 5_000, 'banned socket closed');
  });
});

describe('fan-out visibility rules', () => {
  const workspaceId = uuid();
  const conversationId = uuid();
  it('maps every SPEC §5 event to its channels, keeping internal notes and original text away from participants', () => {
    const conversation = `private-conversation.${conversationId}`;
    const workspace = `private-workspace.${workspaceId}`;
    const message = { id: 'm', seq: 3, content: 'x', original_content: 'raw' };
    const created = channelDeliveriesFor({ type: 'message.created', workspaceId, conversationId, message, excludeSocketId: '1.2' });
    expect(created).toEqual([
      { event: 'message.created', channels: [conversation], data: { id: 'm', seq: 3, content: 'x' }, excludeSocketId: '1.2' },
      { event: 'message.created', channels: [workspace], data: message, excludeSocketId: '1.2' },
    ]);
    const note = channelDeliveriesFor({ type: 'message.created', workspaceId, conversationId, message: { ...message, is_internal: true } });
    expect(note.flatMap((d) => d.channels)).toEqual([workspace]);
    for (const type of ['message.updated', 'message.deleted'] as const) {
      expect(channelDeliveriesFor({ type, workspaceId, conversationId, message }).flatMap((d) => d.channels)).toEqual([conversation, workspace]);
    }
    expect(channelDeliveriesFor({ type: 'reaction.added', workspaceId, conversationId, reaction: { emoji: '👍' } })[0]!.channels).toEqual([conversation, workspace]);
    expect(channelDeliveriesFor({ type: 'messages.read', workspaceId, conversationId, chatUserId: 'u', seq: 4 })[0]!.data).toEqual({ conversation_id: conversationId, user_id: 'u', seq: 4 });
    expect(channelDeliveriesFor({ type: 'user.typing', workspaceId, conversationId, user: { id: 'u' }, isTyping: true })[0]!.event).toBe('user.typing');
    expect(channelDeliveriesFor({ type: 'participant.joined', workspaceId, conversationId, participant: { id: 'u' } })[0]!.channels).toEqual([conversation, workspace]);
    const convo = { id: conversationId };
    expect(channelDeliveriesFor({ type: 'conversation.created', workspaceId, conversation: convo, participantUserIds: ['u1', 'u2'] })[0]!.channels).toEqual(['private-user.u1', 'private-user.u2']);
    expect(channelDeliveriesFor({ type: 'conversation.updated', workspaceId, conversation: convo, participantUserIds: [] }).flatMap((d) => d.channels)).toEqual([conversation, workspace]);
    expect(channelDeliveriesFor({ type: 'unread.updated', workspaceId, chatUserId: 'u1', unread: { n: 1 } })).toEqual([{ event: 'unread.updated', channels: ['private-user.u1'], data: { n: 1 } }]);
    expect(channelDeliveriesFor({ type: 'user.banned', workspaceId, chatUserId: 'u1', ban: { reason: 'r' } })[0]).toEqual({ event: 'banned', channels: ['private-user.u1'], data: { reason: 'r' } });
    // The blocked user is never told (privacy); only the blocker's own sockets hear of it.
    expect(channelDeliveriesFor({ type: 'user.blocked', workspaceId, blockerUserId: 'a', blockedUserId: 'b' })[0]!.channels).toEqual(['private-user.a']);
    expect(channelDeliveriesFor({ type: 'session.revoked', workspaceId, chatUserIds: ['u1'] })).toEqual([]);
  });
});
