import { preparedRows, type Executor, type JsonObject, type MaskedInfo } from '@reusable-chat/db';
import type { ConversationType } from '../conversations/manage-conversations.ts';
import { AppError, notFound } from '../errors/registry.ts';
import { cursorNumber, cursorString, decodeCursor, encodeCursor, type CursorScope } from '../shared/cursor.ts';
import type { AttachmentSerializer } from './load-message-extras.ts';
import { toAttachmentSummaryJson, toMessageJson, type MessageJson, type ReactionSummary, type StoredAttachmentRow } from './message-json.ts';

export const MESSAGE_PAGE_MAX = 100;

/** Who reads the page, beyond "someone allowed into the workspace". */
export interface MessageListViewer {
  /**
   * A chat user reading as a participant (widget): the page is 404 unless they are a current participant,
   * and messages of users they blocked are left out (SPEC §6, "not delivered to the blocker").
   */
  readonly participantUserId?: string;
  /** Only a conversation of this type is visible (demo keys see demo rooms only); anything else is 404. */
  readonly conversationType?: ConversationType;
}

/** One row of the page statement: the conversation always, a message when the page is not empty. */
interface PageRow {
  id: string | null;
  conversation_id: string;
  seq: number;
  sender_type: 'user' | 'agent' | 'system';
  sender_user_id: string | null;
  sender_admin_id: string | null;
  type: 'text' | 'system' | 'attachment';
  content: string;
  masked: unknown;
  client_id: string | null;
  metadata: unknown;
  /** UTC, as PostgreSQL writes a timestamp without time zone (see isoFromUtcText). */
  created_at: string;
  edited_at: string | null;
  deleted_at: string | null;
  user_external_id: string | null;
  user_name: string | null;
  admin_name: string | null;
  attachments: unknown;
  reactions: unknown;
}

/**
 * One page of a conversation's messages, always in ascending seq order (SPEC §4):
 * - default / `cursor` from a backward page: the newest messages (older than the cursor), `next_cursor`
 *   pages further back;
 * - `afterSeq`: catch-up after a reconnect (SPEC §5) — exactly the messages with seq > n, oldest first;
 *   `next_cursor` continues forward when the gap is larger than one page.
 *
 * The whole page is ONE statement (one round trip): the access check (conversation in the workspace, of the
 * viewer's allowed type, the viewer a current participant), the messages through the (conversation_id, seq)
 * index, their senders, and their attachments and reactions aggregated per message as JSON. A conversation
 * the viewer may not read is 404 (T-03, T-05, T-09), whatever cursor came with it.
 *
 * listMessagesJson answers the HTTP response body itself, written straight from the rows (messageText): the
 * same bytes as JSON.stringify({ data: listMessages(…).data, next_cursor }) without building the objects.
 * (PostgreSQL writing the JSON was tried: it cost the database more CPU per page than it saved Node.)
 */
export async function listMessagesJson(params: ListMessagesParams): Promise<string> {
  const page = await readPage(params);
  const serializeAttachment = params.serializeAttachment ?? toAttachmentSummaryJson;
  // Joined, not appended: join writes one flat string, where += built a rope of a thousand pieces that the
  // HTTP layer then flattened into a copy (the page's largest allocations, measured).
  const parts = new Array<string>(page.rows.length);
  for (let i = 0; i < page.rows.length; i++) parts[i] = messageText(page.rows[i]!, serializeAttachment);
  return `{"data":[${parts.join(',')}],"next_cursor":${page.nextCursor === null ? 'null' : JSON.stringify(page.nextCursor)}}`;
}

/** The same page as message objects (core callers). */
export async function listMessages(params: ListMessagesParams): Promise<{ data: MessageJson[]; nextCursor: string | null }> {
  const page = await readPage(params);
  const serializeAttachment = params.serializeAttachment ?? toAttachmentSummaryJson;
  return { data: page.rows.map((r) => toMessageJsonFromRow(r, serializeAttachment)), nextCursor: page.nextCursor };
}

export interface ListMessagesParams {
  db: Executor;
  workspaceId: string;
  conversationId: string;
  cursorSecret: string;
  limit?: number;
  cursor?: string;
  afterSeq?: number;
  includeInternal?: boolean;
  viewer?: MessageListViewer;
  serializeAttachment?: AttachmentSerializer;
}

/** The page's rows in ascending seq, and the cursor onwards. */
async function readPage(params: ListMessagesParams): Promise<{ rows: PageRow[]; nextCursor: string | null }> {
  const { db, workspaceId, conversationId } = params;
  const viewer = params.viewer ?? {};
  const limit = Math.min(Math.max(params.limit ?? 50, 1), MESSAGE_PAGE_MAX);
  const scope: CursorScope = { secret: params.cursorSecret, workspaceId, list: `messages:${conversationId}` };

  let position: { direction: 'backward' | 'forward'; boundary: number | null };
  try {
    position = pagePosition(scope, params.cursor, params.afterSeq);
  } catch (err) {
    // A bad cursor for a conversation the caller may not see is still 404: the answer never tells apart
    // "exists elsewhere" from "bad cursor" (the access check used to run first; keep that order).
    const rows = await pageRows(db, { workspaceId, conversationId, viewer, includeInternal: false, direction: 'backward', boundary: null, take: 0 });
    if (rows.length === 0) throw notFound('Conversation');
    throw err;
  }
  const { direction, boundary } = position;

  const rows = await pageRows(db, {
    workspaceId,
    conversationId,
    viewer,
    includeInternal: params.includeInternal === true,
    direction,
    boundary,
    take: limit + 1,
  });
  if (rows.length === 0) throw notFound('Conversation');
  // The conversation with an empty page comes back as one row without a message.
  const messages = rows[0]!.id === null ? [] : rows;
  const hasMore = messages.length > limit;
  const page = messages.slice(0, limit);
  if (direction === 'backward') page.reverse();
  let nextCursor: string | null = null;
  if (hasMore && page.length > 0) {
    nextCursor =
      direction === 'backward' ? encodeCursor(scope, { d: 'b', s: page[0]!.seq }) : encodeCursor(scope, { d: 'f', s: page.at(-1)!.seq });
  }
  return { rows: page, nextCursor };
}

function pagePosition(
  scope: CursorScope,
  cursor: string | undefined,
  afterSeq: number | undefined,
): { direction: 'backward' | 'forward'; boundary: number | null } {
  if (!cursor) return { direction: afterSeq !== undefined ? 'forward' : 'backward', boundary: afterSeq ?? null };
  if (afterSeq !== undefined) throw new AppError('validation_failed', 'Use either a cursor or after_seq, not both.');
  const position = decodeCursor(scope, cursor);
  const d = cursorString(position, 'd');
  if (d !== 'b' && d !== 'f') throw new AppError('invalid_cursor');
  return { direction: d === 'b' ? 'backward' : 'forward', boundary: cursorNumber(position, 's') };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CONVERSATION_TYPES: readonly ConversationType[] = ['direct', 'group', 'support', 'demo'];

/*
 * The page statement is a server-side prepared statement (one per shape: direction, boundary, viewer filters,
 * row limit), its values bind parameters: PostgreSQL plans each shape a few times and then keeps its generic
 * plan, where an inlined statement was planned on every page — planning took longer than running it (≈ 0.5
 * against 0.26 ms in EXPLAIN ANALYZE). Prepared, the page is one round trip (Bind + Execute).
 * The row limit is written into the text, from a few sizes (PAGE_ROW_LIMITS), not bound: with `limit $3` the
 * generic plan's cost is estimated for an unknown limit, dearer than every custom plan, so PostgreSQL kept
 * planning each page afresh (pg_prepared_statements: 1 050 custom plans, 0 generic; 0.49 ms of PostgreSQL CPU
 * per page against 0.26 ms with the generic plan). A handful of sizes keeps the statements per connection few
 * whatever limits clients ask for; readPage keeps the first `take` rows. The send path's
 * statements are prepared as well, so a pooler in front of PostgreSQL must support prepared statements
 * (pgbouncer ≥ 1.21 with max_prepared_statements) either way. The ids are checked here before they reach
 * PostgreSQL: something that is not a UUID names no row (404), as any unknown id.
 */
function uuidValue(value: string): string {
  if (!UUID.test(value)) throw notFound('Conversation');
  return value.toLowerCase();
}

/** Row limits written into the page statement: `take` (a page plus one) rounds up to the next of these. */
const PAGE_ROW_LIMITS = [11, 26, 51, MESSAGE_PAGE_MAX + 1] as const;

function pageRowLimit(take: number): number {
  if (take === 0) return 0;
  const limit = Number.isSafeInteger(take) && take > 0 ? PAGE_ROW_LIMITS.find((l) => l >= take) : undefined;
  if (limit === undefined) throw new Error(`page of ${take} rows is out of range`);
  return limit;
}

function intValue(value: number): number {
  if (!Number.isSafeInteger(value)) throw new AppError('invalid_cursor');
  return value;
}

/**
 * The page statement (one round trip, see above). `take` 0 only checks access. Rows come newest first for a backward page and oldest
 * first for a forward one; a readable conversation always yields at least one row (message columns null when
 * the page is empty), an unreadable one none. At least `take` rows come back when that many exist, and up to
 * its rounded-up statement limit (pageRowLimit): the caller reads the first `take`.
 */
async function pageRows(
  db: Executor,
  q: {
    workspaceId: string;
    conversationId: string;
    viewer: MessageListViewer;
    includeInternal: boolean;
    direction: 'backward' | 'forward';
    boundary: number | null;
    take: number;
  },
): Promise<PageRow[]> {
  const params: unknown[] = [uuidValue(q.workspaceId), uuidValue(q.conversationId)];
  const param = (value: unknown, type: string) => {
    params.push(value);
    return `$${params.length}::${type}`;
  };
  let messageFilters = '';
  if (!q.includeInternal) messageFilters += ' and m.is_internal = false';
  if (q.boundary !== null) messageFilters += `${q.direction === 'backward' ? ' and m.seq < ' : ' and m.seq > '}${param(intValue(q.boundary), 'int')}`;
  let conversationFilters = '';
  if (q.viewer.conversationType) {
    if (!CONVERSATION_TYPES.includes(q.viewer.conversationType)) throw notFound('Conversation');
    conversationFilters += ` and c.type = ${param(q.viewer.conversationType, 'text')}`;
  }
  if (q.viewer.participantUserId) {
    const viewerId = param(uuidValue(q.viewer.participantUserId), 'uuid');
    messageFilters += ` and not exists (select 1 from blocks b where b.workspace_id = m.workspace_id and b.blocker_user_id = ${viewerId} and b.blocked_user_id = m.sender_user_id)`;
    conversationFilters += ` and exists (select 1 from participants pt where pt.conversation_id = c.id and pt.workspace_id = c.workspace_id and pt.chat_user_id = ${viewerId} and pt.left_at is null)`;
  }
  const order = q.direction === 'backward' ? 'desc' : 'asc';

  // Attachments and reactions are looked up only for messages flagged as ever having had one (has_attachments,
  // has_reactions: kept by triggers, migration 0005) — most messages have neither, and two correlated lookups
  // per message were ≈ 35 % of the page's PostgreSQL CPU. They are skipped for deleted messages (their JSON
  // drops them anyway). Reactions are grouped per emoji in order of the first reaction, user ids in reaction
  // order (as the JSON always listed them).
  const statement = `
    select p.*
    from conversations c
    left join lateral (
      select m.id, m.conversation_id, m.seq, m.sender_type, m.sender_user_id, m.sender_admin_id, m.type, m.content,
             m.masked, m.client_id, m.metadata, (m.created_at at time zone 'UTC')::text as created_at,
             (m.edited_at at time zone 'UTC')::text as edited_at, (m.deleted_at at time zone 'UTC')::text as deleted_at,
             u.external_id as user_external_id, u.name as user_name, ad.name as admin_name,
             case when m.deleted_at is null and m.has_attachments then (
               select json_agg(json_build_object(
                        'id', a.id, 'workspaceId', a.workspace_id, 'conversationId', a.conversation_id, 'messageId', a.message_id,
                        'uploaderUserId', a.uploader_user_id, 'uploaderAdminId', a.uploader_admin_id, 'storageKey', a.storage_key,
                        'thumbnailKey', a.thumbnail_key, 'contentType', a.content_type, 'extension', a.extension,
                        'sizeBytes', a.size_bytes, 'originalName', a.original_name, 'width', a.width, 'height', a.height,
                        'createdAt', a.created_at) order by a.created_at, a.id)
               from attachments a where a.workspace_id = m.workspace_id and a.message_id = m.id) end as attachments,
             case when m.deleted_at is null and m.has_reactions then (
               select json_agg(json_build_object('emoji', r.emoji, 'count', r.count, 'user_ids', r.user_ids) order by r.first_at, r.emoji)
               from (select emoji, count(*) as count, min(created_at) as first_at,
                            json_agg(chat_user_id order by created_at, chat_user_id) as user_ids
                     from reactions where message_id = m.id and workspace_id = m.workspace_id group by emoji) r) end as reactions
      from messages m
      left join chat_users u on u.id = m.sender_user_id and u.workspace_id = m.workspace_id
      left join admins ad on ad.id = m.sender_admin_id
      where m.workspace_id = c.workspace_id and m.conversation_id = c.id${messageFilters}
      order by m.seq ${order}
      limit ${pageRowLimit(q.take)}
    ) p on true
    where c.id = $2::uuid and c.workspace_id = $1::uuid${conversationFilters}
    order by p.seq ${order}`;
  return preparedRows<PageRow>(db, statement, params);
}

function json(value: unknown): unknown {
  return typeof value === 'string' ? JSON.parse(value) : value;
}

/** `2026-11-24 10:43:13[.123456]`: a UTC timestamp as PostgreSQL writes it (DateStyle ISO, as postgres.js requires). */
const UTC_TIMESTAMP_TEXT = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,6})?$/;

/**
 * toISOString() of the Date the driver would have made of the column (milliseconds truncated, as V8 parses
 * them), written from the text without a Date and its parsing (both showed in the page's CPU profile).
 * Anything else (years past 9999, BC, infinity) takes the Date path and throws like it always did.
 */
function isoFromUtcText(text: string): string {
  if (!UTC_TIMESTAMP_TEXT.test(text)) return new Date(`${text.replace(' ', 'T')}Z`).toISOString();
  const ms = text.length === 19 ? '000' : `${text.slice(20, 23)}00`.slice(0, 3);
  return `${text.slice(0, 10)}T${text.slice(11, 19)}.${ms}Z`;
}

function date(text: string): Date {
  return new Date(isoFromUtcText(text));
}

function toMessageJsonFromRow(r: PageRow, serializeAttachment: AttachmentSerializer): MessageJson {
  const attachments = (json(r.attachments) as (Omit<StoredAttachmentRow, 'createdAt'> & { createdAt: string })[] | null) ?? [];
  return toMessageJson(
    {
      id: r.id!,
      conversationId: r.conversation_id,
      seq: r.seq,
      senderType: r.sender_type,
      senderUserId: r.sender_user_id,
      senderAdminId: r.sender_admin_id,
      type: r.type,
      content: r.content,
      masked: json(r.masked) as MaskedInfo | null,
      clientId: r.client_id,
      metadata: (json(r.metadata) ?? {}) as JsonObject,
      createdAt: date(r.created_at),
      editedAt: r.edited_at === null ? null : date(r.edited_at),
      deletedAt: r.deleted_at === null ? null : date(r.deleted_at),
    },
    {
      senderUser:
        r.sender_user_id && r.user_external_id !== null ? { id: r.sender_user_id, externalId: r.user_external_id, name: r.user_name ?? '' } : null,
      senderAdmin: r.sender_admin_id && r.admin_name !== null ? { id: r.sender_admin_id, name: r.admin_name } : null,
      attachments: attachments.map((a) => serializeAttachment({ ...a, createdAt: new Date(a.createdAt) })),
      reactions: (json(r.reactions) as ReactionSummary[] | null) ?? [],
    },
  );
}

/** `"…"` for a uuid column (hex and dashes only: nothing to escape), or null. */
function idText(value: string | null): string {
  return value === null ? 'null' : `"${value}"`;
}

function isoText(text: string | null): string {
  return text === null ? 'null' : `"${isoFromUtcText(text)}"`;
}

/**
 * One message's JSON text, written directly: byte for byte JSON.stringify(toMessageJsonFromRow(r)) — the same
 * keys in the same order, the same values (tests/api/v1/history-json.test.ts holds the two together).
 */
function messageText(r: PageRow, serializeAttachment: AttachmentSerializer): string {
  const deleted = r.deleted_at !== null;
  let sender: string;
  if (r.sender_type === 'user') {
    sender = `{"type":"user","id":${idText(r.sender_user_id)}`;
    if (r.sender_user_id && r.user_external_id !== null) sender += `,"external_id":${JSON.stringify(r.user_external_id)},"name":${JSON.stringify(r.user_name ?? '')}`;
    sender += '}';
  } else if (r.sender_type === 'agent') {
    sender = `{"type":"agent","id":${idText(r.sender_admin_id)}`;
    if (r.sender_admin_id && r.admin_name !== null) sender += `,"name":${JSON.stringify(r.admin_name)}`;
    sender += '}';
  } else {
    sender = '{"type":"system","id":null}';
  }
  let attachments = '[]';
  let reactions = '[]';
  if (!deleted) {
    const rows = json(r.attachments) as (Omit<StoredAttachmentRow, 'createdAt'> & { createdAt: string })[] | null;
    if (rows !== null && rows.length > 0) attachments = JSON.stringify(rows.map((a) => serializeAttachment({ ...a, createdAt: new Date(a.createdAt) })));
    const summary = json(r.reactions) as ReactionSummary[] | null;
    if (summary !== null && summary.length > 0) reactions = JSON.stringify(summary);
  }
  return (
    `{"id":${idText(r.id)},"conversation_id":${idText(r.conversation_id)},"seq":${r.seq},"sender":${sender},"type":${JSON.stringify(r.type)}` +
    `,"content":${deleted ? '""' : JSON.stringify(r.content)},"attachments":${attachments},"reactions":${reactions}` +
    `,"client_id":${r.client_id === null ? 'null' : JSON.stringify(r.client_id)},"created_at":${isoText(r.created_at)}` +
    `,"masked":${JSON.stringify(json(r.masked) ?? null)},"edited_at":${isoText(r.edited_at)},"deleted_at":${isoText(r.deleted_at)}` +
    `,"metadata":${JSON.stringify(json(r.metadata) ?? {})}}`
  );
}
