import { sql } from 'drizzle-orm';
import type { Executor } from '@reusable-chat/db';
import type { ConversationType } from '../conversations/manage-conversations.ts';
import { AppError, notFound } from '../errors/registry.ts';
import { cursorNumber, cursorString, decodeCursor, encodeCursor, type CursorScope } from '../shared/cursor.ts';
import type { AttachmentSerializer } from './load-message-extras.ts';
import { toAttachmentSummaryJson, type MessageJson, type StoredAttachmentRow } from './message-json.ts';

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

/** The one row of the page statement (none when the viewer may not read the conversation). */
interface PageRow {
  /** Rows the statement saw for the conversation: 0 means it is not readable. */
  found: number;
  /** Messages read (the page plus at most one more, which says there is a next page). */
  taken: number;
  /** Lowest and highest seq on the page (null when empty), for next_cursor. */
  first_seq: number | null;
  last_seq: number | null;
  /** The page's messages as JSON text, ascending seq, comma-separated (null when empty); see MARK. */
  page: string | null;
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
 * index, their senders, and their attachments and reactions. A conversation the viewer may not read is 404
 * (T-03, T-05, T-09), whatever cursor came with it.
 *
 * PostgreSQL writes the page's JSON text itself (the same bytes JSON.stringify(toMessageJson(…)) writes, see
 * messageJsonSql), so an HTTP route sends it on without building, parsing or re-serialising 50 objects:
 * listMessagesJson returns the response body, listMessages the parsed objects.
 */
export async function listMessagesJson(params: ListMessagesParams): Promise<string> {
  const page = await readPage(params);
  return `{"data":[${page.text}],"next_cursor":${page.nextCursor === null ? 'null' : JSON.stringify(page.nextCursor)}}`;
}

/** The same page as objects (core callers, tests): parsed from the very text the HTTP API sends. */
export async function listMessages(params: ListMessagesParams): Promise<{ data: MessageJson[]; nextCursor: string | null }> {
  const page = await readPage(params);
  return { data: JSON.parse(`[${page.text}]`) as MessageJson[], nextCursor: page.nextCursor };
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

async function readPage(params: ListMessagesParams): Promise<{ text: string; nextCursor: string | null }> {
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
    const row = await pageRow(db, { workspaceId, conversationId, viewer, includeInternal: false, direction: 'backward', boundary: null, limit: 0 });
    if (!row) throw notFound('Conversation');
    throw err;
  }
  const { direction, boundary } = position;

  const row = await pageRow(db, {
    workspaceId,
    conversationId,
    viewer,
    includeInternal: params.includeInternal === true,
    direction,
    boundary,
    limit,
  });
  if (!row) throw notFound('Conversation');
  let text = row.page ?? '';
  if (text.includes(MARK)) text = resolveMarks(text, params.serializeAttachment ?? toAttachmentSummaryJson);
  let nextCursor: string | null = null;
  if (Number(row.taken) > limit && row.first_seq !== null && row.last_seq !== null) {
    nextCursor =
      direction === 'backward'
        ? encodeCursor(scope, { d: 'b', s: Number(row.first_seq) })
        : encodeCursor(scope, { d: 'f', s: Number(row.last_seq) });
  }
  return { text, nextCursor };
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
 * The page statement carries its values as literals, not bind parameters. postgres.js sends a statement with
 * parameters as Parse+Describe, waits for the parameter types, then Bind+Execute: two round trips, unless the
 * statement is prepared (DATABASE_PREPARED_STATEMENTS, off by default for transaction-mode poolers). Without
 * parameters the whole exchange is one write and one answer, with or without that setting, and nothing is
 * left prepared on the connection. Only values of a closed shape are ever inlined, each checked right here
 * (a UUID, a safe integer, a conversation type), so no text from a request reaches the SQL.
 */
function uuidLiteral(value: string): string {
  // Not a UUID cannot name a row: the same answer as any id that does not exist.
  if (!UUID.test(value)) throw notFound('Conversation');
  return `'${value.toLowerCase()}'::uuid`;
}

function intLiteral(value: number): string {
  if (!Number.isSafeInteger(value)) throw new AppError('invalid_cursor');
  return String(value);
}

function conversationTypeLiteral(value: ConversationType): string {
  if (!CONVERSATION_TYPES.includes(value)) throw notFound('Conversation');
  return `'${value}'`;
}

/*
 * The JSON text of a message, written by PostgreSQL byte for byte as JSON.stringify(toMessageJson(…)) writes it
 * (same keys in the same order, no whitespace; tests/api/v1/history-json.test.ts compares the two):
 * - strings through to_json(text), whose escaping is JSON.stringify's (\" \\ \b \f \n \r \t, other controls as
 *   lowercase \u00xx, nothing else);
 * - timestamps as toISOString() writes them: UTC, milliseconds truncated (as a Date parsed from the column is);
 * - what Node must still write itself travels between two MARK characters, a kind letter first: the jsonb
 *   columns when not trivial (jsonb's text has spaces and its own number forms: J = JSON.stringify(JSON.parse(…)),
 *   M = the same with null as {}), and attachments (A: the stored rows, for the caller's serializer, which may
 *   sign URLs). MARK (U+0001) cannot occur otherwise: JSON text escapes every control character.
 */
const MARK = '\u0001';

function isoSql(column: string): string {
  return `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}

const MESSAGE_JSON_SQL = `'{"id":"' || m.id || '","conversation_id":"' || m.conversation_id || '","seq":' || m.seq
  || ',"sender":' || case m.sender_type
       when 'user' then '{"type":"user","id":' || coalesce('"' || m.sender_user_id || '"', 'null')
         || case when u.external_id is not null then ',"external_id":' || to_json(u.external_id) || ',"name":' || to_json(coalesce(u.name, '')) else '' end || '}'
       when 'agent' then '{"type":"agent","id":' || coalesce('"' || m.sender_admin_id || '"', 'null')
         || case when ad.name is not null then ',"name":' || to_json(ad.name) else '' end || '}'
       else '{"type":"system","id":null}' end
  || ',"type":' || to_json(m.type) || ',"content":' || case when m.deleted_at is null then to_json(m.content)::text else '""' end
  || ',"attachments":' || case when m.deleted_at is null then coalesce((
       select chr(1) || 'A' || json_agg(json_build_object(
                'id', a.id, 'workspaceId', a.workspace_id, 'conversationId', a.conversation_id, 'messageId', a.message_id,
                'uploaderUserId', a.uploader_user_id, 'uploaderAdminId', a.uploader_admin_id, 'storageKey', a.storage_key,
                'thumbnailKey', a.thumbnail_key, 'contentType', a.content_type, 'extension', a.extension,
                'sizeBytes', a.size_bytes, 'originalName', a.original_name, 'width', a.width, 'height', a.height,
                'createdAt', a.created_at) order by a.created_at, a.id)::text || chr(1)
       from attachments a where a.workspace_id = m.workspace_id and a.message_id = m.id), '[]') else '[]' end
  || ',"reactions":' || case when m.deleted_at is null then coalesce((
       select '[' || string_agg('{"emoji":' || to_json(r.emoji)::text || ',"count":' || r.count || ',"user_ids":[' || r.user_ids || ']}', ',' order by r.first_at, r.emoji) || ']'
       from (select emoji, count(*) as count, min(created_at) as first_at,
                    string_agg('"' || chat_user_id || '"', ',' order by created_at, chat_user_id) as user_ids
             from reactions where message_id = m.id and workspace_id = m.workspace_id group by emoji) r), '[]') else '[]' end
  || ',"client_id":' || coalesce(to_json(m.client_id)::text, 'null')
  || ',"created_at":"' || ${isoSql('m.created_at')} || '"'
  || ',"masked":' || case when m.masked is null then 'null' else chr(1) || 'J' || m.masked::text || chr(1) end
  || ',"edited_at":' || coalesce('"' || ${isoSql('m.edited_at')} || '"', 'null')
  || ',"deleted_at":' || coalesce('"' || ${isoSql('m.deleted_at')} || '"', 'null')
  || ',"metadata":' || case when m.metadata = '{}'::jsonb then '{}' else chr(1) || 'M' || m.metadata::text || chr(1) end
  || '}'`;

/** Writes the parts of the page text PostgreSQL left to Node (see MARK). */
function resolveMarks(text: string, serializeAttachment: AttachmentSerializer): string {
  const parts = text.split(MARK);
  for (let i = 1; i < parts.length; i += 2) {
    const part = parts[i]!;
    const value: unknown = JSON.parse(part.slice(1));
    switch (part[0]) {
      case 'J':
        parts[i] = JSON.stringify(value ?? null);
        break;
      case 'M':
        parts[i] = JSON.stringify(value ?? {});
        break;
      case 'A':
        parts[i] = JSON.stringify(
          (value as (Omit<StoredAttachmentRow, 'createdAt'> & { createdAt: string })[]).map((a) =>
            serializeAttachment({ ...a, createdAt: new Date(a.createdAt) }),
          ),
        );
        break;
      default:
        throw new Error(`unknown part in a message page: ${part[0]}`);
    }
  }
  return parts.join('');
}

/**
 * The page statement (one round trip, see above): one row when the viewer may read the conversation, none
 * otherwise; `limit` 0 only checks access. It reads `limit` + 1 messages (newest first for a backward page,
 * oldest first for a forward one) and aggregates the first `limit` of them, in ascending seq, into the page text.
 */
async function pageRow(
  db: Executor,
  q: {
    workspaceId: string;
    conversationId: string;
    viewer: MessageListViewer;
    includeInternal: boolean;
    direction: 'backward' | 'forward';
    boundary: number | null;
    limit: number;
  },
): Promise<PageRow | undefined> {
  const workspaceId = uuidLiteral(q.workspaceId);
  const conversationId = uuidLiteral(q.conversationId);
  let messageFilters = '';
  if (!q.includeInternal) messageFilters += ' and m.is_internal = false';
  if (q.boundary !== null) messageFilters += `${q.direction === 'backward' ? ' and m.seq < ' : ' and m.seq > '}${intLiteral(q.boundary)}`;
  let conversationFilters = '';
  if (q.viewer.conversationType) conversationFilters += ` and c.type = ${conversationTypeLiteral(q.viewer.conversationType)}`;
  if (q.viewer.participantUserId) {
    const viewerId = uuidLiteral(q.viewer.participantUserId);
    messageFilters += ` and not exists (select 1 from blocks b where b.workspace_id = m.workspace_id and b.blocker_user_id = ${viewerId} and b.blocked_user_id = m.sender_user_id)`;
    conversationFilters += ` and exists (select 1 from participants pt where pt.conversation_id = c.id and pt.workspace_id = c.workspace_id and pt.chat_user_id = ${viewerId} and pt.left_at is null)`;
  }
  const order = q.direction === 'backward' ? 'desc' : 'asc';
  const limit = intLiteral(q.limit);

  // count(*) is 0 only when the conversation row is not there (not readable): the left join yields one row for
  // a readable conversation even without messages. Attachments and reactions are skipped for deleted messages
  // (their JSON drops them anyway); reactions are grouped per emoji in order of the first reaction, user ids in
  // reaction order.
  const statement = `
    select count(*)::int as found, count(p.seq)::int as taken,
           min(p.seq) filter (where p.n <= ${limit}) as first_seq, max(p.seq) filter (where p.n <= ${limit}) as last_seq,
           string_agg(p.j, ',' order by p.seq) filter (where p.n <= ${limit}) as page
    from conversations c
    left join lateral (
      select m.seq, row_number() over (order by m.seq ${order}) as n, ${MESSAGE_JSON_SQL} as j
      from messages m
      left join chat_users u on u.id = m.sender_user_id and u.workspace_id = m.workspace_id
      left join admins ad on ad.id = m.sender_admin_id
      where m.workspace_id = c.workspace_id and m.conversation_id = c.id${messageFilters}
      order by m.seq ${order}
      limit ${intLiteral(q.limit + 1)}
    ) p on true
    where c.id = ${conversationId} and c.workspace_id = ${workspaceId}${conversationFilters}`;
  const result = (await db.execute(sql.raw(statement))) as unknown;
  // postgres.js answers an array of rows, PGlite an object holding them.
  const rows = (Array.isArray(result) ? result : (result as { rows: PageRow[] }).rows) as PageRow[];
  const row = rows[0];
  return row && Number(row.found) > 0 ? row : undefined;
}
