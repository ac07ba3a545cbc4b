import type { Redis } from 'ioredis';
import type { JobQueue } from '@reusable-chat/core/ports';
import { BullmqJobQueue } from './bullmq-queue.ts';
import { MemoryJobQueue } from './memory-queue.ts';

export type QueueDriverOptions =
  | { readonly driver: 'memory' }
  | {
      readonly driver: 'bullmq';
      readonly connection: Redis;
      readonly prefix: string;
      readonly onError?: (error: Error, context: { queue: string; jobId?: string }) => void;
    };

/** In-process jobs in embedded mode; BullMQ on Redis in production, so workers can be separate processes (SPEC §1). */
export function createJobQueue(options: QueueDriverOptions): JobQueue {
  switch (options.driver) {
    case 'memory':
      return new MemoryJobQueue();
    case 'bullmq':
      return new BullmqJobQueue({ connection: options.connection, prefix: options.prefix, onError: options.onError });
    default: {
      const unknown: never = options;
      throw new Error(`unknown queue driver ${JSON.stringify(unknown)}`);
    }
  }
}
