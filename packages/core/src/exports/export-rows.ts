import { and, asc, eq, gt, gte, lt, type SQL } from 'drizzle-orm';
import { schema, type Executor } from '@reusable-chat/db';
import { serializeMessages } from '../messages/load-message-extras.ts';

/** Rows are read in keyset batches so an export of millions of rows streams in constant memory. */
const BATCH_SIZE = 500;

export interface ExportFilter {
  readonly since?: Date;
  readonly until?: Date;
  readonly conversationId?: string;
}

export type ExportRow = Record<string, string | number | boolean | null | Record<string, unknown> | unknown[]>;

export const CONVERSATION_EXPORT_COLUMNS = [
  'id', 'type', 'subject', 'state', 'name', 'status', 'metadata', 'last_seq', 'last_message_at', 'created_at', 'closed_at',
] as const;

export const MESSAGE_EXPORT_COLUMNS = [
  'id', 'conversation_id', 'seq', 'sender_type', 'sender_id', 'sender_external_id', 'type', 'content', 'client_id',
  'masked', 'attachments', 'created_at', 'edited_at', 'deleted_at', 'metadata',
] as const;

export async function* exportConversations(params: { db: Executor; workspaceId: string; filter?: ExportFilter }): AsyncGenerator<ExportRow> {
  const c = schema.conversations;
  let afterId: string | null = null;
  for (;;) {
    const conditions: SQL[] = [eq(c.workspaceId, params.workspaceId)];
    if (params.filter?.since) conditions.push(gte(c.createdAt, params.filter.since));
    if (params.filter?.until) conditions.push(lt(c.createdAt, params.filter.until));
    if (params.filter?.conversationId) conditions.push(eq(c.id, params.filter.conversationId));
    if (afterId) conditions.push(gt(c.id, afterId));
    const rows = await params.db.select().from(c).where(and(...conditions)).orderBy(asc(c.id)).limit(BATCH_SIZE);
    for (const r of rows) {
      yield {
        id: r.id,
        type: r.type,
        subject: r.subject,
        state: r.state,
        name: r.name,
        status: r.status,
        metadata: r.metadata,
        last_seq: r.lastSeq,
        last_message_at: r.lastMessageAt?.toISOString() ?? null,
        created_at: r.createdAt.toISOString(),
        closed_at: r.closedAt?.toISOString() ?? null,
      };
    }
    if (rows.length < BATCH_SIZE) return;
    afterId = rows.at(-1)!.id;
  }
}

/** Messages as participants see them (internal notes excluded), ordered by id (UUIDv7: creation order). */
export async function* exportMessages(params: { db: Executor; workspaceId: string; filter?: ExportFilter }): AsyncGenerator<ExportRow> {
  const m = schema.messages;
  let afterId: string | null = null;
  for (;;) {
    const conditions: SQL[] = [eq(m.workspaceId, params.workspaceId), eq(m.isInternal, false)];
    if (params.filter?.since) conditions.push(gte(m.createdAt, params.filter.since));
    if (params.filter?.until) conditions.push(lt(m.createdAt, params.filter.until));
    if (params.filter?.conversationId) conditions.push(eq(m.conversationId, params.filter.conversationId));
    if (afterId) conditions.push(gt(m.id, afterId));
    const rows = await params.db.select().from(m).where(and(...conditions)).orderBy(asc(m.id)).limit(BATCH_SIZE);
    const json = await serializeMessages({ db: params.db, workspaceId: params.workspaceId, messages: rows });
    for (const j of json) {
      yield {
        id: j.id,
        conversation_id: j.conversation_id,
        seq: j.seq,
        sender_type: j.sender.type,
        sender_id: j.sender.id,
        sender_external_id: j.sender.external_id ?? null,
        type: j.type,
        content: j.content,
        client_id: j.client_id,
        masked: j.masked as Record<string, unknown> | null,
        attachments: j.attachments,
        created_at: j.created_at,
        edited_at: j.edited_at,
        deleted_at: j.deleted_at,
        metadata: j.metadata,
      };
    }
    if (rows.length < BATCH_SIZE) return;
    afterId = rows.at(-1)!.id;
  }
}

/**
 * One CSV line (RFC 4180 quoting). Cells that a spreadsheet would run as a formula (=, +, -, @, tab, CR)
 * are prefixed with an apostrophe (OWASP "CSV injection"); objects are written as JSON.
 */
export function toCsvLine(values: readonly unknown[]): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
