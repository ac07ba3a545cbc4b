import type { PubSub, PubSubHandler } from '@reusable-chat/core/ports';

/** In-process fan-out for the embedded single-node mode. Delivery is synchronous-after-microtask, like Redis. */
export class MemoryPubSub implements PubSub {
  private readonly topics = new Map<string, Set<PubSubHandler>>();

  async publish(topic: string, payload: string): Promise<void> {
    const handlers = this.topics.get(topic);
    if (!handlers) return;
    queueMicrotask(() => {
      for (const handler of handlers) handler(payload, topic);
    });
  }

  async subscribe(topic: string, handler: PubSubHandler): Promise<() => Promise<void>> {
    let handlers = this.topics.get(topic);
    if (!handlers) this.topics.set(topic, (handlers = new Set()));
    handlers.add(handler);
    return async () => {
      handlers.delete(handler);
      if (handlers.size === 0) this.topics.delete(topic);
    };
  }

  /** Every subscriber of an in-process bus is in this process, so the count is exact. */
  subscriberCount(topic: string): number {
    return this.topics.get(topic)?.size ?? 0;
  }

  async close(): Promise<void> {
    this.topics.clear();
  }
}
