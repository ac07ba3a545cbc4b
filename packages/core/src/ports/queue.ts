export interface JobOptions {
  /** Deduplicates: a job with the same id is enqueued once. */
  readonly jobId?: string;
  readonly delayMs?: number;
  readonly attempts?: number;
}
export type JobHandler<T = unknown> = (payload: T, meta: { attempt: number; jobId: string }) => Promise<void>;

export interface JobQueue {
  enqueue(name: string, payload: unknown, options?: JobOptions): Promise<void>;
  process(name: string, handler: JobHandler, options?: { concurrency?: number }): void;
  depth(): Promise<number>;
  close(): Promise<void>;
}
