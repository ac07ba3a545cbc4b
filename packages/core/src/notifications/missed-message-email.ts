import { and, asc, count, eq, gt, gte, inArray, isNotNull, isNull, lte, ne, or, sql } from 'drizzle-orm';
import { schema, type Executor } from '@reusable-chat/db';
import type { Mailer } from '../ports/mailer.ts';
import { parsePolicies } from '../policies/policy.schema.ts';
import { notFound } from '../errors/registry.ts';
import { escapeHtml, loadEmailTemplate, renderEmailTemplate, type EmailTemplate } from './email-templates.ts';
import { unsubscribeUrl } from './unsubscribe.ts';

export const JOB_MISSED_MESSAGE_EMAIL = 'notifications.missed-message';
/** Emails per workspace per UTC day unless workspace settings say `email_daily_cap` (checklist F-15). */
export const DEFAULT_EMAIL_DAILY_CAP = 1_000;
/** Messages quoted in one email; the rest is summarised by the count. */
const MAX_QUOTED_MESSAGES = 20;
const AUDIT_SENT = 'email.missed_message.sent';
const AUDIT_CAPPED = 'email.missed_message.skipped_daily_cap';

export interface MissedMessageJob {
  readonly workspaceId: string;
  readonly conversationId: string;
  readonly chatUserId: string;
  /** The participant's max(last_read_seq, last_notified_seq) when the job was made; part of its dedupe id. */
  readonly fromSeq: number;
}

export type MissedMessageOutcome =
  | { readonly outcome: 'sent'; readonly messageCount: number; readonly upToSeq: number }
  | { readonly outcome: 'skipped'; readonly reason: 'disabled' | 'no_recipient' | 'daily_cap' | 'nothing_unread' }
  /** Try again later: not old enough yet, or the user is online right now. */
  | { readonly outcome: 'deferred'; readonly reason: 'not_due' | 'online' };

/**
 * Participants with messages they have neither read nor been emailed about, in conversations whose last message
 * is at least `minDelayMs` old (a cheap pre-filter; each candidate's own policy delay is checked by the job).
 * Across all workspaces: this is the worker's scan.
 */
export async function findMissedMessageCandidates(params: {
  db: Executor;
  now: Date;
  minDelayMs: number;
  limit?: number;
}): Promise<MissedMessageJob[]> {
  const p = schema.participants;
  const c = schema.conversations;
  const u = schema.chatUsers;
  const rows = await params.db
    .select({
      workspaceId: p.workspaceId,
      conversationId: p.conversationId,
      chatUserId: p.chatUserId,
      fromSeq: sql<number>`greatest(${p.lastReadSeq}, ${p.lastNotifiedSeq})`,
    })
    .from(p)
    .innerJoin(c, and(eq(c.id, p.conversationId), eq(c.workspaceId, p.workspaceId)))
    .innerJoin(u, and(eq(u.id, p.chatUserId), eq(u.workspaceId, p.workspaceId)))
    .where(
      and(
        isNull(p.leftAt),
        isNotNull(u.email),
        isNull(u.emailOptOutAt),
        isNull(u.erasedAt),
        gt(c.lastSeq, sql`greatest(${p.lastReadSeq}, ${p.lastNotifiedSeq})`),
        lte(c.lastMessageAt, new Date(params.now.getTime() - params.minDelayMs)),
      ),
    )
    .limit(params.limit ?? 500);
  return rows.map((r) => ({ ...r, fromSeq: Number(r.fromSeq) }));
}

async function markNotified(db: Executor, job: MissedMessageJob, upToSeq: number): Promise<void> {
  const p = schema.participants;
  await db
    .update(p)
    .set({ lastNotifiedSeq: upToSeq })
    .where(
      and(
        eq(p.workspaceId, job.workspaceId),
        eq(p.conversationId, job.conversationId),
        eq(p.chatUserId, job.chatUserId),
        sql`${p.lastNotifiedSeq} < ${upToSeq}`,
      ),
    );
}

function startOfUtcDay(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
}

type BatchState =
  | { readonly kind: 'final'; readonly outcome: MissedMessageOutcome }
  | {
      readonly kind: 'batch';
      readonly row: NonNullable<Awaited<ReturnType<typeof loadParticipant>>>;
      readonly recipient: string;
      readonly policy: ReturnType<typeof parsePolicies>['missed_message_email'];
      readonly unread: { seq: number; content: string; createdAt: Date; senderType: 'user' | 'agent' | 'system'; senderName: string | null }[];
      readonly unreadFilter: ReturnType<typeof and>;
    };

async function loadParticipant(db: Executor, job: MissedMessageJob) {
  const p = schema.participants;
  const c = schema.conversations;
  const u = schema.chatUsers;
  const [row] = await db
    .select({ participant: p, conversation: c, user: u, workspace: schema.workspaces })
    .from(p)
    .innerJoin(c, and(eq(c.id, p.conversationId), eq(c.workspaceId, p.workspaceId)))
    .innerJoin(u, and(eq(u.id, p.chatUserId), eq(u.workspaceId, p.workspaceId)))
    .innerJoin(schema.workspaces, eq(schema.workspaces.id, p.workspaceId))
    .where(and(eq(p.workspaceId, job.workspaceId), eq(p.conversationId, job.conversationId), eq(p.chatUserId, job.chatUserId)))
    .limit(1);
  return row;
}

/**
 * The participant's current unread batch: messages from others after max(last_read_seq, last_notified_seq),
 * with the configuration's policy. Settles (and records) the cases where there is nothing to send.
 */
async function loadBatch(db: Executor, job: MissedMessageJob, settle: boolean): Promise<BatchState> {
  const row = await loadParticipant(db, job);
  if (!row || row.participant.leftAt || !row.user.email || row.user.emailOptOutAt || row.user.erasedAt) {
    return { kind: 'final', outcome: { outcome: 'skipped', reason: 'no_recipient' } };
  }
  const { participant, conversation } = row;
  const fromSeq = Math.max(participant.lastReadSeq, participant.lastNotifiedSeq);
  if (conversation.lastSeq <= fromSeq) return { kind: 'final', outcome: { outcome: 'skipped', reason: 'nothing_unread' } };

  let policyJson: unknown = {};
  if (conversation.widgetConfigId) {
    const [config] = await db
      .select({ policies: schema.widgetConfigs.policies })
      .from(schema.widgetConfigs)
      .where(and(eq(schema.widgetConfigs.workspaceId, job.workspaceId), eq(schema.widgetConfigs.id, conversation.widgetConfigId)))
      .limit(1);
    policyJson = config?.policies ?? {};
  }
  const policy = parsePolicies(policyJson).missed_message_email;
  if (!policy.enabled) {
    if (settle) await markNotified(db, job, conversation.lastSeq);
    return { kind: 'final', outcome: { outcome: 'skipped', reason: 'disabled' } };
  }

  // Messages from others only: one's own messages are never "missed". Internal notes and deleted messages are not shown.
  const m = schema.messages;
  const u = schema.chatUsers;
  const unreadFilter = and(
    eq(m.workspaceId, job.workspaceId),
    eq(m.conversationId, job.conversationId),
    gt(m.seq, fromSeq),
    lte(m.seq, conversation.lastSeq),
    eq(m.isInternal, false),
    isNull(m.deletedAt),
    or(isNull(m.senderUserId), ne(m.senderUserId, job.chatUserId)),
  );
  const unread = await db
    .select({ seq: m.seq, content: m.content, createdAt: m.createdAt, senderType: m.senderType, senderName: u.name })
    .from(m)
    .leftJoin(u, eq(u.id, m.senderUserId))
    .where(unreadFilter)
    .orderBy(asc(m.seq))
    .limit(MAX_QUOTED_MESSAGES);
  if (unread.length === 0) {
    if (settle) await markNotified(db, job, conversation.lastSeq);
    return { kind: 'final', outcome: { outcome: 'skipped', reason: 'nothing_unread' } };
  }
  return { kind: 'batch', row, recipient: row.user.email, policy, unread, unreadFilter };
}

const isDue = (batch: Extract<BatchState, { kind: 'batch' }>, now: Date): boolean =>
  batch.unread[0]!.createdAt.getTime() <= now.getTime() - batch.policy.delay_minutes * 60_000;

/** Whether the participant's batch is old enough to email now (the scan enqueues only these). */
export async function isMissedMessageBatchDue(params: { db: Executor; job: MissedMessageJob; now: Date }): Promise<boolean> {
  const batch = await loadBatch(params.db, params.job, false);
  return batch.kind === 'batch' && isDue(batch, params.now);
}

/**
 * One grouped email per conversation for a participant who has not read its newest messages within the
 * configuration's `missed_message_email.delay_minutes` and is not online (SPEC §6). Idempotent (checklist F-11):
 * after a send, last_notified_seq covers the messages, so running the job again finds nothing to send.
 * At-least-once towards SMTP: a crash between the provider accepting the email and the row update sends it
 * again on retry — one duplicate at most (F-10; exactly-once to SMTP is impossible).
 * Over the workspace's daily cap the email is skipped, once-per-day audited, and the API is unaffected (F-15).
 */
export async function sendMissedMessageEmail(params: {
  db: Executor;
  mailer: Mailer;
  job: MissedMessageJob;
  now: Date;
  appUrl: string;
  /** MAC key of the unsubscribe link (APP_SECRET). */
  secret: string;
  /** Whether the user has a live connection anywhere (realtime presence); offline when unknown. */
  isOnline?: (workspaceId: string, chatUserId: string) => Promise<boolean>;
  /**
   * Atomically takes one of the workspace's `cap` emails for `day` (UTC, YYYY-MM-DD), e.g. a RateLimiter counter,
   * so concurrent jobs cannot overshoot. Without it the day's audit entries are counted (not atomic).
   */
  reserveDailySlot?: (workspaceId: string, cap: number, day: string) => Promise<boolean>;
}): Promise<MissedMessageOutcome> {
  const { db, job, now } = params;
  const batch = await loadBatch(db, job, true);
  if (batch.kind === 'final') return batch.outcome;
  if (!isDue(batch, now)) return { outcome: 'deferred', reason: 'not_due' };
  if (params.isOnline && (await params.isOnline(job.workspaceId, job.chatUserId))) return { outcome: 'deferred', reason: 'online' };
  const { row, recipient, unread, unreadFilter } = batch;
  const { conversation, user, workspace } = row;
  const m = schema.messages;
  const audit = schema.auditLog;

  const [total] = await db.select({ n: count() }).from(m).where(unreadFilter);
  const messageCount = Number(total?.n ?? unread.length);
  const upToSeq = conversation.lastSeq;

  const settings = workspace.settings as Record<string, unknown>;
  const cap = typeof settings.email_daily_cap === 'number' && settings.email_daily_cap >= 0 ? settings.email_daily_cap : DEFAULT_EMAIL_DAILY_CAP;
  const dayStart = startOfUtcDay(now);
  let allowed: boolean;
  if (params.reserveDailySlot) {
    allowed = await params.reserveDailySlot(job.workspaceId, cap, dayStart.toISOString().slice(0, 10));
  } else {
    const [sentToday] = await db
      .select({ n: count() })
      .from(audit)
      .where(and(eq(audit.workspaceId, job.workspaceId), eq(audit.action, AUDIT_SENT), gte(audit.createdAt, dayStart)));
    allowed = Number(sentToday?.n ?? 0) < cap;
  }
  if (!allowed) {
    const [alreadyLogged] = await db
      .select({ id: audit.id })
      .from(audit)
      .where(and(eq(audit.workspaceId, job.workspaceId), eq(audit.action, AUDIT_CAPPED), gte(audit.createdAt, dayStart)))
      .limit(1);
    if (!alreadyLogged) {
      await db.insert(audit).values({
        workspaceId: job.workspaceId,
        actorType: 'system',
        action: AUDIT_CAPPED,
        targetType: 'workspace',
        targetId: job.workspaceId,
        metadata: { cap },
      });
    }
    await markNotified(db, job, upToSeq);
    return { outcome: 'skipped', reason: 'daily_cap' };
  }

  const template = await loadEmailTemplate({ db, workspaceId: job.workspaceId, key: batch.policy.template_key });
  const senderLabel = (r: (typeof unread)[number]) => (r.senderType === 'user' ? r.senderName || 'Someone' : r.senderType === 'agent' ? 'Support' : 'Notice');
  const linkTemplate = typeof settings.conversation_url_template === 'string' ? settings.conversation_url_template : null;
  const unsubscribe = unsubscribeUrl({ appUrl: params.appUrl, secret: params.secret, workspaceId: job.workspaceId, chatUserId: job.chatUserId });
  const rendered = renderMissedMessageEmail(template, {
    recipientName: user.name,
    workspaceName: workspace.name,
    conversationTitle: conversation.name ?? conversation.subject ?? null,
    messages: unread.map((r) => ({ sender: senderLabel(r), content: r.content })),
    messageCount,
    conversationUrl: linkTemplate ? linkTemplate.replaceAll('{conversation_id}', conversation.id) : params.appUrl,
    unsubscribeUrl: unsubscribe,
  });
  await params.mailer.send({
    to: recipient,
    ...rendered,
    headers: { 'List-Unsubscribe': `<${unsubscribe}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
  });
  await markNotified(db, job, upToSeq);
  await db.insert(audit).values({
    workspaceId: job.workspaceId,
    actorType: 'system',
    action: AUDIT_SENT,
    targetType: 'conversation',
    targetId: job.conversationId,
    metadata: { chat_user_id: job.chatUserId, message_count: messageCount, up_to_seq: upToSeq },
  });
  return { outcome: 'sent', messageCount, upToSeq };
}

export interface MissedMessageEmailContent {
  readonly recipientName: string | null;
  readonly workspaceName: string;
  readonly conversationTitle: string | null;
  /** The quoted messages (at most MAX_QUOTED_MESSAGES are shown), sender label and text. */
  readonly messages: readonly { readonly sender: string; readonly content: string }[];
  /** All unread messages, the quoted ones included ("… and N more"). */
  readonly messageCount: number;
  readonly conversationUrl: string;
  readonly unsubscribeUrl: string;
}

/**
 * The variables of a missed-message email and its rendering: every tenant or user value is HTML-escaped, only the
 * message list is built here from escaped parts (SPEC: templates escaped). The real send and the preview both use it,
 * so a preview shows exactly what would be sent.
 */
export function renderMissedMessageEmail(template: EmailTemplate, content: MissedMessageEmailContent): EmailTemplate {
  const quoted = content.messages.slice(0, MAX_QUOTED_MESSAGES);
  const more = content.messageCount - quoted.length;
  const messagesHtml =
    '<ul style="padding-left:18px">' +
    quoted.map((r) => `<li><strong>${escapeHtml(r.sender)}:</strong> ${escapeHtml(r.content.slice(0, 500))}</li>`).join('') +
    (more > 0 ? `<li>… and ${more} more</li>` : '') +
    '</ul>';
  const messagesText = quoted.map((r) => `${r.sender}: ${r.content.slice(0, 500)}`).join('\n') + (more > 0 ? `\n… and ${more} more` : '');
  return renderEmailTemplate(
    template,
    {
      recipient_name: content.recipientName || 'there',
      workspace_name: content.workspaceName,
      conversation_title: content.conversationTitle ?? 'your conversation',
      message_count: String(content.messageCount),
      message_count_label: content.messageCount === 1 ? '1 new message' : `${content.messageCount} new messages`,
      messages_html: messagesHtml,
      messages_text: messagesText,
      conversation_url: content.conversationUrl,
      unsubscribe_url: content.unsubscribeUrl,
    },
    new Set(['messages_html']),
  );
}

/**
 * Preview of a widget configuration's missed-message email (SPEC: templates previewable): the template the
 * configuration's `missed_message_email.template_key` selects for this workspace (its own row, else the platform's,
 * else the built-in), or a `draft` not saved yet, rendered with sample data through the same code as a real send.
 * Nothing is sent and no unsubscribe token is minted (the link is a placeholder). Scoped to the workspace (T-17).
 */
export async function previewMissedMessageEmail(params: {
  db: Executor;
  workspaceId: string;
  appUrl: string;
  /** The widget configuration whose template key is used; absent → the default key. */
  widgetConfigId?: string;
  draft?: EmailTemplate;
  /** Sample data overrides (e.g. a long name to check the layout). */
  sample?: Partial<MissedMessageEmailContent>;
}): Promise<EmailTemplate & { readonly templateKey: string }> {
  const [workspace] = await params.db
    .select({ name: schema.workspaces.name })
    .from(schema.workspaces)
    .where(eq(schema.workspaces.id, params.workspaceId))
    .limit(1);
  if (!workspace) throw notFound('Workspace');
  let policyJson: unknown = {};
  if (params.widgetConfigId) {
    const [config] = await params.db
      .select({ policies: schema.widgetConfigs.policies })
      .from(schema.widgetConfigs)
      .where(and(eq(schema.widgetConfigs.workspaceId, params.workspaceId), eq(schema.widgetConfigs.id, params.widgetConfigId)))
      .limit(1);
    if (!config) throw notFound('Widget configuration');
    policyJson = config.policies;
  }
  const templateKey = parsePolicies(policyJson).missed_message_email.template_key;
  const template = params.draft ?? (await loadEmailTemplate({ db: params.db, workspaceId: params.workspaceId, key: templateKey }));
  const rendered = renderMissedMessageEmail(template, {
    recipientName: 'Alex Example',
    workspaceName: workspace.name,
    conversationTitle: 'Booking #1234',
    messages: [
      { sender: 'Sam', content: 'Hi! Is the flat still free next weekend?' },
      { sender: 'Sam', content: 'We would arrive on Friday evening.' },
    ],
    messageCount: 2,
    conversationUrl: params.appUrl,
    unsubscribeUrl: `${params.appUrl.replace(/\/$/, '')}/api/notifications/unsubscribe?token=preview`,
    ...params.sample,
  });
  return { ...rendered, templateKey };
}

/** For tests and the dashboard: emails sent for a workspace since the start of the UTC day. */
export async function countMissedMessageEmailsToday(params: { db: Executor; workspaceId: string; now: Date }): Promise<number> {
  const audit = schema.auditLog;
  const [row] = await params.db
    .select({ n: count() })
    .from(audit)
    .where(and(eq(audit.workspaceId, params.workspaceId), inArray(audit.action, [AUDIT_SENT]), gte(audit.createdAt, startOfUtcDay(params.now))));
  return Number(row?.n ?? 0);
}
