import type { Redis } from 'ioredis';
import type { PubSub, PubSubHandler } from '@reusable-chat/core/ports';

export interface RedisPubSubOptions {
  /** The deployment's shared client; publishes go through it. A duplicate connection is opened to subscribe. */
  readonly redis: Redis;
  /** Deployment key prefix (REDIS_PREFIX), so several deployments can share one Redis. */
  readonly prefix: string;
  readonly onError?: (error: Error) => void;
}

/**
 * Cross-node fan-out over Redis pub/sub (SPEC §1). At-most-once, like Redis itself (pusher-protocol.md §3.1):
 * PostgreSQL stays the source of truth and clients catch up by seq.
 *
 * A subscribed connection cannot issue other commands, so subscriptions live on a duplicate of the shared
 * client. After a lost connection ioredis reconnects with back-off and re-issues every SUBSCRIBE on its own
 * (`autoResubscribe`), so a node that loses Redis rejoins the fan-out without help.
 */
export class RedisPubSub implements PubSub {
  private readonly redis: Redis;
  private readonly subscriber: Redis;
  private readonly prefix: string;
  private readonly handlers = new Map<string, Set<PubSubHandler>>();
  private isClosed = false;

  constructor(options: RedisPubSubOptions) {
    this.redis = options.redis;
    this.prefix = `${options.prefix}ps:`;
    this.subscriber = options.redis.duplicate({
      autoResubscribe: true,
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      // Named after the deployment prefix so operators (and tests) can find the fan-out connection.
      connectionName: `${options.prefix}pubsub`,
    });
    this.subscriber.on('error', (err: Error) => options.onError?.(err));
    this.subscriber.on('message', (channel: string, message: string) => {
      const topic = channel.slice(this.prefix.length);
      const handlers = this.handlers.get(topic);
      if (!handlers) return;
      for (const handler of handlers) {
        try {
          handler(message, topic);
        } catch (err) {
          options.onError?.(err instanceof Error ? err : new Error(String(err)));
        }
      }
    });
  }

  async publish(topic: string, payload: string): Promise<void> {
    await this.redis.publish(this.prefix + topic, payload);
  }

  async subscribe(topic: string, handler: PubSubHandler): Promise<() => Promise<void>> {
    let handlers = this.handlers.get(topic);
    if (!handlers) {
      this.handlers.set(topic, (handlers = new Set()));
      await this.subscriber.subscribe(this.prefix + topic);
    }
    handlers.add(handler);
    return async () => {
      handlers.delete(handler);
      if (handlers.size === 0 && this.handlers.get(topic) === handlers) {
        this.handlers.delete(topic);
        if (!this.isClosed) await this.subscriber.unsubscribe(this.prefix + topic).catch(() => undefined);
      }
    };
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    this.handlers.clear();
    await this.subscriber.quit().catch(() => this.subscriber.disconnect());
  }
}
