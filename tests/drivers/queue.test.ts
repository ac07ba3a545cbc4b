import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { JobQueue } from '@reusable-chat/core/ports';
import { BullmqJobQueue, decodeJobId, encodeJobId, MemoryJobQueue } from '@reusable-chat/drivers';
import { TEST_REDIS_URL } from '@reusable-chat/testing';
import { connectRedis } from '../../apps/server/src/redis-connection.ts';

type Driver = 'memory' | 'bullmq';
const drivers: Driver[] = ['memory', ...(TEST_REDIS_URL ? (['bullmq'] as const) : [])];
/** Unique per run: BullMQ keys of this file never meet another run's. */
const PREFIX = `rc-test-${process.pid}-${Date.now().toString(36)}:`;
const BACKOFF_BASE_MS = 100;

function until(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (predicate()) resolve();
      else if (Date.now() > deadline) reject(new Error('condition not reached in time'));
      else setTimeout(tick, 10);
    };
    tick();
  });
}

describe.each(drivers)('job queue (%s)', (driver) => {
  let redis: Redis | undefined;
  const open: JobQueue[] = [];
  let n = 0;
  /** A fresh job name per test keeps BullMQ queues (and memory handlers) apart. */
  const jobName = () => `job-${++n}`;

  function makeQueue(): JobQueue {
    const q =
      driver === 'bullmq'
        ? new BullmqJobQueue({ connection: redis!, prefix: PREFIX, backoffBaseMs: BACKOFF_BASE_MS })
        : new MemoryJobQueue({ retryBaseMs: BACKOFF_BASE_MS });
    open.push(q);
    return q;
  }

  beforeAll(async () => {
    if (driver === 'bullmq') redis = await connectRedis(TEST_REDIS_URL!, 'rc-test-queue');
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((q) => q.close()));
  });
  afterAll(async () => {
    if (redis) {
      const keys = await redis.keys(`${PREFIX}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    }
  });

  it('runs a job with its payload, attempt number and id', async () => {
    const q = makeQueue();
    const name = jobName();
    const seen: { payload: unknown; attempt: number; jobId: string }[] = [];
    q.process(name, async (payload, meta) => {
      seen.push({ payload, ...meta });
    });
    await q.enqueue(name, { to: 'a@example.com', n: 1 }, { jobId: 'mail:42' });
    await until(() => seen.length === 1);
    expect(seen[0]).toEqual({ payload: { to: 'a@example.com', n: 1 }, attempt: 1, jobId: 'mail:42' });
  });

  it('retries a failing job with exponential back-off, then succeeds', async () => {
    const q = makeQueue();
    const name = jobName();
    const attempts: { attempt: number; atMs: number }[] = [];
    let done = false;
    q.process(name, async (_payload, meta) => {
      attempts.push({ attempt: meta.attempt, atMs: Date.now() });
      if (meta.attempt < 3) throw new Error('provider unavailable');
      done = true;
    });
    await q.enqueue(name, {}, { attempts: 5 });
    await until(() => done);
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3]);
    // Lower bounds only: the back-off doubles (base, then 2 × base); a slow machine can only add time.
    expect(attempts[1]!.atMs - attempts[0]!.atMs).toBeGreaterThanOrEqual(BACKOFF_BASE_MS - 5);
    expect(attempts[2]!.atMs - attempts[1]!.atMs).toBeGreaterThanOrEqual(2 * BACKOFF_BASE_MS - 5);
  });

  it('stops after the allowed attempts (poison job does not loop)', async () => {
    const q = makeQueue();
    const name = jobName();
    let calls = 0;
    q.process(name, async () => {
      calls += 1;
      throw new Error('always fails');
    });
    await q.enqueue(name, {}, { attempts: 2 });
    await until(() => calls === 2);
    // Longer than the next back-off step would be: a third attempt would have started by now.
    await new Promise((r) => setTimeout(r, 4 * BACKOFF_BASE_MS + 200));
    expect(calls).toBe(2);
    // …and the queue keeps flowing for other jobs (F-12).
    let other = false;
    const name2 = jobName();
    q.process(name2, async () => {
      other = true;
    });
    await q.enqueue(name2, {});
    await until(() => other);
  });

  it('enqueues a job id once (dedupe), including ids with colons', async () => {
    const q = makeQueue();
    const name = jobName();
    await q.enqueue(name, { v: 1 }, { jobId: 'webhook:delivery:7' });
    await q.enqueue(name, { v: 2 }, { jobId: 'webhook:delivery:7' });
    await q.enqueue(name, { v: 3 }, { jobId: 'webhook:delivery:7' });
    await q.enqueue(name, { v: 4 }, { jobId: '12345' });
    expect(await q.depth()).toBe(2);
    const seen: unknown[] = [];
    q.process(name, async (payload, meta) => {
      seen.push([payload, meta.jobId]);
    });
    await until(() => seen.length === 2);
    await new Promise((r) => setTimeout(r, 200));
    expect(seen).toHaveLength(2);
    expect(seen).toContainEqual([{ v: 1 }, 'webhook:delivery:7']);
    expect(seen).toContainEqual([{ v: 4 }, '12345']);
  });

  it('reports depth of jobs not yet run, including delayed ones', async () => {
    const q = makeQueue();
    const name = jobName();
    await q.enqueue(name, {});
    await q.enqueue(name, {});
    await q.enqueue(name, {}, { delayMs: 60_000 });
    expect(await q.depth()).toBe(3);
  });

  it('close() lets a running job finish before it resolves', async () => {
    const q = makeQueue();
    const name = jobName();
    let started = false;
    let finished = false;
    q.process(name, async () => {
      started = true;
      await new Promise((r) => setTimeout(r, 300));
      finished = true;
    });
    await q.enqueue(name, {});
    await until(() => started);
    await q.close();
    expect(finished).toBe(true);
    await expect(q.enqueue(name, {})).rejects.toThrow(/closed/);
  });

  if (driver === 'bullmq') {
    it('keeps a job across a worker restart (durable in Redis)', async () => {
      const name = jobName();
      const producer = makeQueue();
      await producer.enqueue(name, { keep: true }, { jobId: 'survivor' });
      await producer.close();

      // A new process (new queue instance, new worker) finds the job that nobody ran yet.
      const worker = makeQueue();
      const seen: unknown[] = [];
      worker.process(name, async (payload, meta) => {
        seen.push([payload, meta.jobId]);
      });
      await until(() => seen.length === 1);
      expect(seen[0]).toEqual([{ keep: true }, 'survivor']);
    });

    it('counts, on a worker node, the jobs waiting in the queues it processes', async () => {
      const name = jobName();
      const producer = makeQueue();
      await producer.enqueue(name, {}, { delayMs: 60_000 });
      await producer.enqueue(name, {}, { delayMs: 60_000 });
      const workerNode = makeQueue();
      workerNode.process(name, async () => undefined);
      expect(await workerNode.depth()).toBe(2);
    });

    it('hands a crashed worker’s job to another worker (stalled job recovery, F-10)', async () => {
      const name = jobName();
      const crashing = new BullmqJobQueue({ connection: redis!, prefix: PREFIX, stalledIntervalMs: 500 });
      let crashedStarted = false;
      crashing.process(name, async () => {
        crashedStarted = true;
        await new Promise(() => undefined); // never finishes: the process "dies" mid-job
      });
      await crashing.enqueue(name, { n: 1 });
      await until(() => crashedStarted);
      // Simulate kill -9: drop the worker's connections without letting it finish or release the lock.
      await killWorkers(crashing);

      const rescuer = new BullmqJobQueue({ connection: redis!, prefix: PREFIX, stalledIntervalMs: 500 });
      open.push(rescuer);
      const seen: unknown[] = [];
      rescuer.process(name, async (payload) => {
        seen.push(payload);
      });
      await until(() => seen.length === 1, 15_000);
      expect(seen).toEqual([{ n: 1 }]);
    });
  }
});

/** Test-only: what a SIGKILL does to a worker — its sockets vanish, the job lock is never released. */
async function killWorkers(queue: BullmqJobQueue): Promise<void> {
  const workers = (queue as unknown as { workers: { worker: { close(force: boolean): Promise<void> }; connection: Redis }[] }).workers;
  for (const { worker, connection } of workers) {
    connection.disconnect();
    await worker.close(true).catch(() => undefined);
  }
}

describe('BullMQ job id encoding', () => {
  it('is reversible and never produces an integer or a colon', () => {
    for (const id of ['12345', 'a:b', 'a%3Ab', '%', 'x:y:z', 'plain']) {
      const stored = encodeJobId(id);
      expect(stored).not.toMatch(/^\d+$/);
      expect(stored).not.toContain(':');
      expect(decodeJobId(stored)).toBe(id);
    }
    expect(encodeJobId('a:b')).not.toBe(encodeJobId('a%3Ab'));
  });
});

describe('BullMQ enqueue while Redis is down (F-01: fail, never hang)', () => {
  it('rejects instead of waiting for Redis to come back', async () => {
    const { createRedisConnection } = await import('../../apps/server/src/redis-connection.ts');
    const redis = createRedisConnection('redis://127.0.0.1:1', 'rc-test-queue-down');
    redis.on('error', () => undefined);
    const q = new BullmqJobQueue({ connection: redis, prefix: PREFIX });
    try {
      await expect(q.enqueue('down', { n: 1 })).rejects.toThrow();
    } finally {
      await q.close().catch(() => undefined);
      redis.disconnect();
    }
  });
});
