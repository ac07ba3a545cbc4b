import { afterAll, describe, expect, it } from 'vitest';
import { BullmqJobQueue } from '@reusable-chat/drivers';
import { TEST_REDIS_URL } from '@reusable-chat/testing';
import { createRedisConnection } from '../../apps/server/src/redis-connection.ts';
import { deleteRedisPrefix, uniqueRedisPrefix } from '../conformance/support.ts';

/**
 * The producer side of the BullMQ queue must not break for good on one failed command while it sets itself up
 * (seen as a flaky F-01/F-02 test: under CPU starvation the set-up INFO hit the 1 s command timeout, and every later
 * enqueue of that job name failed, so outbox rows were never relayed).
 */
describe.each(TEST_REDIS_URL ? (['redis'] as const) : [])('BullMQ producer set-up (%s)', () => {
  const prefix = uniqueRedisPrefix('producer');
  const connection = createRedisConnection(TEST_REDIS_URL!, 'producer-test');
  afterAll(async () => {
    connection.disconnect();
    await deleteRedisPrefix(prefix);
  });

  it('enqueues although INFO fails on the shared connection (no version check on the producer)', async () => {
    await connection.connect();
    // Every INFO on this connection fails, as a timed-out command would.
    (connection as unknown as { info: () => Promise<string> }).info = () => Promise.reject(new Error('Command timed out'));
    const queue = new BullmqJobQueue({ connection, prefix });
    try {
      await queue.enqueue('producer.test', { n: 1 }, { jobId: 'first' });
      await queue.enqueue('producer.test', { n: 2 }, { jobId: 'second' });
      expect(await queue.depth()).toBe(2);
    } finally {
      await queue.close();
    }
  });
});
