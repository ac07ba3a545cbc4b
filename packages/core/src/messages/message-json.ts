import type { MaskedInfo, schema } from '@reusable-chat/db';
import type { ChatUser } from '../users/user-json.ts';

/**
 * A stored message as the API needs it: not the generated search vector (never read back) nor the history
 * page's read hints (has_attachments, has_reactions: kept by the database's triggers).
 */
export type MessageRow = Omit<typeof schema.messages.$inferSelect, 'searchVector' | 'hasAttachments' | 'hasReactions'>;
export type StoredAttachmentRow = typeof schema.attachments.$inferSelect;
/** The columns of a message its JSON is made of (a page read selects only these). */
export type MessageJsonSource = Pick<
  MessageRow,
  | 'id'
  | 'conversationId'
  | 'seq'
  | 'senderType'
  | 'senderUserId'
  | 'senderAdminId'
  | 'type'
  | 'content'
  | 'masked'
  | 'clientId'
  | 'metadata'
  | 'createdAt'
  | 'editedAt'
  | 'deletedAt'
>;

export interface ReactionSummary {
  readonly emoji: string;
  readonly count: number;
  readonly user_ids: string[];
}

export interface MessageJsonExtras {
  /** The sending chat user (type user); without it the sender carries only its id. */
  readonly senderUser?: Pick<ChatUser, 'id' | 'externalId' | 'name'> | null;
  /** The sending admin (type agent). */
  readonly senderAdmin?: { id: string; name: string } | null;
  /** Already serialised attachments (the attachments module owns URLs and signing). */
  readonly attachments?: readonly Record<string, unknown>[];
  readonly reactions?: readonly ReactionSummary[];
}

export interface MessageJson {
  id: string;
  conversation_id: string;
  seq: number;
  sender: { type: 'user' | 'agent' | 'system'; id: string | null; external_id?: string; name?: string };
  type: 'text' | 'system' | 'attachment';
  content: string;
  attachments: Record<string, unknown>[];
  reactions: ReactionSummary[];
  client_id: string | null;
  created_at: string;
  masked: MaskedInfo | null;
  edited_at: string | null;
  deleted_at: string | null;
  metadata: Record<string, unknown>;
}

/**
 * The one message shape of every API and of realtime payloads (SPEC §5: "Payloads are the same JSON the
 * HTTP API returns"). Never carries original_content (pre-policy text) nor internal flags; a deleted
 * message keeps its seq (clients see no gap) but loses its content and attachments.
 */
export function toMessageJson(message: MessageJsonSource, extras: MessageJsonExtras = {}): MessageJson {
  const sender: MessageJson['sender'] =
    message.senderType === 'user'
      ? {
          type: 'user',
          id: message.senderUserId,
          ...(extras.senderUser ? { external_id: extras.senderUser.externalId, name: extras.senderUser.name } : {}),
        }
      : message.senderType === 'agent'
        ? { type: 'agent', id: message.senderAdminId, ...(extras.senderAdmin ? { name: extras.senderAdmin.name } : {}) }
        : { type: 'system', id: null };
  const deleted = message.deletedAt !== null;
  return {
    id: message.id,
    conversation_id: message.conversationId,
    seq: message.seq,
    sender,
    type: message.type,
    content: deleted ? '' : message.content,
    attachments: deleted ? [] : [...(extras.attachments ?? [])],
    reactions: deleted ? [] : [...(extras.reactions ?? [])],
    client_id: message.clientId,
    // created_at before masked: the order the HTTP API has always written (its response schema's order).
    created_at: message.createdAt.toISOString(),
    masked: message.masked ?? null,
    edited_at: message.editedAt?.toISOString() ?? null,
    deleted_at: message.deletedAt?.toISOString() ?? null,
    metadata: message.metadata,
  };
}

/** Attachment metadata without a URL; transports that can sign URLs add `url` themselves. */
export function toAttachmentSummaryJson(a: StoredAttachmentRow): Record<string, unknown> {
  return {
    id: a.id,
    content_type: a.contentType,
    size_bytes: a.sizeBytes,
    name: a.originalName,
    width: a.width,
    height: a.height,
  };
}
