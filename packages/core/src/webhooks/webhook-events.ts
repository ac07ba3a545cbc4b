import { createHash } from 'node:crypto';
import type { JsonObject } from '@reusable-chat/db';
import type { DomainEvent } from '../events/domain-events.ts';

/** The events a tenant can subscribe an endpoint to (SPEC §4 webhooks). */
export const WEBHOOK_EVENT_TYPES = [
  'message.created',
  'message.updated',
  'message.deleted',
  'reaction.added',
  'reaction.removed',
  'conversation.created',
  'conversation.updated',
  'participant.joined',
  'participant.left',
  'user.created',
  'user.updated',
  'user.banned',
  'report.created',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export function isWebhookEventType(value: string): value is WebhookEventType {
  return (WEBHOOK_EVENT_TYPES as readonly string[]).includes(value);
}

/** What is stored in the outbox and, later, the body a receiver gets (Standard Webhooks payload shape). */
export interface WebhookEvent {
  /** The `webhook-id`: the same for every attempt and every replay, so receivers can dedupe. */
  readonly id: string;
  readonly type: WebhookEventType;
  /** ISO-8601, when the change happened. */
  readonly timestamp: string;
  readonly data: JsonObject;
}

function stableId(...parts: unknown[]): string {
  return 'evt_' + createHash('sha256').update(parts.map((p) => String(p ?? '')).join('\u0000')).digest('hex').slice(0, 32);
}

const str = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' ? String(v) : '');

/**
 * Maps a domain event to the webhook event tenants receive, or null when it is not a webhook event
 * (typing, read receipts, session revocations stay internal).
 *
 * The id is derived from what the event is about (the message id, its edit time, …) rather than drawn at
 * random, so the same change recorded twice — e.g. once in the use-case's transaction and once by the
 * after-commit listener — produces one delivery per endpoint (unique endpoint_id + event_id), not two.
 * Payloads carry only the event's own workspace's data (checklist T-17); internal routing fields
 * (excludeSocketId, participantUserIds) are dropped.
 */
export function toWebhookEvent(event: DomainEvent, occurredAt: Date): WebhookEvent | null {
  const timestamp = occurredAt.toISOString();
  const json = (v: unknown): JsonObject => JSON.parse(JSON.stringify(v ?? {})) as JsonObject;
  switch (event.type) {
    case 'message.created':
    case 'message.deleted':
      return {
        id: stableId(event.type, event.workspaceId, event.message.id),
        type: event.type,
        timestamp,
        data: json({ conversation_id: event.conversationId, message: event.message }),
      };
    case 'message.updated':
      return {
        id: stableId(event.type, event.workspaceId, event.message.id, str(event.message.edited_at) || timestamp),
        type: event.type,
        timestamp,
        data: json({ conversation_id: event.conversationId, message: event.message }),
      };
    case 'reaction.added':
    case 'reaction.removed':
      return {
        id: stableId(event.type, event.workspaceId, event.conversationId, JSON.stringify(event.reaction), timestamp),
        type: event.type,
        timestamp,
        data: json({ conversation_id: event.conversationId, reaction: event.reaction }),
      };
    case 'conversation.created':
      return {
        id: stableId(event.type, event.workspaceId, event.conversation.id),
        type: event.type,
        timestamp,
        data: json({ conversation: event.conversation }),
      };
    case 'conversation.updated':
      return {
        id: stableId(event.type, event.workspaceId, event.conversation.id, str(event.conversation.updated_at) || timestamp),
        type: event.type,
        timestamp,
        data: json({ conversation: event.conversation }),
      };
    case 'participant.joined':
    case 'participant.left':
      return {
        id: stableId(event.type, event.workspaceId, event.conversationId, JSON.stringify(event.participant), timestamp),
        type: event.type,
        timestamp,
        data: json({ conversation_id: event.conversationId, participant: event.participant }),
      };
    case 'user.created':
      return { id: stableId(event.type, event.workspaceId, event.user.id), type: event.type, timestamp, data: json({ user: event.user }) };
    case 'user.updated':
      return {
        id: stableId(event.type, event.workspaceId, event.user.id, str(event.user.updated_at) || timestamp),
        type: event.type,
        timestamp,
        data: json({ user: event.user }),
      };
    case 'user.banned':
      return {
        id: stableId(event.type, event.workspaceId, event.chatUserId, str(event.ban.id) || str(event.ban.created_at) || timestamp),
        type: event.type,
        timestamp,
        data: json({ user_id: event.chatUserId, ban: event.ban }),
      };
    case 'report.created':
      return {
        id: stableId(event.type, event.workspaceId, str(event.report.id) || timestamp),
        type: event.type,
        timestamp,
        data: json({ report: event.report }),
      };
    default:
      return null;
  }
}
