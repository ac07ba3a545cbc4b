/**
 * Cross-node fan-out. Only a hint between nodes (Redis pub/sub is at-most-once); PostgreSQL stays the
 * source of truth and clients catch up by seq (pusher-protocol.md §3.1).
 */
export interface PubSubMessage {
  readonly topic: string;
  readonly payload: string;
}
export type PubSubHandler = (payload: string, topic: string) => void;

export interface PubSub {
  publish(topic: string, payload: string): Promise<void>;
  subscribe(topic: string, handler: PubSubHandler): Promise<() => Promise<void>>;
  close(): Promise<void>;
  /**
   * How many handlers listen to `topic`, when the bus can know it for every subscriber (an in-process bus);
   * undefined when subscribers may live in other processes (Redis). Lets a publisher that is itself the only
   * listener skip encoding a message nobody else would receive.
   */
  subscriberCount?(topic: string): number;
}
