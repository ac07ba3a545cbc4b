/**
 * Interfaces core needs from the outside world. Drivers implement them (packages/drivers);
 * apps/server wires one implementation of each in main.ts.
 */
export type { Clock } from './clock.ts';
export type { PubSub, PubSubMessage, PubSubHandler } from './pubsub.ts';
export type { RealtimePublisher, RealtimeEvent } from './realtime.ts';
export type { JobQueue, JobHandler, JobOptions } from './queue.ts';
export type { BlobStore, StoredObject, PutOptions } from './blob-store.ts';
export type { Mailer, MailMessage } from './mailer.ts';
export type { RateLimiter, RateLimitResult } from './rate-limiter.ts';
export type { OutboundHttpClient, OutboundHttpRequest, OutboundHttpResult, OutboundHttpFailure } from './outbound-http.ts';
export type { MediaInspector, SniffedType, ProcessedImage } from './media-inspector.ts';
export type { ChannelStateStore, ChannelStateHooks, ChannelCounts, ConnectionLimits, ConnectionSlot, PresenceMemberRecord } from './channel-state.ts';
