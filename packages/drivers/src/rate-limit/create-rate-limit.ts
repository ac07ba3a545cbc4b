import type { Redis } from 'ioredis';
import type { RateLimiter } from '@reusable-chat/core/ports';
import { MemoryRateLimiter } from './memory-rate-limit.ts';
import { RedisRateLimiter } from './redis-rate-limit.ts';

export type RateLimitDriverOptions =
  | { readonly driver: 'memory' }
  | { readonly driver: 'redis'; readonly redis: Redis; readonly prefix: string; readonly onError?: (error: Error) => void };

/** In-process counters in embedded mode; Redis counters shared by every node in production (SPEC §1). */
export function createRateLimiter(options: RateLimitDriverOptions): RateLimiter {
  switch (options.driver) {
    case 'memory':
      return new MemoryRateLimiter();
    case 'redis':
      return new RedisRateLimiter({ redis: options.redis, prefix: options.prefix, onError: options.onError });
    default: {
      const unknown: never = options;
      throw new Error(`unknown rate-limit driver ${JSON.stringify(unknown)}`);
    }
  }
}
