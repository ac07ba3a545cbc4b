/**
 * The whole data model, one file per aggregate would scatter the foreign keys; the sections below
 * follow SPEC §3 (tenancy), §4 (APIs), §6 (messages and policies), §7 (attachments).
 *
 * Rules that every table follows:
 * - ids are UUIDv7 generated in the application (PostgreSQL 15 has no uuidv7(), PGlite is 18: keep one source).
 * - every tenant-owned row carries workspace_id, and every index that serves a lookup starts with it,
 *   so a query that forgets the tenant cannot be served by an index by accident.
 * - secrets are stored as SHA-256 hashes; only what must be used as a key (identity secret, webhook secret) is kept.
 */
import { sql } from 'drizzle-orm';
import {
  bigserial,
  customType,
  boolean,
  foreignKey,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { uuidv7 } from 'uuidv7';

const id = () => uuid('id').primaryKey().$defaultFn(() => uuidv7());
const createdAt = () => timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow();
const updatedAt = () => timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow();
const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
const workspaceRef = () =>
  uuid('workspace_id')
    .notNull()
    .references(() => workspaces.id, { onDelete: 'cascade' });

/** Full-text search over message content; generated so no write path can forget it. */
const tsvector = customType<{ data: string }>({
  dataType: () => 'tsvector',
});

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

// ───────────────────────────── tenancy ─────────────────────────────

export const workspaces = pgTable('workspaces', {
  id: id(),
  name: text('name').notNull(),
  kind: text('kind', { enum: ['single_app', 'marketplace'] }).notNull().default('single_app'),
  status: text('status', { enum: ['active', 'suspended'] }).notNull().default('active'),
  settings: jsonb('settings').$type<JsonObject>().notNull().default({}),
  theme: jsonb('theme').$type<JsonObject>().notNull().default({}),
  /** HMAC key for identity verification (user_hash); must be usable, so it is not hashed. */
  identitySecret: text('identity_secret').notNull(),
  isDemo: boolean('is_demo').notNull().default(false),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

export const admins = pgTable(
  'admins',
  {
    id: id(),
    email: text('email').notNull(),
    name: text('name').notNull().default(''),
    passwordHash: text('password_hash').notNull(),
    isSuperAdmin: boolean('is_super_admin').notNull().default(false),
    disabledAt: ts('disabled_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('admins_email_uq').on(sql`lower(${t.email})`)],
);

export const workspaceMembers = pgTable(
  'workspace_members',
  {
    workspaceId: workspaceRef(),
    adminId: uuid('admin_id')
      .notNull()
      .references(() => admins.id, { onDelete: 'cascade' }),
    role: text('role', { enum: ['owner', 'admin', 'agent', 'viewer'] }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.adminId] }), index('workspace_members_admin_idx').on(t.adminId)],
);

export const adminSessions = pgTable(
  'admin_sessions',
  {
    id: id(),
    adminId: uuid('admin_id')
      .notNull()
      .references(() => admins.id, { onDelete: 'cascade' }),
    tokenHash: text('token_hash').notNull(),
    csrfToken: text('csrf_token').notNull(),
    ip: text('ip'),
    expiresAt: ts('expires_at').notNull(),
    revokedAt: ts('revoked_at'),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('admin_sessions_token_uq').on(t.tokenHash), index('admin_sessions_admin_idx').on(t.adminId)],
);

export const apiKeys = pgTable(
  'api_keys',
  {
    id: id(),
    workspaceId: workspaceRef(),
    name: text('name').notNull().default(''),
    /** Display prefix such as `sk_live_AbCd` — enough to recognise, useless to authenticate. */
    displayPrefix: text('display_prefix').notNull(),
    keyHash: text('key_hash').notNull(),
    environment: text('environment', { enum: ['live', 'test', 'demo'] }).notNull(),
    scope: text('scope', { enum: ['full', 'demo'] }).notNull().default('full'),
    /** Requests per minute for this key; null means the deployment default. */
    rateLimitPerMinute: integer('rate_limit_per_minute'),
    lastUsedAt: ts('last_used_at'),
    revokedAt: ts('revoked_at'),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('api_keys_hash_uq').on(t.keyHash), index('api_keys_workspace_idx').on(t.workspaceId)],
);

export const publicKeys = pgTable(
  'public_keys',
  {
    id: id(),
    workspaceId: workspaceRef(),
    key: text('key').notNull(),
    name: text('name').notNull().default(''),
    allowedOrigins: jsonb('allowed_origins').$type<string[]>().notNull().default([]),
    /** Identity verification (user_hash) is on by default (SPEC §3). */
    requireIdentityVerification: boolean('require_identity_verification').notNull().default(true),
    allowAnonymous: boolean('allow_anonymous').notNull().default(true),
    widgetConfigId: uuid('widget_config_id'),
    revokedAt: ts('revoked_at'),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('public_keys_key_uq').on(t.key), index('public_keys_workspace_idx').on(t.workspaceId)],
);

// ───────────────────────────── chat users and sessions ─────────────────────────────

export const chatUsers = pgTable(
  'chat_users',
  {
    id: id(),
    workspaceId: workspaceRef(),
    externalId: text('external_id').notNull(),
    name: text('name').notNull().default(''),
    email: text('email'),
    avatarUrl: text('avatar_url'),
    metadata: jsonb('metadata').$type<JsonObject>().notNull().default({}),
    role: text('role'),
    isAnonymous: boolean('is_anonymous').notNull().default(false),
    /** Set by the unsubscribe link of a notification email; no more missed-message emails (CAN-SPAM/GDPR). */
    emailOptOutAt: ts('email_opt_out_at'),
    erasedAt: ts('erased_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('chat_users_external_uq').on(t.workspaceId, t.externalId)],
);

export const widgetSessions = pgTable(
  'widget_sessions',
  {
    id: id(),
    workspaceId: workspaceRef(),
    chatUserId: uuid('chat_user_id')
      .notNull()
      .references(() => chatUsers.id, { onDelete: 'cascade' }),
    tokenHash: text('token_hash').notNull(),
    origin: text('origin'),
    expiresAt: ts('expires_at').notNull(),
    revokedAt: ts('revoked_at'),
    lastSeenAt: ts('last_seen_at'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('widget_sessions_token_uq').on(t.tokenHash),
    index('widget_sessions_user_idx').on(t.workspaceId, t.chatUserId),
  ],
);

// ───────────────────────────── widget configurations ─────────────────────────────

export const widgetConfigs = pgTable(
  'widget_configs',
  {
    id: id(),
    workspaceId: workspaceRef(),
    slug: text('slug').notNull(),
    name: text('name').notNull(),
    /** Participant roles and who may start a conversation. */
    roles: jsonb('roles').$type<JsonObject>().notNull().default({}),
    /** The policy set of SPEC §6 (masking, blocked terms, limits, switches); validated by core. */
    policies: jsonb('policies').$type<JsonObject>().notNull().default({}),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('widget_configs_slug_uq').on(t.workspaceId, t.slug)],
);

// ───────────────────────────── conversations and messages ─────────────────────────────

export const conversations = pgTable(
  'conversations',
  {
    id: id(),
    workspaceId: workspaceRef(),
    widgetConfigId: uuid('widget_config_id').references(() => widgetConfigs.id, { onDelete: 'set null' }),
    type: text('type', { enum: ['direct', 'group', 'support', 'demo'] }).notNull().default('direct'),
    subject: text('subject'),
    state: text('state'),
    name: text('name'),
    metadata: jsonb('metadata').$type<JsonObject>().notNull().default({}),
    status: text('status', { enum: ['open', 'closed'] }).notNull().default('open'),
    /** Highest seq handed out; bumped under a row lock in the same transaction as the insert (gapless). */
    lastSeq: integer('last_seq').notNull().default(0),
    lastMessageAt: ts('last_message_at'),
    assigneeAdminId: uuid('assignee_admin_id').references(() => admins.id, { onDelete: 'set null' }),
    closedAt: ts('closed_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    // (workspace, id), not (workspace, last_message_at): it serves the newest-first listing (ORDER BY id
    // DESC, UUIDv7) and keeps every column a send updates (last_seq, last_message_at, updated_at) out of the
    // indexes, so the seq bump is a HOT update — no new index entries, no bloat on hot conversations.
    // Unique (id alone is) so that messages can reference (workspace_id, id): see messages_conversation_fk.
    uniqueIndex('conversations_workspace_idx').on(t.workspaceId, t.id),
    index('conversations_subject_idx').on(t.workspaceId, t.subject),
  ],
);

export const participants = pgTable(
  'participants',
  {
    conversationId: uuid('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    workspaceId: workspaceRef(),
    chatUserId: uuid('chat_user_id')
      .notNull()
      .references(() => chatUsers.id, { onDelete: 'cascade' }),
    role: text('role').notNull().default('member'),
    lastReadSeq: integer('last_read_seq').notNull().default(0),
    /** Last seq a missed-message email covered, so one email per unread batch. */
    lastNotifiedSeq: integer('last_notified_seq').notNull().default(0),
    joinedAt: createdAt(),
    leftAt: ts('left_at'),
  },
  (t) => [
    primaryKey({ columns: [t.conversationId, t.chatUserId] }),
    index('participants_user_idx').on(t.workspaceId, t.chatUserId),
  ],
);

export interface MaskedInfo {
  /** Policy that changed the text, e.g. contact_info or blocked_terms. */
  rules: string[];
  /** What kinds of things were masked, e.g. email, phone, url. */
  kinds: string[];
  count: number;
}

export const messages = pgTable(
  'messages',
  {
    id: id(),
    // No foreign key of its own: messages_conversation_fk below covers the workspace too.
    workspaceId: uuid('workspace_id').notNull(),
    conversationId: uuid('conversation_id').notNull(),
    seq: integer('seq').notNull(),
    senderType: text('sender_type', { enum: ['user', 'agent', 'system'] }).notNull(),
    senderUserId: uuid('sender_user_id').references(() => chatUsers.id, { onDelete: 'set null' }),
    senderAdminId: uuid('sender_admin_id').references(() => admins.id, { onDelete: 'set null' }),
    type: text('type', { enum: ['text', 'system', 'attachment'] }).notNull().default('text'),
    content: text('content').notNull(),
    /** The text before policies changed it; shown to the sender's admins only, never to other participants. */
    originalContent: text('original_content'),
    masked: jsonb('masked').$type<MaskedInfo>(),
    clientId: text('client_id'),
    metadata: jsonb('metadata').$type<JsonObject>().notNull().default({}),
    isInternal: boolean('is_internal').notNull().default(false),
    isFlagged: boolean('is_flagged').notNull().default(false),
    createdAt: createdAt(),
    editedAt: ts('edited_at'),
    deletedAt: ts('deleted_at'),
    searchVector: tsvector('search_vector').generatedAlwaysAs(sql`to_tsvector('simple', content)`),
    /**
     * Read hints for the history page: set by triggers (migration 0005) when an attachment is linked to the
     * message or a reaction added, so a page looks up attachments and reactions only for the messages that
     * ever had one. Never cleared (a message whose reactions were all removed only costs the lookup again);
     * never false while a row exists, whatever path wrote it. Not part of the message's API shape.
     */
    hasAttachments: boolean('has_attachments').notNull().default(false),
    hasReactions: boolean('has_reactions').notNull().default(false),
  },
  (t) => [
    // One key for both: the message's workspace must be its conversation's (a key per column allowed a
    // message filed under another tenant than its conversation), and an insert runs one check instead of two.
    // The workspace key it replaces was the dearest check on the send path: every message of a tenant
    // KEY SHARE-locked the one workspace row (migration 0006; ≈ 4 µs of PostgreSQL CPU per message).
    foreignKey({ name: 'messages_conversation_fk', columns: [t.workspaceId, t.conversationId], foreignColumns: [conversations.workspaceId, conversations.id] }).onDelete('cascade'),
    index('messages_search_idx').using('gin', t.searchVector),
    uniqueIndex('messages_conversation_seq_uq').on(t.conversationId, t.seq),
    // A retried send with the same client_id from the same sender is the same message (F-14).
    uniqueIndex('messages_client_id_uq')
      .on(t.conversationId, t.senderType, t.senderUserId, t.clientId)
      .where(sql`${t.clientId} is not null`),
    index('messages_workspace_created_idx').on(t.workspaceId, t.createdAt),
    index('messages_sender_idx').on(t.workspaceId, t.senderUserId),
  ],
);

export const attachments = pgTable(
  'attachments',
  {
    id: id(),
    workspaceId: workspaceRef(),
    conversationId: uuid('conversation_id').references(() => conversations.id, { onDelete: 'cascade' }),
    messageId: uuid('message_id').references(() => messages.id, { onDelete: 'set null' }),
    uploaderUserId: uuid('uploader_user_id').references(() => chatUsers.id, { onDelete: 'set null' }),
    uploaderAdminId: uuid('uploader_admin_id').references(() => admins.id, { onDelete: 'set null' }),
    storageKey: text('storage_key').notNull(),
    thumbnailKey: text('thumbnail_key'),
    contentType: text('content_type').notNull(),
    extension: text('extension').notNull(),
    sizeBytes: integer('size_bytes').notNull(),
    originalName: text('original_name').notNull().default(''),
    width: integer('width'),
    height: integer('height'),
    createdAt: createdAt(),
  },
  (t) => [
    index('attachments_message_idx').on(t.workspaceId, t.messageId),
    index('attachments_orphan_idx').on(t.createdAt).where(sql`${t.messageId} is null`),
  ],
);

export const reactions = pgTable(
  'reactions',
  {
    messageId: uuid('message_id')
      .notNull()
      .references(() => messages.id, { onDelete: 'cascade' }),
    workspaceId: workspaceRef(),
    chatUserId: uuid('chat_user_id')
      .notNull()
      .references(() => chatUsers.id, { onDelete: 'cascade' }),
    emoji: text('emoji').notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.messageId, t.chatUserId, t.emoji] })],
);

// ───────────────────────────── moderation ─────────────────────────────

export const bans = pgTable(
  'bans',
  {
    id: id(),
    workspaceId: workspaceRef(),
    chatUserId: uuid('chat_user_id')
      .notNull()
      .references(() => chatUsers.id, { onDelete: 'cascade' }),
    reason: text('reason'),
    expiresAt: ts('expires_at'),
    liftedAt: ts('lifted_at'),
    createdAt: createdAt(),
  },
  (t) => [index('bans_user_idx').on(t.workspaceId, t.chatUserId)],
);

export const blocks = pgTable(
  'blocks',
  {
    workspaceId: workspaceRef(),
    blockerUserId: uuid('blocker_user_id')
      .notNull()
      .references(() => chatUsers.id, { onDelete: 'cascade' }),
    blockedUserId: uuid('blocked_user_id')
      .notNull()
      .references(() => chatUsers.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.blockerUserId, t.blockedUserId] }),
    // "Who blocked this sender?" runs on every send (realtime filtering).
    index('blocks_blocked_idx').on(t.workspaceId, t.blockedUserId),
  ],
);

export const reports = pgTable(
  'reports',
  {
    id: id(),
    workspaceId: workspaceRef(),
    messageId: uuid('message_id').references(() => messages.id, { onDelete: 'cascade' }),
    reporterUserId: uuid('reporter_user_id').references(() => chatUsers.id, { onDelete: 'set null' }),
    /** `report` (a user reported it) or `flag` (a policy flagged it). */
    source: text('source', { enum: ['report', 'flag'] }).notNull().default('report'),
    reason: text('reason'),
    status: text('status', { enum: ['open', 'resolved', 'dismissed'] }).notNull().default('open'),
    createdAt: createdAt(),
    resolvedAt: ts('resolved_at'),
  },
  (t) => [index('reports_queue_idx').on(t.workspaceId, t.status, t.createdAt)],
);

// ───────────────────────────── notifications and integrations ─────────────────────────────

export const emailTemplates = pgTable(
  'email_templates',
  {
    id: id(),
    /** Null for the platform-wide default of a template key. */
    workspaceId: uuid('workspace_id').references(() => workspaces.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    subject: text('subject').notNull(),
    html: text('html').notNull(),
    text: text('text').notNull(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('email_templates_key_uq').on(sql`coalesce(${t.workspaceId}::text, '')`, t.key)],
);

export const webhookEndpoints = pgTable(
  'webhook_endpoints',
  {
    id: id(),
    workspaceId: workspaceRef(),
    url: text('url').notNull(),
    events: jsonb('events').$type<string[]>().notNull().default([]),
    /** `whsec_…`; needed to sign, so kept (Standard Webhooks). */
    secret: text('secret').notNull(),
    previousSecret: text('previous_secret'),
    previousSecretExpiresAt: ts('previous_secret_expires_at'),
    consecutiveFailures: integer('consecutive_failures').notNull().default(0),
    disabledAt: ts('disabled_at'),
    createdAt: createdAt(),
  },
  (t) => [index('webhook_endpoints_workspace_idx').on(t.workspaceId)],
);

export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: id(),
    workspaceId: workspaceRef(),
    endpointId: uuid('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    /** The `webhook-id` header: stays the same across retries so receivers can dedupe. */
    eventId: text('event_id').notNull(),
    eventType: text('event_type').notNull(),
    payload: jsonb('payload').$type<JsonObject>().notNull(),
    status: text('status', { enum: ['pending', 'succeeded', 'failed', 'dead'] }).notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    responseStatus: integer('response_status'),
    latencyMs: integer('latency_ms'),
    lastError: text('last_error'),
    nextAttemptAt: ts('next_attempt_at'),
    deliveredAt: ts('delivered_at'),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_event_uq').on(t.endpointId, t.eventId),
    index('webhook_deliveries_log_idx').on(t.workspaceId, t.createdAt),
    // The worker's sweep for due deliveries across tenants; partial, so finished rows cost nothing.
    index('webhook_deliveries_due_idx').on(t.nextAttemptAt).where(sql`${t.status} in ('pending', 'failed')`),
  ],
);

export const auditLog = pgTable(
  'audit_log',
  {
    id: id(),
    workspaceId: uuid('workspace_id').references(() => workspaces.id, { onDelete: 'set null' }),
    actorType: text('actor_type', { enum: ['admin', 'api_key', 'system', 'chat_user'] }).notNull(),
    actorId: text('actor_id'),
    action: text('action').notNull(),
    targetType: text('target_type'),
    targetId: text('target_id'),
    ip: text('ip'),
    metadata: jsonb('metadata').$type<JsonObject>().notNull().default({}),
    createdAt: createdAt(),
  },
  (t) => [index('audit_log_workspace_idx').on(t.workspaceId, t.createdAt)],
);

/** Stripe-style idempotency (checklist F-14): same key + same body → the stored response. */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    workspaceId: workspaceRef(),
    principal: text('principal').notNull(),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    statusCode: integer('status_code'),
    responseBody: jsonb('response_body').$type<Json>(),
    createdAt: createdAt(),
    expiresAt: ts('expires_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.workspaceId, t.principal, t.key] }), index('idempotency_expires_idx').on(t.expiresAt)],
);

/**
 * Transactional outbox: side effects (webhooks, emails) are written in the same transaction as the change
 * that causes them, so a committed message never loses its side effects even when Redis is down.
 */
export const outbox = pgTable(
  'outbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    workspaceId: uuid('workspace_id').references(() => workspaces.id, { onDelete: 'cascade' }),
    topic: text('topic').notNull(),
    payload: jsonb('payload').$type<JsonObject>().notNull(),
    createdAt: createdAt(),
    dispatchedAt: ts('dispatched_at'),
    attempts: integer('attempts').notNull().default(0),
  },
  (t) => [index('outbox_pending_idx').on(t.id).where(sql`${t.dispatchedAt} is null`)],
);

/**
 * Background exports (checklist G-01): a request is a row; a worker job writes the file to storage under
 * workspaces/{id}/exports/{id}.{ext} and marks it ready; downloads use a short-lived signed URL.
 */
export const exportJobs = pgTable(
  'export_jobs',
  {
    id: id(),
    workspaceId: workspaceRef(),
    type: text('type', { enum: ['conversations', 'messages'] }).notNull(),
    format: text('format', { enum: ['jsonl', 'csv'] }).notNull(),
    /** since/until/conversation_id, as requested. */
    filter: jsonb('filter').$type<JsonObject>().notNull().default({}),
    status: text('status', { enum: ['pending', 'running', 'ready', 'failed'] }).notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    storageKey: text('storage_key'),
    rowCount: integer('row_count'),
    sizeBytes: integer('size_bytes'),
    error: text('error'),
    createdAt: createdAt(),
    startedAt: ts('started_at'),
    completedAt: ts('completed_at'),
  },
  (t) => [
    index('export_jobs_workspace_idx').on(t.workspaceId, t.createdAt),
    index('export_jobs_open_idx').on(t.createdAt).where(sql`${t.status} in ('pending', 'running')`),
  ],
);

export const systemSettings = pgTable('system_settings', {
  key: text('key').primaryKey(),
  value: jsonb('value').$type<Json>().notNull(),
  updatedAt: updatedAt(),
});
