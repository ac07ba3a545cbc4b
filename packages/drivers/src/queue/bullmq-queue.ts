import { createRequire } from 'node:module';
import type * as Bullmq from 'bullmq';
import type { Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { JobHandler, JobOptions, JobQueue } from '@reusable-chat/core/ports';

/** Default attempts before a job is kept as failed (the dead-letter set, F-12). */
const DEFAULT_ATTEMPTS = 5;
/** First retry after 1 s, then 2, 4, 8 … (exponential): rides out a provider blip without hammering it. */
const DEFAULT_BACKOFF_BASE_MS = 1_000;
/**
 * Completed jobs are kept this long / this many per queue: bounded memory in Redis, and long enough that a
 * repeated enqueue with the same jobId (outbox redelivery) is still recognised as a duplicate.
 */
const KEEP_COMPLETED = { age: 24 * 3600, count: 10_000 };
/** Failed jobs stay a week for inspection and manual retry (dead letters, F-12). */
const KEEP_FAILED = { age: 7 * 24 * 3600, count: 50_000 };
/** How long close() waits for running jobs before giving up on them (they are then retried as stalled). */
const CLOSE_TIMEOUT_MS = 10_000;

export interface BullmqJobQueueOptions {
  /**
   * Producer connection, shared with the rest of the node and closed by its owner. It should fail fast
   * (maxRetriesPerRequest, commandTimeout) so an enqueue during a Redis outage errors instead of hanging (F-01).
   */
  readonly connection: Redis;
  /** Deployment prefix (REDIS_PREFIX); BullMQ keys become `<prefix>bull:<job name>:…`. */
  readonly prefix: string;
  readonly defaultAttempts?: number;
  readonly backoffBaseMs?: number;
  /** Milliseconds a worker may be silent before its active job is handed to another worker (crash recovery, F-10). */
  readonly stalledIntervalMs?: number;
  /** Told about worker errors and jobs that exhausted their attempts. */
  readonly onError?: (error: Error, context: { queue: string; jobId?: string }) => void;
}

/**
 * The production JobQueue (SPEC §1: BullMQ jobs, workers run as separate processes).
 * One BullMQ queue per job name, created on first use, so a slow job type never holds up another and
 * `process(name)` on a worker node listens only to what it handles.
 */
/**
 * BullMQ (and the Lua scripts it reads) is loaded when a BullMQ queue is built, not when the drivers
 * package is imported: embedded mode never uses it, so it does none of its start-up work.
 * `require` keeps construction synchronous; BullMQ ships a CommonJS build.
 */
let bullmq: typeof Bullmq | undefined;
function loadBullmq(): typeof Bullmq {
  bullmq ??= createRequire(import.meta.url)('bullmq') as typeof Bullmq;
  return bullmq;
}

export class BullmqJobQueue implements JobQueue {
  private readonly queues = new Map<string, Queue>();
  private readonly workers: { worker: Worker; connection: Redis }[] = [];
  private readonly prefix: string;
  private readonly defaultAttempts: number;
  private readonly backoffBaseMs: number;
  private closed = false;

  private readonly bullmq = loadBullmq();

  constructor(private readonly options: BullmqJobQueueOptions) {
    this.prefix = `${options.prefix}bull`;
    this.defaultAttempts = options.defaultAttempts ?? DEFAULT_ATTEMPTS;
    this.backoffBaseMs = options.backoffBaseMs ?? DEFAULT_BACKOFF_BASE_MS;
  }

  async enqueue(name: string, payload: unknown, options: JobOptions = {}): Promise<void> {
    if (this.closed) throw new Error('queue is closed');
    await this.queue(name).add(name, payload, {
      jobId: options.jobId === undefined ? undefined : encodeJobId(options.jobId),
      delay: options.delayMs,
      attempts: options.attempts ?? this.defaultAttempts,
      backoff: { type: 'exponential', delay: this.backoffBaseMs },
      removeOnComplete: KEEP_COMPLETED,
      removeOnFail: KEEP_FAILED,
    });
  }

  process(name: string, handler: JobHandler, options: { concurrency?: number } = {}): void {
    if (this.closed) throw new Error('queue is closed');
    // Known here too, so depth() on a worker node counts the queues it serves.
    this.queue(name);
    // Workers block on BZPOPMIN: their connection must wait indefinitely (no command timeout) and retry
    // forever, unlike the fail-fast producer connection.
    const connection = this.options.connection.duplicate({
      maxRetriesPerRequest: null,
      commandTimeout: undefined,
      enableOfflineQueue: true,
      lazyConnect: false,
    });
    const worker = new this.bullmq.Worker(
      name,
      async (job: Job) => {
        await handler(job.data, { attempt: job.attemptsMade + 1, jobId: decodeJobId(job.id ?? '') });
      },
      {
        connection,
        prefix: this.prefix,
        concurrency: options.concurrency ?? 4,
        ...(this.options.stalledIntervalMs ? { stalledInterval: this.options.stalledIntervalMs, lockDuration: this.options.stalledIntervalMs } : {}),
      },
    );
    worker.on('error', (error) => this.options.onError?.(error, { queue: name }));
    worker.on('failed', (job, error) => {
      if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) {
        this.options.onError?.(error, { queue: name, jobId: job.id });
      }
    });
    this.workers.push({ worker, connection });
  }

  /**
   * Jobs not yet done — waiting, delayed (including retries in back-off) and prioritized — in the queues
   * this node has enqueued to or processes (BullMQ keeps no registry of queue names to ask).
   */
  async depth(): Promise<number> {
    let total = 0;
    for (const queue of this.queues.values()) total += await queue.count();
    return total;
  }

  /** Stops taking jobs, lets running ones finish (bounded), then closes; the shared connection stays open. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(
      this.workers.map(async ({ worker, connection }) => {
        const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), CLOSE_TIMEOUT_MS).unref());
        if ((await Promise.race([worker.close(), timer])) === 'timeout') await worker.close(true);
        connection.disconnect();
      }),
    );
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }

  private queue(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      // No version check on the producer: BullMQ runs it as an INFO while it sets the queue up, and if that one
      // command fails (the fail-fast connection times out after 1 s on a starved event loop) the Queue object
      // rejects every later add for good: outbox rows would then stay pending until a restart. Workers, whose
      // connections wait without a timeout, still check the version.
      queue = new this.bullmq.Queue(name, { connection: this.options.connection, prefix: this.prefix, skipVersionCheck: true });
      queue.on('error', (error) => this.options.onError?.(error, { queue: name }));
      this.queues.set(name, queue);
    }
    return queue;
  }
}

/**
 * BullMQ refuses custom ids that are integers or contain ':' (they collide with its own key layout), and
 * ours are free-form ("webhook:<delivery id>"). Every custom id is prefixed and ':'/'%' are escaped, so the
 * mapping is injective and reversible.
 */
export function encodeJobId(jobId: string): string {
  return 'j-' + jobId.replaceAll('%', '%25').replaceAll(':', '%3A');
}

export function decodeJobId(stored: string): string {
  if (!stored.startsWith('j-')) return stored;
  return stored.slice(2).replace(/%(25|3A)/g, (_m, code: string) => (code === '25' ? '%' : ':'));
}
