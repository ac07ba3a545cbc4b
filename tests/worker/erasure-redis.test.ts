import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, createTenant, TEST_REDIS_URL, type Tenant } from '@reusable-chat/testing';
import { startWorker, type RunningWorker } from '../../apps/server/src/worker/index.ts';
import { deleteRedisPrefix, eventually, nextEvent, startRealtimeNode, widgetPusherClient, type PusherJsClient, type RealtimeNode } from '../conformance/support.ts';
import { startReceiver, waitFor, type Receiver } from './receiver.ts';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** Every key under the prefix with its whole content as text (hash fields and values, set and list members). */
async function redisContents(redis: Redis, prefix: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', '500');
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      let text = '';
      if (type === 'string') text = (await redis.get(key)) ?? '';
      else if (type === 'hash') text = JSON.stringify(await redis.hgetall(key));
      else if (type === 'set') text = (await redis.smembers(key)).join('\n');
      else if (type === 'zset') text = (await redis.zrange(key, '0', '-1')).join('\n');
      else if (type === 'list') text = (await redis.lrange(key, 0, -1)).join('\n');
      else if (type === 'stream') text = JSON.stringify(await redis.xrange(key, '-', '+'));
      out.set(key, `${key}\n${text}`);
    }
  } while (cursor !== '0');
  return out;
}

const keysHolding = (contents: Map<string, string>, needles: string[]) =>
  [...contents].filter(([, text]) => needles.some((n) => text.includes(n))).map(([key]) => key);

/**
 * Checklist G-03, the Redis half: after an erasure no Redis key holds the person's personal data. With Redis the
 * queue (BullMQ keeps completed jobs a day and failed ones a week), the presence members (user_info carries the
 * name) and the connection quotas live there; queue jobs carry row ids only, and the erasure closes the person's
 * sockets, which takes them out of presence and the quotas.
 */
describe.each(TEST_REDIS_URL ? backends : [])('erasure leaves no personal data in Redis (%s)', (backend) => {
  const prefix = `rc_t_erase_${process.pid}_${backend}:`;
  let node: RealtimeNode;
  let worker: RunningWorker;
  let receiver: Receiver;
  let tenant: Tenant;
  let redis: Redis;
  const clients: PusherJsClient[] = [];
  const tag = `${backend}${Date.now().toString(36)}`;
  const person = { external_id: `rz-ext-${tag}`, name: `Rosalind Zephyr ${tag}`, email: `rosalind.${tag}@example.org` };

  const call = async (method: 'POST' | 'GET', url: string, body?: unknown) => {
    const res = await node.app.inject({
      method,
      url,
      headers: { 'x-api-key': tenant.apiKey, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    return { status: res.statusCode, json: res.json() as Record<string, unknown>, body: res.body };
  };

  beforeAll(async () => {
    receiver = await startReceiver();
    node = await startRealtimeNode({ backend, redis: { url: TEST_REDIS_URL!, prefix }, env: { WEBHOOKS_ALLOW_PRIVATE: 'true' } });
    worker = await startWorker(node.deps, { logger: silent, relayIntervalMs: 50, sweepIntervalMs: 100, sweepGraceMs: 200 });
    tenant = await createTenant(node.deps.database.db);
    redis = new Redis(TEST_REDIS_URL!);
    redis.on('error', () => undefined);
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await worker?.stop();
    await node?.close();
    await receiver?.close();
    redis?.disconnect();
    await deleteRedisPrefix(prefix);
  });

  it('G-03: queue jobs, presence and quotas hold none of their data once they are erased', async () => {
    expect((await call('POST', '/api/v1/webhooks', { url: `${receiver.baseUrl}/hook`, events: ['message.created'] })).status).toBe(201);
    const created = await call('POST', '/api/v1/users', person);
    expect(created.status, created.body).toBe(201);
    const userId = created.json.id as string;
    expect((await call('POST', '/api/v1/users', { external_id: `other-${tag}`, name: 'Other Person' })).status).toBe(201);
    const conversationId = (await call('POST', '/api/v1/conversations', { participants: [{ external_id: person.external_id }, { external_id: `other-${tag}` }] }))
      .json.id as string;
    const token = (await call('POST', '/api/v1/sessions', { external_id: person.external_id })).json.token as string;

    // Their widget is open: a presence member (name in user_info) and a signed-in socket (quota slot).
    const client = widgetPusherClient(node, token);
    clients.push(client);
    client.signin();
    await nextEvent(client.subscribe(`presence-conversation.${conversationId}`), 'pusher:subscription_succeeded');

    // Their message goes out as a webhook through BullMQ (its job is kept after completion).
    const sent = await call('POST', `/api/v1/conversations/${conversationId}/messages`, {
      sender_external_id: person.external_id,
      content: `Hi, I am ${person.name}, write to ${person.email}`,
    });
    expect(sent.status, sent.body).toBe(201);
    // (The email in the text is masked by the default policy; the sender's name travels unmasked.)
    await waitFor(() => receiver.received('/hook').some((r) => r.body.includes(person.name)), 20_000);

    const needles = [person.name, person.email, person.external_id];
    // The test can fail: before the erasure Redis does hold their name (the presence member) and their id.
    const before = await redisContents(redis, prefix);
    expect(keysHolding(before, needles).length).toBeGreaterThan(0);
    expect(keysHolding(before, [userId]).length).toBeGreaterThan(0);

    const erased = await call('POST', `/api/v1/users/${person.external_id}/erase`);
    expect(erased.status, erased.body).toBe(200);
    await eventually(() => client.connection.state !== 'connected', 10_000, 'the erased user’s socket closed');
    client.disconnect(); // pusher-js would reconnect; the revoked session then fails its auth anyway

    // Sockets closing leave presence and the quotas asynchronously: bounded wait, then nothing of theirs.
    await eventually(async () => keysHolding(await redisContents(redis, prefix), [...needles, userId]).length === 0, 10_000, 'no Redis key with their data');
    expect(keysHolding(await redisContents(redis, prefix), [...needles, userId])).toEqual([]);
  }, 60_000);
});
