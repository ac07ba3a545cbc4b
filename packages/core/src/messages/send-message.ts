import { and, eq, inArray, isNull, or, sql, type SQL } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import { flatTable, releaseRows, schema, sendPipelineFor, type Database, type Executor, type JsonObject, type MaskedInfo } from '@reusable-chat/db';
import type { DomainEventBus } from '../events/domain-events.ts';
import { AppError, notFound } from '../errors/registry.ts';
import { OUTBOX_NOTIFY_CHANNEL, OUTBOX_TOPICS } from '../outbox/enqueue-outbox.ts';
import { recordDomainEventInOutbox } from '../outbox/domain-event-outbox.ts';
import type { ConversationRow } from '../conversations/conversation-json.ts';
import type { ChatUser } from '../users/user-json.ts';
import { toWebhookEvent } from '../webhooks/webhook-events.ts';
import { serializeMessages, type AttachmentSerializer } from './load-message-extras.ts';
import { toMessageJson, type MessageJson, type MessageRow } from './message-json.ts';
import {
  codePointLength,
  DEFAULT_MAX_MESSAGE_LENGTH,
  type MessagePolicyHook,
  type MessagePolicyResult,
  type MessageSender,
} from './message-policy-hook.ts';
import { deepFreeze } from '../shared/deep-freeze.ts';
import { settleJson } from '../shared/json-text.ts';

export interface SendMessageResult {
  readonly message: MessageRow;
  readonly json: MessageJson;
  /** False when the client_id matched an earlier message: nothing new was stored (F-14). */
  readonly created: boolean;
}

/**
 * A chat user named by the tenant's external_id (consumer API): resolved in the same read as the
 * conversation, so the route needs no lookup of its own.
 */
export type SendMessageSender = MessageSender | { readonly type: 'user'; readonly externalId: string };

/** What the pipeline read before it calls the route's `admit` check. */
export interface SendAdmission {
  readonly conversation: ConversationRow;
  /**
   * `policies` of the conversation's own widget configuration; null when it has none (routes then apply
   * the defaults). Undefined for non-user senders (not read).
   */
  readonly conversationPolicies: unknown;
}

/** Thrown inside the transaction to roll back the seq bump when the client_id already exists. */
class DuplicateClientId extends Error {
  constructor(readonly existing: MessageRow) {
    super('duplicate client_id');
  }
}

const noPolicy: MessagePolicyHook = async (ctx) => ({ content: ctx.content });

/**
 * The message pipeline every API family uses (ARCHITECTURE.md "a message's path"):
 * validate → policy hook → insert with the next seq in one transaction → `message.created` after commit.
 *
 * A chat user's send is two statements (bench/scenarios/round-trips.ts counts them):
 * 1. one read (loadSendContext): conversation, sender, participation, ban, blockers, widget policies, an
 *    earlier message with the same client_id and — for a widget session — whether the session is still
 *    usable, so a cached bearer check is re-validated exactly, on every send;
 * 2. one write (storeInOneStatement): seq bump, message insert, outbox row and the sender's read marker as
 *    data-modifying CTEs of a single statement — one implicit transaction, one round trip, and the
 *    conversation's row lock is held only while PostgreSQL executes it.
 * Sends with attachments, flags, internal notes or non-user senders take the explicit transaction
 * (storeInTransaction): rarer, and they need checks between statements.
 *
 * seq is gapless and strictly increasing per conversation (F-20): `UPDATE conversations SET last_seq =
 * last_seq + 1 … RETURNING` row-locks the conversation, so concurrent senders queue on that row and each
 * gets the next number (READ COMMITTED re-reads the locked row after the wait); a failed insert rolls the
 * bump back with it. client_id dedupe is exact (F-14): a user's retry is caught by the read, and a
 * concurrent duplicate by the unique index (conversation, sender, client_id), whose violation aborts the
 * whole statement — bump included — and answers with the stored message.
 */
export async function sendMessage(params: {
  db: Database;
  events?: DomainEventBus;
  workspaceId: string;
  conversationId: string;
  /** The conversation row when the caller already read it (scoped to workspaceId): saves the re-read. */
  conversation?: ConversationRow;
  sender: SendMessageSender;
  content: string;
  clientId?: string | null;
  attachmentIds?: readonly string[];
  metadata?: JsonObject;
  type?: 'text' | 'system' | 'attachment';
  /** Internal notes (dashboard) are stored like messages but never shown to participants. */
  isInternal?: boolean;
  policyHook?: MessagePolicyHook;
  maxLength?: number;
  /** Sender's Pusher socket, excluded from the fan-out of its own message. */
  excludeSocketId?: string;
  serializeAttachment?: AttachmentSerializer;
  /**
   * The widget session the request authenticated with: the read refuses it (session_expired) when it was
   * revoked or expired, its user erased or its workspace suspended since — the auth hook may have
   * answered from its cache.
   */
  widgetSessionId?: string;
  /** A user who is not a participant: 403 forbidden (consumer API, default) or 404 (widget API, T-05). */
  nonParticipant?: 'forbidden' | 'not_found';
  /** Only a conversation of this type exists for the caller (a demo key sees demo conversations only). */
  conversationType?: 'demo';
  /**
   * The route's own admission checks (rate limits, attachment ownership), run after the read and before
   * dedupe and policies; may return the configuration's max length.
   */
  admit?: (admission: SendAdmission) => Promise<{ maxLength?: number } | void>;
  now?: Date;
}): Promise<SendMessageResult> {
  const { db, workspaceId, conversationId } = params;
  const now = params.now ?? new Date();
  const clientId = params.clientId ?? null;
  const attachmentIds = [...new Set(params.attachmentIds ?? [])];

  let conversation: ConversationRow;
  let sender: MessageSender;
  let sending: SendingUser | null = null;
  let existing: MessageRow | null = null;
  let conversationPolicies: unknown;
  if (params.sender.type === 'user') {
    const context = await loadSendContext(db, {
      workspaceId,
      conversationId,
      sender: params.sender,
      clientId,
      widgetSessionId: params.widgetSessionId ?? null,
      conversationType: params.conversationType ?? null,
      nonParticipant: params.nonParticipant ?? 'forbidden',
      now,
    });
    conversation = context.conversation;
    sending = context.sending;
    sender = { type: 'user', chatUserId: context.sending.user.id };
    existing = context.existing;
    conversationPolicies = context.conversationPolicies;
  } else {
    sender = params.sender;
    const preloaded = params.conversation;
    const row =
      preloaded && preloaded.id === conversationId && preloaded.workspaceId === workspaceId
        ? preloaded
        : (
            await db
              .select()
              .from(schema.conversations)
              .where(and(eq(schema.conversations.workspaceId, workspaceId), eq(schema.conversations.id, conversationId)))
              .limit(1)
          )[0];
    if (!row || (params.conversationType && row.type !== params.conversationType)) throw notFound('Conversation');
    conversation = row;
  }
  const senderUser: ChatUser | null = sending?.user ?? null;

  const admitted = params.admit ? await params.admit({ conversation, conversationPolicies }) : undefined;

  // A retry of an already stored message answers with that message, before any policy runs again.
  if (clientId !== null && sender.type !== 'user') existing = await findByClientId(db, conversationId, sender, clientId);
  if (existing) return { message: existing, json: await serializeOne(db, workspaceId, existing, params.serializeAttachment), created: false };

  if (conversation.status === 'closed' && sender.type === 'user') throw new AppError('conversation_closed');
  if (params.content.length === 0 && attachmentIds.length === 0) {
    throw new AppError('validation_failed', 'A message needs content or attachments.', { field: 'content' });
  }
  const maxLength = admitted?.maxLength ?? params.maxLength ?? DEFAULT_MAX_MESSAGE_LENGTH;
  const length = codePointLength(params.content);
  if (length > maxLength) {
    throw new AppError('validation_failed', `Message content exceeds ${maxLength} characters.`, {
      field: 'content',
      max_length: maxLength,
      length,
    });
  }

  const policy: MessagePolicyResult = await (params.policyHook ?? noPolicy)({
    db,
    workspaceId,
    conversation,
    sender,
    senderUser,
    content: params.content,
    attachmentIds,
    now,
    ...(sending ? { participantRole: sending.participantRole, widgetPolicies: sending.widgetPolicies } : {}),
  });
  if (policy.rejected) {
    throw new AppError('policy_rejected', policy.rejected.message, { rule: policy.rejected.rule });
  }
  const masked: MaskedInfo | null = policy.masked ?? null;
  const flagged = policy.flagged ? policy.flagged : null;

  const draft: Omit<MessageRow, 'id' | 'seq'> = {
    workspaceId,
    conversationId,
    senderType: sender.type,
    senderUserId: sender.type === 'user' ? sender.chatUserId : null,
    senderAdminId: sender.type === 'agent' ? sender.adminId : null,
    type: params.type ?? (sender.type === 'system' ? 'system' : params.content.length === 0 ? 'attachment' : 'text'),
    content: policy.content,
    originalContent: policy.content !== params.content ? params.content : null,
    masked,
    clientId,
    metadata: params.metadata ?? {},
    isInternal: params.isInternal ?? false,
    isFlagged: flagged !== null,
    createdAt: now,
    editedAt: null,
    deletedAt: null,
  };

  let stored: StoredMessage;
  try {
    stored =
      sender.type === 'user' && attachmentIds.length === 0 && !flagged && !draft.isInternal
        ? await storeInOneStatement(db, draft, sender, senderUser)
        : await storeInTransaction(db, { draft, sender, senderUser, attachmentIds, flagged, now, serializeAttachment: params.serializeAttachment });
  } catch (err) {
    if (err instanceof DuplicateClientId) {
      return { message: err.existing, json: await serializeOne(db, workspaceId, err.existing, params.serializeAttachment), created: false };
    }
    if (clientId !== null && isUniqueViolation(err)) {
      // A concurrent send with the same client_id committed first (or a writer bypassed the seq lock): the
      // unique index refused this one and the statement rolled back, seq bump included (F-14).
      const earlier = await findByClientId(db, conversationId, sender, clientId);
      if (earlier) return { message: earlier, json: await serializeOne(db, workspaceId, earlier, params.serializeAttachment), created: false };
    }
    throw err;
  }

  // Finished: serialised once for the answer and every realtime frame (settleJson).
  const json = settleJson(stored.json ?? (await serializeOne(db, workspaceId, stored.message, params.serializeAttachment)));
  // Users who blocked the sender get the message neither in listings (filtered there) nor on open sockets.
  const blockerIds = sending && !stored.message.isInternal ? sending.blockerIds : [];
  if (!stored.message.isInternal) {
    await params.events?.emit({
      type: 'message.created',
      workspaceId,
      conversationId,
      message: json as unknown as Record<string, unknown>,
      recordedInOutbox: stored.outboxed ? 'written' : 'none',
      ...(blockerIds.length > 0 ? { hiddenFromUserIds: blockerIds } : {}),
      ...(params.excludeSocketId ? { excludeSocketId: params.excludeSocketId } : {}),
    });
  }
  if (stored.reportId) {
    await params.events?.emit({
      type: 'report.created',
      workspaceId,
      report: { id: stored.reportId, message_id: stored.message.id, conversation_id: conversationId, source: 'flag', reason: flagged ? flagged.reason : null },
    });
  }
  return { message: stored.message, json, created: true };
}

/** `outboxed`: whether the write stored an outbox row (only a workspace with an enabled webhook endpoint gets one). */
type StoredMessage = { message: MessageRow; reportId: string | null; json: MessageJson | null; outboxed: boolean };

/** What the send writer answers for one send. */
interface WrittenSend {
  readonly seq: number;
  /** An outbox row was stored with it (hasEnabledEndpoint). */
  readonly outboxed: boolean;
}

/**
 * The common send (a chat user's text, not flagged): its row, outbox entry and read marker go into the
 * database through the group-commit writer (SendWriter). The message id is generated here and the JSON is
 * built before the write; only seq comes from the database, and the outbox payload gets it with jsonb_set —
 * nothing written is read back. The webhook event is built only when the writer ships it (see SendWriter).
 */
async function storeInOneStatement(
  db: Executor,
  draft: Omit<MessageRow, 'id' | 'seq'>,
  sender: Extract<MessageSender, { type: 'user' }>,
  senderUser: ChatUser | null,
): Promise<StoredMessage> {
  const message: MessageRow = { ...draft, id: uuidv7(), seq: 0 };
  const json = toMessageJson(message, { senderUser, attachments: [], reactions: [] });
  // Called before the write resolves, so the event carries seq 0 (the statement sets it).
  const payload = (): string => {
    const event = toWebhookEvent(
      { type: 'message.created', workspaceId: draft.workspaceId, conversationId: draft.conversationId, message: json as unknown as Record<string, unknown> },
      draft.createdAt,
    );
    if (!event) throw new Error('message.created has no webhook event');
    return JSON.stringify({ event });
  };
  const { seq, outboxed } = await sendWriterFor(db).write(payload, {
    id: message.id,
    workspace_id: draft.workspaceId,
    conversation_id: draft.conversationId,
    sender_user_id: sender.chatUserId,
    type: draft.type,
    content: draft.content,
    original_content: draft.originalContent,
    masked: draft.masked,
    client_id: draft.clientId,
    metadata: draft.metadata,
    created_at: draft.createdAt.toISOString(),
  });
  message.seq = seq;
  json.seq = seq;
  return { message, reportId: null, json, outboxed };
}

/** One message for the write statements, named like the columns (it travels as JSON). */
interface PendingRow {
  readonly id: string;
  readonly workspace_id: string;
  readonly conversation_id: string;
  readonly sender_user_id: string;
  readonly type: string;
  readonly content: string;
  readonly original_content: string | null;
  readonly masked: MaskedInfo | null;
  readonly client_id: string | null;
  readonly metadata: JsonObject;
  readonly created_at: string;
}

interface PendingWrite {
  readonly row: PendingRow;
  /** The outbox payload (JSON text) with seq still 0. */
  readonly payload: () => string;
  resolve(written: WrittenSend): void;
  reject(err: unknown): void;
}

/** Sends that arrive while batches are in flight wait for the next one; this many at most per statement. */
const MAX_BATCH = 64;

/**
 * The group-commit queue of SendWriter and ContextReader: items wait while `maxInFlight` batches run, and go
 * together (at most MAX_BATCH) in the next. `flush` settles every item of its batch and never rejects.
 */
export class BatchQueue<T> {
  private readonly queue: T[] = [];
  private inFlight = 0;
  private dispatchQueued = false;

  constructor(
    private readonly maxInFlight: number,
    private readonly flush: (batch: T[]) => Promise<void>,
  ) {}

  push(item: T): void {
    this.queue.push(item);
    if (!this.dispatchQueued && this.inFlight < this.maxInFlight) {
      this.dispatchQueued = true;
      const go = () => {
        this.dispatchQueued = false;
        this.dispatch();
      };
      // With the pipeline (PostgreSQL) batches fill while others are in flight, and a microtask sends a lone
      // item at once. Without it (PGlite, a transaction) the batch waits for the end of the event loop's I/O
      // phase, so every request read in that phase joins it: PGlite runs a statement on this very thread, no
      // request arrives meanwhile, and microtask dispatch sent each send alone (batches of 1.0, ≈ 300
      // messages/s; gathered: batches of ≈ 43, ≈ 3 700 messages/s, `npm run bench -- posts`).
      if (this.maxInFlight > 1) queueMicrotask(go);
      else setImmediate(go);
    }
  }

  /** Starts batches while items wait and there is room in flight; each finished batch calls it again. */
  private dispatch(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      this.inFlight += 1;
      void this.flush(this.queue.splice(0, MAX_BATCH)).finally(() => {
        this.inFlight -= 1;
        this.dispatch();
      });
    }
  }
}
/** Workspaces remembered without endpoint per writer before the memo starts over (bounds its memory). */
const MAX_MEMO = 10_000;

/**
 * Group commit for the common send. Sends that arrive while batches are in flight queue and go together in
 * the next statement — one round trip, one plan and one commit (one WAL flush) for all of them. A lone send
 * does not wait: it is written at once, alone. On PostgreSQL two batches may be in flight, pipelined on the
 * send path's own connection (sendPipelineFor): PostgreSQL runs them in the order sent, and starts the second
 * as soon as the first commits. Elsewhere one is. The batch is
 * still one statement, so it commits or rolls back as a whole: every message with its outbox row (the
 * worker relies on that), seq numbers handed out per conversation in arrival order under the
 * conversation's row lock (gapless, F-20). If the batch fails (a concurrent duplicate client_id hitting
 * the unique index, a conversation deleted meanwhile…), nothing of it was stored and each send is retried
 * alone, so one bad send never fails the others and each gets its own answer (F-14).
 * Batches lock their conversations in id order (see batchStatementFor), so batches of different processes
 * or nodes that share conversations wait for each other instead of deadlocking.
 *
 * The outbox row — and so the webhook payload — is needed only in workspaces with an enabled endpoint
 * (hasEnabledEndpoint), most have none: a batch leaves the payload out for a workspace whose previous batch
 * found no endpoint, which spares building, sending and parsing the event. The statement still decides
 * against its own snapshot: a send without payload in a workspace that has an endpoint by now fails the
 * statement (the outbox payload is NOT NULL), nothing of the batch is stored, and each send is written
 * alone with its payload — the outbox stays exact, the memo only saves work.
 */
class SendWriter {
  /** Where batches go (sendPipelineFor: the pipelined connection on PostgreSQL). */
  private readonly batchDb: Executor;
  private readonly pending: BatchQueue<PendingWrite>;
  /** Workspaces whose latest batch saw no enabled webhook endpoint (their sends go without payload). */
  private readonly withoutEndpoint = new Set<string>();

  constructor(db: Executor) {
    const pipeline = sendPipelineFor(db);
    this.batchDb = pipeline.db;
    this.pending = new BatchQueue(pipeline.maxInFlight, (batch) => this.flush(batch));
  }

  write(payload: () => string, row: PendingRow): Promise<WrittenSend> {
    return new Promise<WrittenSend>((resolve, reject) => this.pending.push({ row, payload, resolve, reject }));
  }

  private async flush(batch: PendingWrite[]): Promise<void> {
    if (batch.length > 1) {
      let written: Map<string, WrittenSend> | undefined;
      try {
        const rows = await batchStatementFor(this.batchDb).all({
          batch: JSON.stringify(
            batch.map((p, ord) => (this.withoutEndpoint.has(p.row.workspace_id) ? { ...p.row, ord } : { ...p.row, ord, payload: p.payload() })),
          ),
          topic: OUTBOX_TOPICS.webhookEvent,
        });
        written = new Map();
        if (this.withoutEndpoint.size > MAX_MEMO) this.withoutEndpoint.clear();
        for (const r of rows) {
          // A row's workspace has an enabled endpoint exactly when the statement stored its outbox row (a send
          // without payload there would have failed the whole statement).
          const outboxed = isTrue(r.endpoint);
          written.set(r.id, { seq: Number(r.seq), outboxed });
          if (outboxed) this.withoutEndpoint.delete(r.workspace_id);
          else this.withoutEndpoint.add(r.workspace_id);
        }
        releaseRows(rows);
      } catch {
        // Nothing of the batch was stored: each send alone below gets its own outcome. An endpoint may have
        // appeared (a send without payload failed the statement): the next batches ship payloads again.
        for (const p of batch) this.withoutEndpoint.delete(p.row.workspace_id);
      }
      if (written) {
        for (const p of batch) {
          const w = written.get(p.row.id);
          if (w !== undefined && Number.isInteger(w.seq) && w.seq > 0) p.resolve(w);
          else p.reject(notFound('Conversation'));
        }
        return;
      }
    }
    for (const p of batch) {
      try {
        p.resolve(await this.writeOne(p.row, p.payload));
      } catch (err) {
        p.reject(err);
      }
    }
  }

  private async writeOne(row: PendingRow, payload: () => string): Promise<WrittenSend> {
    const rows = await insertStatementFor(this.batchDb).execute({
      id: row.id,
      workspaceId: row.workspace_id,
      conversationId: row.conversation_id,
      now: row.created_at,
      senderUserId: row.sender_user_id,
      type: row.type,
      content: row.content,
      originalContent: row.original_content,
      masked: row.masked === null ? null : JSON.stringify(row.masked),
      clientId: row.client_id,
      metadata: JSON.stringify(row.metadata),
      topic: OUTBOX_TOPICS.webhookEvent,
      payload: payload(),
    });
    const seq = Number(rows[0]?.seq);
    if (!rows[0] || !Number.isInteger(seq) || seq < 1) throw notFound('Conversation');
    return { seq, outboxed: Number(rows[0].outboxed) > 0 };
  }
}

const sendWriters = new WeakMap<Executor, SendWriter>();

function sendWriterFor(db: Executor): SendWriter {
  let writer = sendWriters.get(db);
  if (!writer) {
    writer = new SendWriter(db);
    sendWriters.set(db, writer);
  }
  return writer;
}

/**
 * Wakes workers in other processes when the statement wrote outbox rows, as enqueueOutbox does: the
 * notification is delivered at commit (one per statement; an uncorrelated subquery runs once).
 */
const outboxNotify = sql<unknown>`(select pg_notify(${sql.raw(`'${OUTBOX_NOTIFY_CHANNEL}'`)}, '') from outboxed limit 1)`;

/**
 * The outbox carries webhook events only (OUTBOX_TOPICS), so a workspace without an enabled webhook endpoint
 * gets no outbox row for its messages: no relay round, no fan-out job and no endpoint lookup per message —
 * most tenants, and the bulk of a busy server's per-message background work otherwise. Decided inside the
 * write statement, against the same snapshot that stores the message: an endpoint committed before the
 * message is seen (its event is delivered, as before); one created concurrently counts as created after it.
 */
function hasEnabledEndpoint(workspaceId: SQL): SQL {
  return sql`exists (select 1 from webhook_endpoints e where e.workspace_id = ${workspaceId} and e.disabled_at is null)`;
}

/** Raw rows (`all()`): four plain columns, nothing for Drizzle's row mapping to do. */
type BatchStatement = {
  all(values: Record<string, unknown>): Promise<{ id: string; seq: number | string; workspace_id: string; endpoint: unknown }[]>;
};
const batchStatements = new WeakMap<Executor, BatchStatement>();

/**
 * The batch as one statement: the sends arrive as one JSON array (one parameter, the same on both
 * drivers); each conversation's last_seq goes up by its number of sends, and its sends take the numbers
 * below the new value in arrival order (`ord`). The array is json, not jsonb: it is only read once, row by
 * row, and json is merely checked on input where jsonb is built into a tree; `payload` stays text and is
 * parsed only for the rows that get an outbox row.
 */
function batchStatementFor(db: Executor): BatchStatement {
  const cached = batchStatements.get(db);
  if (cached) return cached;
  const p = (name: string) => sql.placeholder(name);
  const input = db.$with('input', {}).as(sql`select * from json_to_recordset(${p('batch')}::json) as t(
      id uuid, workspace_id uuid, conversation_id uuid, sender_user_id uuid, type text, content text,
      original_content text, masked jsonb, client_id text, metadata jsonb, created_at timestamptz, payload text, ord int)`);
  const counts = db.$with('counts', {}).as(sql`select workspace_id, conversation_id, count(*)::int as n, max(created_at) as last_at
      from input group by workspace_id, conversation_id`);
  // The batch's conversations are row-locked in id order before they are bumped. Every batch statement (in any
  // process or node) takes its locks in that one order, so two batches sharing conversations queue instead of
  // deadlocking — an UPDATE … FROM alone locks in its join's order, which on a large table is the input's.
  const locked = db.$with('locked', {}).as(sql`select conversations.id, counts.n, counts.last_at
      from conversations join counts on conversations.workspace_id = counts.workspace_id and conversations.id = counts.conversation_id
      order by conversations.id
      for update of conversations`);
  const bumped = db.$with('bumped', {}).as(sql`update conversations
      set last_seq = conversations.last_seq + locked.n, last_message_at = locked.last_at, updated_at = locked.last_at
      from locked
      where conversations.id = locked.id
      returning conversations.id, conversations.last_seq - locked.n as base`);
  const numbered = db.$with('numbered', {}).as(sql`select input.*,
        (bumped.base + row_number() over (partition by input.conversation_id order by input.ord))::int as seq
      from input join bumped on bumped.id = input.conversation_id`);
  const inserted = db.$with('inserted', {}).as(sql`insert into messages
      (id, workspace_id, conversation_id, seq, sender_type, sender_user_id, type, content, original_content, masked,
       client_id, metadata, is_internal, is_flagged, created_at)
      select id, workspace_id, conversation_id, seq, 'user', sender_user_id, type, content, original_content, masked,
        client_id, coalesce(metadata, '{}'::jsonb), false, false, created_at
      from numbered
      returning id`);
  // In seq order, so the relay (which goes by outbox id) hands out a conversation's webhooks in order. Only
  // for workspaces with an enabled endpoint (see hasEnabledEndpoint); a row sent without payload there
  // violates the outbox's NOT NULL payload and fails the statement (SendWriter retries with payloads).
  const outboxed = db.$with('outboxed', {}).as(sql`insert into outbox (workspace_id, topic, payload)
      select workspace_id, ${p('topic')}::text, jsonb_set(payload::jsonb, '{event,data,message,seq}', to_jsonb(seq))
      from numbered where ${hasEnabledEndpoint(sql`numbered.workspace_id`)}
      order by conversation_id, seq
      returning id`);
  // Sending implies having read up to one's own message (unread counts exclude it).
  const markedRead = db.$with('marked_read', {}).as(sql`update participants
      set last_read_seq = greatest(participants.last_read_seq, latest.seq)
      from (select conversation_id, sender_user_id, max(seq) as seq from numbered group by conversation_id, sender_user_id) latest
      where participants.conversation_id = latest.conversation_id and participants.chat_user_id = latest.sender_user_id
      returning 1`);
  const statement = db
    .with(input, counts, locked, bumped, numbered, inserted, outboxed, markedRead)
    .select({
      id: sql<string>`numbered.id`.as('id'),
      seq: sql<number>`numbered.seq`.as('seq'),
      workspace_id: sql<string>`numbered.workspace_id`.as('workspace_id'),
      // The same snapshot as outboxed: tells SendWriter whether the workspace's next sends need a payload.
      endpoint: sql<unknown>`${hasEnabledEndpoint(sql`numbered.workspace_id`)}`.as('endpoint'),
      notified: sql<unknown>`${outboxNotify}`.as('notified'),
    })
    .from(sql`numbered`)
    .prepare('send_message_insert_batch') as unknown as BatchStatement;
  batchStatements.set(db, statement);
  return statement;
}

type InsertStatement = { execute(values: Record<string, unknown>): Promise<{ seq: number | string; outboxed: number | string }[]> };
const insertStatements = new WeakMap<Executor, InsertStatement>();

/**
 * A single send (no other send waiting): built once per database handle with placeholders and prepared
 * (drizzle `.prepare()`): no query building per send, and on PostgreSQL one round trip instead of
 * describe + execute. Every CTE runs to completion whether or not the final select reads it.
 */
function insertStatementFor(db: Executor): InsertStatement {
  const cached = insertStatements.get(db);
  if (cached) return cached;
  const p = (name: string) => sql.placeholder(name);
  const bumped = db.$with('bumped', {}).as(sql`update conversations
      set last_seq = last_seq + 1, last_message_at = ${p('now')}::timestamptz, updated_at = ${p('now')}::timestamptz
      where workspace_id = ${p('workspaceId')}::uuid and id = ${p('conversationId')}::uuid
      returning last_seq`);
  const inserted = db.$with('inserted', {}).as(sql`insert into messages
      (id, workspace_id, conversation_id, seq, sender_type, sender_user_id, type, content, original_content, masked,
       client_id, metadata, is_internal, is_flagged, created_at)
      select ${p('id')}::uuid, ${p('workspaceId')}::uuid, ${p('conversationId')}::uuid, bumped.last_seq, 'user',
        ${p('senderUserId')}::uuid, ${p('type')}::text, ${p('content')}::text, ${p('originalContent')}::text,
        ${p('masked')}::jsonb, ${p('clientId')}::text, ${p('metadata')}::jsonb, false, false, ${p('now')}::timestamptz
      from bumped
      returning seq`);
  const outboxed = db.$with('outboxed', {}).as(sql`insert into outbox (workspace_id, topic, payload)
      select ${p('workspaceId')}::uuid, ${p('topic')}::text,
        jsonb_set(${p('payload')}::jsonb, '{event,data,message,seq}', to_jsonb(inserted.seq))
      from inserted where ${hasEnabledEndpoint(sql`${p('workspaceId')}::uuid`)}
      returning id`);
  // Sending implies having read up to one's own message (unread counts exclude it).
  const markedRead = db.$with('marked_read', {}).as(sql`update participants
      set last_read_seq = greatest(participants.last_read_seq, inserted.seq)
      from inserted
      where participants.conversation_id = ${p('conversationId')}::uuid and participants.chat_user_id = ${p('senderUserId')}::uuid
      returning 1`);
  const statement = db
    .with(bumped, inserted, outboxed, markedRead)
    .select({ seq: sql<number>`inserted.seq`, outboxed: sql<number>`(select count(*) from outboxed)::int`, notified: outboxNotify })
    .from(sql`inserted`)
    .prepare('send_message_insert') as unknown as InsertStatement;
  insertStatements.set(db, statement);
  return statement;
}

/** Attachments, flags, internal notes and non-user senders: one explicit transaction, several statements. */
async function storeInTransaction(
  db: Database,
  p: {
    draft: Omit<MessageRow, 'id' | 'seq'>;
    sender: MessageSender;
    senderUser: ChatUser | null;
    attachmentIds: string[];
    flagged: { readonly reason: string } | null;
    now: Date;
    serializeAttachment: AttachmentSerializer | undefined;
  },
): Promise<StoredMessage> {
  const { draft, sender, now } = p;
  const { workspaceId, conversationId, clientId } = draft;
  return db.transaction(async (tx) => {
    const [bumped] = await tx
      .update(schema.conversations)
      .set({ lastSeq: sql`${schema.conversations.lastSeq} + 1`, lastMessageAt: now, updatedAt: now })
      .where(and(eq(schema.conversations.workspaceId, workspaceId), eq(schema.conversations.id, conversationId)))
      .returning({ lastSeq: schema.conversations.lastSeq });
    if (!bumped) throw notFound('Conversation');
    if (clientId !== null) {
      // After the lock: a concurrent first send has committed by now (agents and the system have no
      // unique index to fall back on — their sender id column is null).
      const existing = await findByClientId(tx, conversationId, sender, clientId);
      if (existing) throw new DuplicateClientId(existing);
    }
    const [message] = await tx
      .insert(schema.messages)
      .values({ ...draft, id: uuidv7(), seq: bumped.lastSeq })
      .returning();
    if (!message) throw new Error('message insert returned no row');
    if (p.attachmentIds.length > 0) await attachFiles(tx, { workspaceId, conversationId, sender, message, attachmentIds: p.attachmentIds });
    let reportId: string | null = null;
    if (p.flagged) {
      const [report] = await tx
        .insert(schema.reports)
        .values({ workspaceId, messageId: message.id, source: 'flag', reason: p.flagged.reason })
        .returning({ id: schema.reports.id });
      reportId = report?.id ?? null;
    }
    // The webhook side effect is written in this same transaction (transactional outbox): a committed
    // message never loses its webhooks, even if the process dies right after the commit (issue 6, F-01).
    let json: MessageJson | null = null;
    let outboxed = false;
    if (!message.isInternal) {
      json =
        sender.type === 'agent' || p.attachmentIds.length > 0
          ? await serializeOne(tx, workspaceId, message, p.serializeAttachment)
          : toMessageJson(message, { senderUser: p.senderUser, attachments: [], reactions: [] });
      outboxed =
        (await recordDomainEventInOutbox(
          tx,
          { type: 'message.created', workspaceId, conversationId, message: json as unknown as Record<string, unknown> },
          now,
        )) > 0;
    }
    if (sender.type === 'user') {
      await tx
        .update(schema.participants)
        .set({ lastReadSeq: sql`greatest(${schema.participants.lastReadSeq}, ${message.seq})` })
        .where(and(eq(schema.participants.conversationId, conversationId), eq(schema.participants.chatUserId, sender.chatUserId)));
    }
    return { message, reportId, json, outboxed };
  });
}

interface SendingUser {
  readonly user: ChatUser;
  readonly participantRole: string;
  /** Raw `policies` of the conversation's effective widget configuration (null: none). */
  readonly widgetPolicies: unknown;
  /** Users who blocked the sender. */
  readonly blockerIds: string[];
}

interface SendContext {
  readonly conversation: ConversationRow;
  readonly sending: SendingUser;
  readonly conversationPolicies: unknown;
  readonly existing: MessageRow | null;
}

/**
 * Everything a chat user's send needs to know before its policies run, in ONE prepared read: the
 * conversation (scoped to the workspace), the sender (by id or external_id, not erased), their live
 * participation, an active ban, who blocked them, the widget policies (the conversation's configuration,
 * or the workspace's first one when it has none — as policies/create-policy-hook.ts loadConversationPolicies),
 * an earlier message with this client_id and, for a widget request, whether its session is still usable.
 */
async function loadSendContext(
  db: Executor,
  p: {
    workspaceId: string;
    conversationId: string;
    sender: { readonly type: 'user'; readonly chatUserId: string } | { readonly type: 'user'; readonly externalId: string };
    clientId: string | null;
    widgetSessionId: string | null;
    conversationType: string | null;
    nonParticipant: 'forbidden' | 'not_found';
    now: Date;
  },
): Promise<SendContext> {
  const row = await contextReaderFor(db).read({
    workspace_id: p.workspaceId,
    conversation_id: p.conversationId,
    chat_user_id: 'chatUserId' in p.sender ? p.sender.chatUserId : null,
    external_id: 'externalId' in p.sender ? p.sender.externalId : null,
    client_id: p.clientId,
    session_id: p.widgetSessionId,
    conversation_type: p.conversationType,
    now: p.now.toISOString(),
  });
  if (!row) {
    // The conversation does not exist for this caller; a widget session that is no longer usable still
    // answers as the auth hook would have.
    if (p.widgetSessionId !== null && !(await isSessionUsable(db, p.widgetSessionId, p.workspaceId, p.now))) throw new AppError('session_expired');
    throw notFound('Conversation');
  }
  if (p.widgetSessionId !== null && !isTrue(row.sessionUsable)) throw new AppError('session_expired');
  if (!row.user) throw notFound('User');
  if (isTrue(row.banned)) throw new AppError('user_banned');
  if (row.participantRole === null) {
    if (p.nonParticipant === 'not_found') throw notFound('Conversation');
    throw new AppError('forbidden', 'The user is not a participant of this conversation.');
  }
  const policies = row.policies;
  // A retry of a stored send (rare): its row is read only then.
  const existing =
    row.existingId && p.clientId !== null ? await findByClientId(db, p.conversationId, { type: 'user', chatUserId: row.user.id }, p.clientId) : null;
  return {
    conversation: row.conversation,
    sending: { user: row.user, participantRole: row.participantRole, widgetPolicies: policies ?? null, blockerIds: parseJsonArray(row.blockers) },
    conversationPolicies: isTrue(row.ownConfig) ? (policies ?? null) : null,
    existing,
  };
}

interface ContextRow {
  conversation: ConversationRow;
  user: ChatUser | null;
  participantRole: string | null;
  banned: unknown;
  blockers: unknown;
  ownConfig: unknown;
  policies: unknown;
  existingId: string | null;
  sessionUsable: unknown;
}

/** One send's lookup keys (they travel as JSON, named like the statement's input columns). */
interface ContextKey {
  readonly workspace_id: string;
  readonly conversation_id: string;
  readonly chat_user_id: string | null;
  readonly external_id: string | null;
  readonly client_id: string | null;
  readonly session_id: string | null;
  readonly conversation_type: string | null;
  readonly now: string;
}

interface PendingRead {
  readonly key: ContextKey;
  resolve(row: ContextRow | undefined): void;
  reject(err: unknown): void;
}

/** The context read as raw rows (`all()`): decoded by the driver, mapped by contextConversation/contextUser. */
type ContextStatement = { all(values: Record<string, unknown>): Promise<Record<string, unknown>[]> };

/**
 * Group reads, like SendWriter: the sends that arrive while context reads are running are looked up
 * together in the next, one statement for all (its planning — most of a lookup's cost — paid once). A lone
 * send is read at once. If a batch fails, each send is read alone so each gets its own outcome.
 * On PostgreSQL the reads go through the same pipelined connection as SendWriter's batches (sendPipelineFor),
 * two in flight: a read sent after a batch sees that batch committed, and one backend serving the whole send
 * path was faster on two cores than reads on the pool (quick A/B, three pairs: +5.5 to +7.5 % messages/s).
 */
class ContextReader {
  private statement: ContextStatement | undefined;
  private readonly db: Executor;
  private readonly pending: BatchQueue<PendingRead>;

  constructor(db: Executor) {
    const pipeline = sendPipelineFor(db);
    this.db = pipeline.db;
    this.pending = new BatchQueue(pipeline.maxInFlight, (batch) => this.flush(batch));
  }

  read(key: ContextKey): Promise<ContextRow | undefined> {
    return new Promise<ContextRow | undefined>((resolve, reject) => this.pending.push({ key, resolve, reject }));
  }

  private async flush(batch: PendingRead[]): Promise<void> {
    try {
      const rows = await this.execute(batch.map((p) => p.key));
      for (const [ord, p] of batch.entries()) p.resolve(rows.get(ord));
      return;
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err);
        return;
      }
    }
    for (const p of batch) {
      try {
        p.resolve((await this.execute([p.key])).get(0));
      } catch (err) {
        p.reject(err);
      }
    }
  }

  private async execute(keys: ContextKey[]): Promise<Map<number, ContextRow>> {
    this.statement ??= contextStatementFor(this.db);
    const rows = await this.statement.all({ batch: JSON.stringify(keys.map((k, ord) => ({ ...k, ord }))) });
    const byOrd = new Map<number, ContextRow>();
    for (const raw of rows) {
      const conversation = contextConversation.read(raw);
      // The inner join: a row always has its conversation.
      if (!conversation) continue;
      byOrd.set(Number(raw.ord), {
        conversation,
        user: contextUser.read(raw),
        participantRole: (raw.participant_role as string | null | undefined) ?? null,
        banned: raw.banned,
        blockers: raw.blockers,
        ownConfig: raw.own_config,
        policies: policiesFromText(raw.policies),
        existingId: (raw.existing_id as string | null | undefined) ?? null,
        sessionUsable: raw.session_usable,
      });
    }
    releaseRows(rows);
    return byOrd;
  }
}

const contextReaders = new WeakMap<Executor, ContextReader>();

function contextReaderFor(db: Executor): ContextReader {
  let reader = contextReaders.get(db);
  if (!reader) {
    reader = new ContextReader(db);
    contextReaders.set(db, reader);
  }
  return reader;
}

/** The conversation's and the sender's columns in the context read (see flatTable). */
const contextConversation = flatTable(schema.conversations, 'c');
const contextUser = flatTable(schema.chatUsers, 'u');

/** Parsed widget policies by their JSON text; a deployment has few distinct ones. Bounded like parsePolicies'. */
const policiesByText = new Map<string, unknown>();
const MAX_POLICY_TEXTS = 512;

/**
 * The configuration's policies from the read's text. The same text yields the same frozen object, so
 * parsePolicies finds it in its cache by identity instead of re-keying it by content on every send.
 */
function policiesFromText(value: unknown): unknown {
  if (typeof value !== 'string') return value ?? null;
  let parsed = policiesByText.get(value);
  if (parsed === undefined) {
    parsed = deepFreeze(parseJson(value));
    if (policiesByText.size >= MAX_POLICY_TEXTS) policiesByText.clear();
    policiesByText.set(value, parsed);
  }
  return parsed;
}


/**
 * The lookup for a batch of sends: their keys arrive as one JSON array (`input`, one row per send, `ord`
 * its position), every join and subquery is per input row. Joins go by primary or unique keys, so each
 * row costs a few index probes whatever the table sizes.
 */
function contextStatementFor(db: Executor): ContextStatement {
  const c = schema.conversations;
  const u = schema.chatUsers;
  const pt = schema.participants;
  const m = schema.messages;
  const wc = schema.widgetConfigs;
  const now = sql`input.now`;
  return db
    .select({
      ord: sql<number>`input.ord`.as('ord'),
      ...contextConversation.selection,
      ...contextUser.selection,
      participant_role: sql<string | null>`${pt.role}`.as('participant_role'),
      banned: sql<unknown>`exists (select 1 from ${schema.bans} where ${schema.bans.workspaceId} = ${c.workspaceId}
        and ${schema.bans.chatUserId} = ${u.id} and ${schema.bans.liftedAt} is null
        and (${schema.bans.expiresAt} is null or ${schema.bans.expiresAt} > ${now}))`.as('banned'),
      blockers: sql<unknown>`(select coalesce(json_agg(${schema.blocks.blockerUserId}), '[]'::json) from ${schema.blocks}
        where ${schema.blocks.workspaceId} = ${c.workspaceId} and ${schema.blocks.blockedUserId} = ${u.id})`.as('blockers'),
      own_config: sql<unknown>`(${c.widgetConfigId} is not null)`.as('own_config'),
      // Configurations seeded together share created_at; their UUIDv7 ids keep the seeding order.
      // As text: the few distinct configurations are parsed once each (policiesFromText), not per send.
      policies: sql<string | null>`(case when ${c.widgetConfigId} is not null
        then (select ${wc.policies} from ${wc} where ${wc.workspaceId} = ${c.workspaceId} and ${wc.id} = ${c.widgetConfigId} limit 1)
        else (select ${wc.policies} from ${wc} where ${wc.workspaceId} = ${c.workspaceId} order by ${wc.createdAt} asc, ${wc.id} asc limit 1) end)::text`.as('policies'),
      // A correlated probe, not a join: its keys are parameters of the subquery, so the unique index
      // (conversation, sender_type, sender, client_id) is matched in full whatever the planner's statistics
      // say (as a join, stale statistics on a young table made it scan the conversation's messages).
      existing_id: sql<string | null>`(select ${m.id} from ${m} where ${m.conversationId} = ${c.id} and ${m.senderType} = 'user'
        and ${m.senderUserId} = input.user_id and ${m.clientId} = input.client_id limit 1)`.as('existing_id'),
      sessionUsable: sql<unknown>`(select s.revoked_at is null and s.expires_at > ${now} and w.status = 'active' and s.chat_user_id = ${u.id}
        from ${schema.widgetSessions} s join ${schema.workspaces} w on w.id = s.workspace_id
        where s.id = input.session_id and s.workspace_id = ${c.workspaceId})`.as('session_usable'),
    })
    .from(
      // The sender by id, or by external_id (consumer API) resolved here, so the user, participant and
      // earlier-message joins are key lookups by input.user_id (offset 0 keeps it a computed column).
      sql`(select keys.*, coalesce(keys.chat_user_id, (select ${u.id} from ${u} where ${u.workspaceId} = keys.workspace_id
          and ${u.externalId} = keys.external_id and ${u.erasedAt} is null limit 1)) as user_id
        from jsonb_to_recordset(${sql.placeholder('batch')}::jsonb) as keys(ord int, workspace_id uuid, conversation_id uuid,
          chat_user_id uuid, external_id text, client_id text, session_id uuid, conversation_type text, now timestamptz)
        offset 0) as input`,
    )
    .innerJoin(
      c,
      and(
        sql`${c.workspaceId} = input.workspace_id`,
        sql`${c.id} = input.conversation_id`,
        sql`(input.conversation_type is null or ${c.type} = input.conversation_type)`,
      ),
    )
    .leftJoin(
      u,
      and(
        eq(u.workspaceId, c.workspaceId),
        isNull(u.erasedAt),
        sql`${u.id} = input.user_id`,
      ),
    )
    .leftJoin(pt, and(eq(pt.conversationId, c.id), sql`${pt.chatUserId} = input.user_id`, isNull(pt.leftAt)))
    .prepare('send_message_context') as unknown as ContextStatement;
}

/** The rare path: the conversation was not found; was the widget session still good? */
async function isSessionUsable(db: Executor, sessionId: string, workspaceId: string, now: Date): Promise<boolean> {
  const [row] = await db
    .select({ usable: sql<unknown>`(${schema.widgetSessions.revokedAt} is null and ${schema.widgetSessions.expiresAt} > ${now.toISOString()}::timestamptz
      and ${schema.workspaces.status} = 'active' and ${schema.chatUsers.erasedAt} is null)` })
    .from(schema.widgetSessions)
    .innerJoin(schema.workspaces, eq(schema.workspaces.id, schema.widgetSessions.workspaceId))
    .innerJoin(schema.chatUsers, eq(schema.chatUsers.id, schema.widgetSessions.chatUserId))
    .where(and(eq(schema.widgetSessions.id, sessionId), eq(schema.widgetSessions.workspaceId, workspaceId)))
    .limit(1);
  return row !== undefined && isTrue(row.usable);
}

/** Booleans from raw SQL: both drivers hand back booleans, but tolerate the text form too. */
function isTrue(value: unknown): boolean {
  return value === true || value === 't' || value === 'true';
}

/** json/jsonb from a raw subquery: the drivers hand back parsed values, but tolerate text too. */
function parseJson(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

function parseJsonArray(value: unknown): string[] {
  const parsed = parseJson(value);
  return Array.isArray(parsed) ? parsed.filter((v): v is string => typeof v === 'string') : [];
}

async function findByClientId(db: Executor, conversationId: string, sender: MessageSender, clientId: string): Promise<MessageRow | null> {
  const conditions = [
    eq(schema.messages.conversationId, conversationId),
    eq(schema.messages.senderType, sender.type),
    eq(schema.messages.clientId, clientId),
  ];
  if (sender.type === 'user') conditions.push(eq(schema.messages.senderUserId, sender.chatUserId));
  if (sender.type === 'agent') conditions.push(eq(schema.messages.senderAdminId, sender.adminId));
  const [row] = await db.select().from(schema.messages).where(and(...conditions)).limit(1);
  if (!row) return null;
  const { searchVector: _searchVector, ...message } = row;
  return message;
}

/** Links uploaded, not yet attached files of this sender to the message; any other id is refused (T-14). */
async function attachFiles(
  tx: Executor,
  p: { workspaceId: string; conversationId: string; sender: MessageSender; message: MessageRow; attachmentIds: string[] },
): Promise<void> {
  const conditions = [
    eq(schema.attachments.workspaceId, p.workspaceId),
    inArray(schema.attachments.id, p.attachmentIds),
    isNull(schema.attachments.messageId),
    or(isNull(schema.attachments.conversationId), eq(schema.attachments.conversationId, p.conversationId))!,
  ];
  if (p.sender.type === 'user') conditions.push(eq(schema.attachments.uploaderUserId, p.sender.chatUserId));
  if (p.sender.type === 'agent') conditions.push(eq(schema.attachments.uploaderAdminId, p.sender.adminId));
  const linked = await tx
    .update(schema.attachments)
    .set({ messageId: p.message.id, conversationId: p.conversationId })
    .where(and(...conditions))
    .returning({ id: schema.attachments.id });
  if (linked.length !== p.attachmentIds.length) {
    throw new AppError('validation_failed', 'One or more attachments do not exist or are already attached.', {
      field: 'attachment_ids',
    });
  }
}

async function serializeOne(
  db: Executor,
  workspaceId: string,
  message: MessageRow,
  serializeAttachment?: AttachmentSerializer,
): Promise<MessageJson> {
  const [json] = await serializeMessages({ db, workspaceId, messages: [message], ...(serializeAttachment ? { serializeAttachment } : {}) });
  return json!;
}

function isUniqueViolation(err: unknown): boolean {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: unknown }).code === '23505') return true;
  }
  return false;
}
