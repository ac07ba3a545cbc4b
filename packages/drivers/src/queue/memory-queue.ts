import { randomUUID } from 'node:crypto';
import type { JobHandler, JobOptions, JobQueue } from '@reusable-chat/core/ports';

interface PendingJob {
  id: string;
  name: string;
  payload: unknown;
  attempt: number;
  maxAttempts: number;
}

/** Base of the exponential back-off between attempts; small because in-process jobs retry local faults. */
const RETRY_BASE_MS = 250;
/** Remembered job ids for dedupe; bounded like BullMQ's removeOnComplete so memory cannot grow forever. */
const MAX_REMEMBERED_IDS = 10_000;
/** How long close() waits for running jobs. */
const CLOSE_TIMEOUT_MS = 10_000;

/**
 * In-process queue for the embedded mode: jobs run in this process with retries and exponential back-off.
 * Jobs do not survive a restart; durability comes from the PostgreSQL outbox that enqueues them.
 */
export class MemoryJobQueue implements JobQueue {
  private readonly handlers = new Map<string, { handler: JobHandler; concurrency: number; running: number }>();
  private readonly waiting = new Map<string, PendingJob[]>();
  private readonly seenIds = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;
  private inFlight = 0;
  /** Jobs waiting for a delay or a retry back-off; counted in depth() like BullMQ's delayed set. */
  private delayed = 0;

  constructor(private readonly options: { retryBaseMs?: number } = {}) {}

  async enqueue(name: string, payload: unknown, options: JobOptions = {}): Promise<void> {
    if (this.closed) throw new Error('queue is closed');
    const id = options.jobId ?? randomUUID();
    if (options.jobId) {
      if (this.seenIds.has(id)) return;
      this.remember(id);
    }
    const job: PendingJob = { id, name, payload, attempt: 0, maxAttempts: options.attempts ?? 5 };
    if (options.delayMs) this.later(options.delayMs, () => this.push(job));
    else this.push(job);
  }

  process(name: string, handler: JobHandler, options: { concurrency?: number } = {}): void {
    if (this.closed) throw new Error('queue is closed');
    this.handlers.set(name, { handler, concurrency: options.concurrency ?? 4, running: 0 });
    this.drain(name);
  }

  async depth(): Promise<number> {
    let n = this.delayed;
    for (const list of this.waiting.values()) n += list.length;
    return n;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.delayed = 0;
    const deadline = Date.now() + CLOSE_TIMEOUT_MS;
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  }

  private push(job: PendingJob): void {
    let list = this.waiting.get(job.name);
    if (!list) this.waiting.set(job.name, (list = []));
    list.push(job);
    this.drain(job.name);
  }

  private drain(name: string): void {
    const h = this.handlers.get(name);
    const list = this.waiting.get(name);
    if (!h || !list) return;
    while (!this.closed && h.running < h.concurrency && list.length > 0) {
      const job = list.shift()!;
      h.running += 1;
      this.inFlight += 1;
      job.attempt += 1;
      h.handler(job.payload, { attempt: job.attempt, jobId: job.id })
        .catch(() => {
          if (job.attempt < job.maxAttempts && !this.closed) {
            this.later((this.options.retryBaseMs ?? RETRY_BASE_MS) * 2 ** (job.attempt - 1), () => this.push(job));
          }
        })
        .finally(() => {
          h.running -= 1;
          this.inFlight -= 1;
          this.drain(name);
        });
    }
  }

  private later(ms: number, fn: () => void): void {
    this.delayed += 1;
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.delayed -= 1;
      if (!this.closed) fn();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  private remember(id: string): void {
    this.seenIds.add(id);
    if (this.seenIds.size > MAX_REMEMBERED_IDS) {
      // Sets iterate in insertion order: drop the oldest id.
      const oldest = this.seenIds.values().next().value;
      if (oldest !== undefined) this.seenIds.delete(oldest);
    }
  }
}
