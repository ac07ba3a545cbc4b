/**
 * A lone node on the in-process bus delivers to its own sockets without encoding a cluster message nobody
 * else would read, and skips broadcasts to channels without a subscriber; a second node on the same bus
 * turns both back on (its subscribers are not known to the first).
 */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyBaseLogger } from 'fastify';
import type { PubSub } from '@reusable-chat/core/ports';
import { MemoryChannelState, MemoryPubSub } from '@reusable-chat/drivers';
import { createMetrics } from '../../apps/server/src/metrics.ts';
import { RealtimeServer } from '../../apps/server/src/realtime/realtime-server.ts';

const bus = new MemoryPubSub();
const published: string[] = [];
const countingBus: PubSub = {
  async publish(topic, payload) {
    published.push(payload);
    await bus.publish(topic, payload);
  },
  subscribe: (topic, handler) => bus.subscribe(topic, handler),
  close: () => bus.close(),
  subscriberCount: (topic) => bus.subscriberCount(topic),
};

function node(): RealtimeServer {
  return new RealtimeServer({
    app: { id: 'app', key: 'key', secret: 'secret' },
    activityTimeoutS: 120,
    maxConnections: 100,
    quotas: { perIp: 100, perUser: 100, perWorkspace: 100 },
    allowedOrigins: ['*'],
    pubsub: countingBus,
    state: new MemoryChannelState(),
    metrics: createMetrics(),
    log: pino({ level: 'silent' }) as unknown as FastifyBaseLogger,
  });
}

describe('lone node on the in-process bus', () => {
  const started: RealtimeServer[] = [];
  afterEach(async () => {
    for (const s of started.splice(0)) await s.stop();
    published.length = 0;
  });

  it('publishes nothing on the bus alone, and everything once a second node listens', async () => {
    const a = node();
    await a.start();
    started.push(a);
    expect(bus.subscriberCount('realtime')).toBe(1);
    expect(a.hasAudience(['private-conversation.1'])).toBe(false);
    await a.publish({ channels: ['private-conversation.1'], event: 'message.created', data: '{}' });
    expect(published).toHaveLength(0);

    const b = node();
    await b.start();
    started.push(b);
    expect(a.hasAudience(['private-conversation.1'])).toBe(true);
    await a.publish({ channels: ['private-conversation.1'], event: 'message.created', data: '{}' });
    expect(published).toHaveLength(1);
  });
});
