import { and, eq, inArray, isNotNull, lt, sql } from 'drizzle-orm';
import { schema, type Database } from '@reusable-chat/db';
import type { BlobStore } from '../ports/blob-store.ts';
import { recordAudit } from '../moderation/record-audit.ts';

/** Messages (and their attachment rows) removed per transaction: bounded so one big purge never holds long locks. */
const PURGE_BATCH = 500;

/**
 * Workspace setting `retention_days`: a positive whole number of days, or absent/null for "keep forever".
 * Anything else (0, negative, a string) counts as keep forever rather than deleting everything by mistake.
 */
export function retentionDaysOf(settings: Record<string, unknown>): number | null {
  const days = settings['retention_days'];
  return typeof days === 'number' && Number.isInteger(days) && days > 0 ? days : null;
}

/** Workspaces whose settings set a retention period (the scheduler's list; the setting is rare, so a scan is cheap). */
export async function listWorkspacesWithRetention(params: { db: Database }): Promise<{ workspaceId: string; retentionDays: number }[]> {
  const rows = await params.db
    .select({ id: schema.workspaces.id, settings: schema.workspaces.settings })
    .from(schema.workspaces)
    .where(isNotNull(sql`${schema.workspaces.settings}->'retention_days'`));
  const out: { workspaceId: string; retentionDays: number }[] = [];
  for (const row of rows) {
    const days = retentionDaysOf(row.settings);
    if (days !== null) out.push({ workspaceId: row.id, retentionDays: days });
  }
  return out;
}

export interface RetentionPurgeResult {
  readonly messages: number;
  readonly attachments: number;
  readonly cutoff: Date;
}

/**
 * Retention (checklist G-07): deletes one workspace's messages created before now − retentionDays, with their
 * attachments' rows and stored objects (thumbnails too) and, by cascade, their reactions. Every statement is scoped
 * by workspace_id (T-xx tenant isolation; G-04: never an unscoped delete). Rows go first and objects after each
 * commit, so a failed object delete leaves an unreferenced object, never a row pointing at nothing. Idempotent: a
 * second run finds nothing older than the cutoff. One audit row with the counts, only when something was deleted.
 */
export async function purgeExpiredMessages(params: {
  db: Database;
  blobStore: BlobStore;
  workspaceId: string;
  retentionDays: number;
  now: Date;
}): Promise<RetentionPurgeResult> {
  const { db, workspaceId } = params;
  if (!workspaceId || !(params.retentionDays > 0)) throw new Error('purgeExpiredMessages needs a workspace and a positive retention');
  const cutoff = new Date(params.now.getTime() - params.retentionDays * 86_400_000);
  let messages = 0;
  let attachments = 0;
  for (;;) {
    const batch = await db.transaction(async (tx) => {
      const expired = await tx
        .select({ id: schema.messages.id })
        .from(schema.messages)
        .where(and(eq(schema.messages.workspaceId, workspaceId), lt(schema.messages.createdAt, cutoff)))
        .limit(PURGE_BATCH);
      if (expired.length === 0) return { messages: 0, files: [] };
      const ids = expired.map((m) => m.id);
      const files = await tx
        .delete(schema.attachments)
        .where(and(eq(schema.attachments.workspaceId, workspaceId), inArray(schema.attachments.messageId, ids)))
        .returning({ storageKey: schema.attachments.storageKey, thumbnailKey: schema.attachments.thumbnailKey });
      const gone = await tx
        .delete(schema.messages)
        .where(and(eq(schema.messages.workspaceId, workspaceId), inArray(schema.messages.id, ids)))
        .returning({ id: schema.messages.id });
      return { messages: gone.length, files };
    });
    for (const f of batch.files) {
      for (const key of [f.storageKey, f.thumbnailKey]) {
        if (key) await params.blobStore.delete(key).catch(() => undefined);
      }
    }
    messages += batch.messages;
    attachments += batch.files.length;
    if (batch.messages < PURGE_BATCH) break;
  }
  if (messages > 0) {
    await recordAudit({
      db,
      workspaceId,
      actor: { type: 'system', id: null },
      action: 'retention.purged',
      targetType: 'workspace',
      targetId: workspaceId,
      metadata: { retention_days: params.retentionDays, cutoff: cutoff.toISOString(), messages, attachments },
    });
  }
  return { messages, attachments, cutoff };
}
