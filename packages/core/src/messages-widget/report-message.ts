import { and, eq } from 'drizzle-orm';
import { schema, type Executor } from '@reusable-chat/db';
import type { DomainEventBus } from '../events/domain-events.ts';

export type ReportRow = typeof schema.reports.$inferSelect;

export function toReportJson(report: ReportRow): Record<string, unknown> {
  return {
    id: report.id,
    message_id: report.messageId,
    source: report.source,
    reason: report.reason,
    status: report.status,
    created_at: report.createdAt.toISOString(),
  };
}

/**
 * A participant reports a message: one open report per reporter and message (a repeat answers the same
 * report), queued for the dashboard's moderation queue (SPEC §6). The caller checked the message is in a
 * conversation the reporter takes part in.
 */
export async function reportMessage(params: {
  db: Executor;
  events?: DomainEventBus;
  workspaceId: string;
  conversationId: string;
  messageId: string;
  reporterUserId: string;
  reason: string | null;
}): Promise<{ report: ReportRow; created: boolean }> {
  const existing = await params.db
    .select()
    .from(schema.reports)
    .where(
      and(
        eq(schema.reports.workspaceId, params.workspaceId),
        eq(schema.reports.messageId, params.messageId),
        eq(schema.reports.reporterUserId, params.reporterUserId),
        eq(schema.reports.status, 'open'),
      ),
    )
    .limit(1);
  if (existing[0]) return { report: existing[0], created: false };
  const [report] = await params.db
    .insert(schema.reports)
    .values({
      workspaceId: params.workspaceId,
      messageId: params.messageId,
      reporterUserId: params.reporterUserId,
      source: 'report',
      reason: params.reason,
    })
    .returning();
  if (!report) throw new Error('report insert returned no row');
  await params.events?.emit({
    type: 'report.created',
    workspaceId: params.workspaceId,
    report: { ...toReportJson(report), conversation_id: params.conversationId },
  });
  return { report, created: true };
}
