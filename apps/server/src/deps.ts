import type { Config } from '@reusable-chat/config';
import type { DomainEventBus, MessagePolicyHook } from '@reusable-chat/core';
import type { BlobStore, ChannelStateStore, Clock, JobQueue, Mailer, PubSub, RateLimiter, RealtimePublisher } from '@reusable-chat/core/ports';
import type { DatabaseHandle } from '@reusable-chat/db';
import type { Metrics } from './metrics.ts';

export type ServerRole = 'api' | 'realtime' | 'worker';

/** Everything the app needs from outside, injected by main.ts or by tests (ARCHITECTURE.md convention 6). */
export interface AppDeps {
  readonly config: Config;
  /** Resolved APP_SECRET (from env, or generated once into DATA_DIR in embedded mode). */
  readonly appSecret: string;
  /** Resolved Pusher app secret (REVERB_APP_SECRET, or derived from appSecret). */
  readonly realtimeAppSecret: string;
  readonly database: DatabaseHandle;
  readonly pubsub: PubSub;
  readonly queue: JobQueue;
  readonly blobStore: BlobStore;
  readonly mailer: Mailer;
  readonly rateLimiter: RateLimiter;
  /** Realtime channel counts and presence shared by the nodes (Redis); absent → in-process (single node). */
  readonly channelState?: ChannelStateStore;
  readonly clock: Clock;
  /** Domain events after commit; listeners: realtime fan-out, outbox-backed webhooks/email. */
  readonly events: DomainEventBus;
  readonly roles: readonly ServerRole[];
  /** Extra readiness probes (e.g. Redis ping); each throws when its dependency is down. */
  readonly readinessChecks?: Readonly<Record<string, () => Promise<void>>>;
  /** Policy engine for every message (core/policies); absent → only the default length limit applies. */
  readonly messagePolicyHook?: MessagePolicyHook;
}

declare module 'fastify' {
  interface FastifyInstance {
    deps: AppDeps;
    /** The one fan-out point for domain events (SPEC §5); set by the realtime module. */
    realtime: RealtimePublisher;
    metrics: Metrics;
  }
}
