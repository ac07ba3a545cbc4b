import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createPublicKey } from '@reusable-chat/core';
import { ChatClient, type ChatMessage } from '@reusable-chat/sdk';
import { ConsumerClient } from '@reusable-chat/sdk/node';
import { backends, createTenant, startStack, type Tenant, type TestStack } from '@reusable-chat/testing';

/** Every WebSocket the clients open, so a test can cut one like a dropped network would. */
const sockets: WebSocket[] = [];
class TrackedWebSocket extends WebSocket {
  constructor(url: string) {
    super(url);
    sockets.push(this);
  }
}

function waitFor<T>(check: () => T | undefined | null | false, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      const v = check();
      if (v) return resolve(v);
      if (Date.now() - started > timeoutMs) return reject(new Error('condition not met in time'));
      setTimeout(tick, 20);
    };
    tick();
  });
}

const contents = (items: ChatMessage[]) => items.map((i) => i.message.content);

describe.each(backends)('sdk ChatClient against the real server (%s)', (backend) => {
  let stack: TestStack;
  let baseUrl: string;
  let tenant: Tenant;
  let consumer: ConsumerClient;
  let conversationId: string;
  const appKey = 'reusable-chat-key';

  async function client(externalId: string, fetchImpl?: typeof fetch): Promise<ChatClient> {
    const { token } = await consumer.createSession({ external_id: externalId });
    const c = new ChatClient({ baseUrl, token, appKey, WebSocket: TrackedWebSocket as never, ...(fetchImpl ? { fetch: fetchImpl } : {}) });
    await c.start();
    await waitFor(() => c.connectionState === 'connected');
    return c;
  }

  beforeAll(async () => {
    stack = await startStack({ backend });
    baseUrl = (await stack.listen()).replace('localhost', '127.0.0.1');
    tenant = await createTenant(stack.db, { kind: 'single_app' });
    await createPublicKey({ db: stack.db, workspaceId: tenant.workspaceId, allowedOrigins: ['https://shop.example'] });
    consumer = new ConsumerClient({ baseUrl, apiKey: tenant.apiKey });
    await consumer.upsertUser({ external_id: 'ann', name: 'Ann' });
    await consumer.upsertUser({ external_id: 'bob', name: 'Bob' });
    conversationId = (await consumer.createConversation({ participants: [{ external_id: 'ann' }, { external_id: 'bob' }] })).id;
  });

  afterAll(async () => {
    await stack?.close();
  });

  it('delivers in real time, and after a dropped socket catches up with ?after_seq= — nothing lost, nothing twice', async () => {
    const requested: string[] = [];
    const recordingFetch: typeof fetch = (input, init) => {
      requested.push(String(input));
      return fetch(input, init);
    };
    const ann = await client('ann');
    const bob = await client('bob', recordingFetch);
    await bob.openConversation(conversationId);
    await waitFor(() => bob.realtime.isSubscribed(`private-conversation.${conversationId}`));

    ann.sendMessage(conversationId, 'one');
    await waitFor(() => contents(bob.messages(conversationId)).includes('one'));

    // Cut Bob's socket (like a network drop) and send while he is away.
    const bobSocket = sockets.find((s) => s.readyState === WebSocket.OPEN && (bob.realtime as unknown as { ws: unknown }).ws === s)!;
    const states: string[] = [];
    bob.on('connection', (s) => states.push(s));
    bobSocket.close();
    await waitFor(() => bob.connectionState === 'unavailable');
    for (const text of ['two', 'three', 'four']) ann.sendMessage(conversationId, text);
    await waitFor(() => ann.messages(conversationId).every((m) => m.state === 'sent' || m.state === 'read') && contents(ann.messages(conversationId)).includes('four'));
    // Bob's own send answers with a seq above the ones he missed: it must not move his catch-up point past them.
    const own = bob.sendMessage(conversationId, 'bob while away');
    await waitFor(() => bob.messages(conversationId).find((m) => m.clientId === own && m.state === 'sent'));

    await waitFor(() => contents(bob.messages(conversationId)).includes('four'), 15_000);
    expect(states).toEqual(expect.arrayContaining(['unavailable', 'connecting', 'connected']));
    expect(requested.some((u) => /\/messages\?after_seq=\d+/.test(u))).toBe(true);
    const seen = bob.messages(conversationId).map((m) => m.message);
    expect(seen.map((m) => m.content)).toEqual(['one', 'two', 'three', 'four', 'bob while away']);
    expect(new Set(seen.map((m) => m.seq)).size).toBe(5);
    expect(seen.map((m) => m.seq)).toEqual([...seen.map((m) => m.seq)].sort((a, b) => a - b));
    ann.stop();
    bob.stop();
  });

  it('counts a message published while a conversation channel was still subscribing (unread badge of a closed widget)', async () => {
    // Bob's conversation channel is authorized only when the test says so; his user channel goes through at once.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let inFlight = 0;
    const slowConversationAuth: typeof fetch = async (input, init) => {
      if (String(input).endsWith('/broadcasting/auth') && String(init?.body).includes('private-conversation.')) {
        await gate;
        return fetch(input, init);
      }
      inFlight += 1;
      try {
        return await fetch(input, init);
      } finally {
        inFlight -= 1;
      }
    };
    const ann = await client('ann');
    const bob = await client('bob', slowConversationAuth);
    const userChannel = `private-user.${bob.me!.id}`;
    await waitFor(() => bob.realtime.isSubscribed(userChannel));
    // Whatever Bob reads on that subscription has been read (polled between tasks: a chain of requests shows as one).
    await waitFor(() => inFlight === 0);
    const before = bob.unreadTotal;
    const announced: string[] = [];
    bob.on('message', (m) => announced.push(m.content));
    // Published while Bob follows the user channel but not yet the conversation's: no live event reaches him.
    const sent = ann.sendMessage(conversationId, 'while you were subscribing');
    await waitFor(() => ann.messages(conversationId).find((m) => m.clientId === sent && m.state !== 'sending' && m.state !== 'queued'));
    expect(bob.realtime.isSubscribed(`private-conversation.${conversationId}`)).toBe(false);
    release();
    await waitFor(() => bob.realtime.isSubscribed(`private-conversation.${conversationId}`));
    // Once every channel of his answered, the summaries are read again: the message is counted.
    await waitFor(() => bob.unreadTotal === before + 1);
    expect(bob.conversation(conversationId)?.last_message?.content).toBe('while you were subscribing');
    // …and announced once, as a live one would have been (the widget's rc-message).
    await waitFor(() => announced.length > 0);
    ann.sendMessage(conversationId, 'and one live');
    await waitFor(() => announced.includes('and one live'));
    expect(announced).toEqual(['while you were subscribing', 'and one live']);
    ann.stop();
    bob.stop();
  });

  it('retries a send whose answer was lost with the same client_id: stored once, shown once', async () => {
    let dropNext = true;
    // The request reaches the server, the answer never reaches the client (the worst case for duplicates).
    const lossyFetch: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (dropNext && init?.method === 'POST' && String(input).endsWith('/messages')) {
        dropNext = false;
        throw new TypeError('fetch failed');
      }
      return res;
    };
    const ann = await client('ann', lossyFetch);
    await ann.openConversation(conversationId);
    const clientId = ann.sendMessage(conversationId, 'exactly once');
    await waitFor(() => ann.messages(conversationId).find((m) => m.clientId === clientId && m.state === 'sent'), 15_000);
    expect(ann.messages(conversationId).filter((m) => m.message.content === 'exactly once')).toHaveLength(1);
    const stored = await consumer.listMessages(conversationId, { limit: 100 });
    expect(stored.data.filter((m) => m.content === 'exactly once')).toHaveLength(1);
    expect(stored.data.find((m) => m.content === 'exactly once')!.client_id).toBe(clientId);
    ann.stop();
  });

  it('marks a refused send failed (no blind retries) and keeps the rest of the queue moving', async () => {
    const ann = await client('ann');
    await ann.openConversation(conversationId);
    const tooLong = ann.sendMessage(conversationId, 'x'.repeat(10_001));
    const fine = ann.sendMessage(conversationId, 'after the refused one');
    await waitFor(() => ann.messages(conversationId).find((m) => m.clientId === fine && m.state === 'sent'));
    const failed = ann.messages(conversationId).find((m) => m.clientId === tooLong)!;
    expect(failed.state).toBe('failed');
    expect(failed.error?.status).toBe(422);
    ann.discardSend(tooLong);
    expect(ann.messages(conversationId).some((m) => m.clientId === tooLong)).toBe(false);
    ann.stop();
  });
});
