/**
 * JSON shapes of the HTTP APIs and realtime payloads (SPEC §5: "payloads are the same JSON the HTTP API
 * returns"). Kept structural and open: the server may add fields without breaking clients.
 */

export interface UserJson {
  id: string;
  external_id: string | null;
  name: string | null;
  avatar_url: string | null;
  role?: string | null;
  is_anonymous?: boolean;
  email?: string | null;
  [key: string]: unknown;
}

export interface MaskedInfo {
  rules: string[];
  kinds: string[];
  count: number;
}

export interface ReactionSummary {
  emoji: string;
  count: number;
  user_ids: string[];
}

export interface AttachmentJson {
  id: string;
  conversation_id?: string;
  message_id?: string | null;
  content_type: string;
  size_bytes: number;
  name: string | null;
  width: number | null;
  height: number | null;
  url?: string;
  thumbnail_url?: string | null;
  [key: string]: unknown;
}

export interface MessageJson {
  id: string;
  conversation_id: string;
  seq: number;
  sender: { type: 'user' | 'agent' | 'system'; id: string | null; external_id?: string; name?: string };
  type: 'text' | 'system' | 'attachment';
  content: string;
  attachments: AttachmentJson[];
  reactions: ReactionSummary[];
  client_id: string | null;
  masked: MaskedInfo | null;
  created_at: string;
  edited_at: string | null;
  deleted_at: string | null;
  metadata: Record<string, unknown>;
}

export interface ParticipantJson {
  user: UserJson;
  role: string;
  last_read_seq: number;
  joined_at?: string;
}

export interface ConversationJson {
  id: string;
  type: 'direct' | 'group' | 'support' | 'demo';
  widget: string | null;
  subject: string | null;
  state: string | null;
  name: string | null;
  status: 'open' | 'closed';
  metadata: Record<string, unknown>;
  last_seq: number;
  last_message_at: string | null;
  created_at: string;
  participants: ParticipantJson[];
  unread_count?: number;
  last_message?: MessageJson | null;
  [key: string]: unknown;
}

export interface ListPage<T> {
  data: T[];
  next_cursor: string | null;
}

export interface MeJson {
  user: UserJson;
  workspace: { id: string; name: string; kind: string };
  session: { id: string; expires_at: string };
  unread_total: number;
}

export interface SessionJson {
  token: string;
  expires_at: string;
  user: UserJson;
}

/** POST /api/embed/init: what a page may know about its widget configuration (no moderation details). */
export interface EmbedInitJson {
  workspace: { id: string; name: string; kind: string };
  theme: Record<string, unknown>;
  widget: {
    id: string;
    slug: string;
    name: string;
    participant_roles: string[];
    can_start: string[];
    max_length: number;
    read_receipts: boolean;
    typing: boolean;
    presence: boolean;
    attachments: { enabled: boolean; allowed_types: string[]; max_size_bytes: number };
  };
  identity_verification: boolean;
  allow_anonymous: boolean;
  powered_by: boolean;
}

export interface ReadReceiptEvent {
  conversation_id: string;
  user_id: string;
  seq: number;
}

export interface TypingEvent {
  conversation_id: string;
  user: UserJson;
  is_typing: boolean;
}

/** The error body of every API (docs/errors.md). */
export interface ApiErrorBody {
  error: { code: string; message: string; details?: unknown };
}
