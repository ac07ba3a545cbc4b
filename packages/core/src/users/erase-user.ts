import { and, eq, isNull, sql } from 'drizzle-orm';
import { schema, type Database } from '@reusable-chat/db';
import type { DomainEventBus } from '../events/domain-events.ts';
import type { BlobStore } from '../ports/blob-store.ts';
import { recordAudit, type AuditActor } from '../moderation/record-audit.ts';
import type { ChatUser } from './user-json.ts';

export type ErasureMode = 'anonymize' | 'delete';

/** Workspace setting `erasure`: `anonymize` (default) keeps message rows as empty tombstones, `delete` removes them. */
export function erasureModeOf(settings: Record<string, unknown>): ErasureMode {
  return settings['erasure'] === 'delete' ? 'delete' : 'anonymize';
}

export interface ErasureResult {
  readonly mode: ErasureMode;
  readonly messages: number;
  readonly sessionsRevoked: number;
  readonly attachments: number;
  /** Outbox rows, webhook delivery-log rows and stored idempotent responses that named the person (G-03). */
  readonly derivedRecords: number;
}

/**
 * Right to erasure (GDPR Art. 17): sessions revoked, PII cleared, the user's messages anonymised or
 * deleted, their reactions and uploads removed, `erased_at` set and an audit row written — all in one
 * transaction. The external_id is freed (`erased:<id>`) so the tenant may register the person again.
 * The audit row carries counts only, never the erased data.
 */
export async function eraseUser(params: {
  db: Database;
  events?: DomainEventBus;
  blobStore?: BlobStore;
  workspaceId: string;
  user: ChatUser;
  mode: ErasureMode;
  actor: AuditActor;
  ip?: string | null;
}): Promise<ErasureResult> {
  const { db, workspaceId, user, mode } = params;
  const now = new Date();
  const outcome = await db.transaction(async (tx) => {
    const sessions = await tx
      .update(schema.widgetSessions)
      .set({ revokedAt: now })
      .where(and(eq(schema.widgetSessions.workspaceId, workspaceId), eq(schema.widgetSessions.chatUserId, user.id), isNull(schema.widgetSessions.revokedAt)))
      .returning({ id: schema.widgetSessions.id });
    const files = await tx
      .delete(schema.attachments)
      .where(and(eq(schema.attachments.workspaceId, workspaceId), eq(schema.attachments.uploaderUserId, user.id)))
      .returning({ storageKey: schema.attachments.storageKey, thumbnailKey: schema.attachments.thumbnailKey });
    await tx.delete(schema.reactions).where(and(eq(schema.reactions.workspaceId, workspaceId), eq(schema.reactions.chatUserId, user.id)));
    const mine = and(eq(schema.messages.workspaceId, workspaceId), eq(schema.messages.senderUserId, user.id));
    const messages =
      mode === 'delete'
        ? await tx.delete(schema.messages).where(mine).returning({ id: schema.messages.id })
        : await tx
            .update(schema.messages)
            .set({ content: '', originalContent: null, masked: null, metadata: { erased: true }, deletedAt: now })
            .where(mine)
            .returning({ id: schema.messages.id });
    await tx
      .update(schema.chatUsers)
      .set({
        externalId: `erased:${user.id}`,
        name: '',
        email: null,
        avatarUrl: null,
        metadata: {},
        role: null,
        erasedAt: now,
        updatedAt: now,
      })
      .where(and(eq(schema.chatUsers.workspaceId, workspaceId), eq(schema.chatUsers.id, user.id)));
    // Copies of the person's data outside the entity tables (checklist G-03: "queued jobs, webhooks pending"): every
    // stored event payload and cached API response that names them carries their id, which is a UUID, so a text
    // match on it finds exactly those rows. Pending ones go too: a webhook about an erased person is not sent later.
    const mentions = `%${user.id}%`;
    const outboxRows = await tx
      .delete(schema.outbox)
      .where(and(eq(schema.outbox.workspaceId, workspaceId), sql`${schema.outbox.payload}::text like ${mentions}`))
      .returning({ id: schema.outbox.id });
    const deliveryRows = await tx
      .delete(schema.webhookDeliveries)
      .where(and(eq(schema.webhookDeliveries.workspaceId, workspaceId), sql`${schema.webhookDeliveries.payload}::text like ${mentions}`))
      .returning({ id: schema.webhookDeliveries.id });
    const cachedResponses = await tx
      .delete(schema.idempotencyKeys)
      .where(and(eq(schema.idempotencyKeys.workspaceId, workspaceId), sql`${schema.idempotencyKeys.responseBody}::text like ${mentions}`))
      .returning({ key: schema.idempotencyKeys.key });
    const result: ErasureResult = {
      mode,
      messages: messages.length,
      sessionsRevoked: sessions.length,
      attachments: files.length,
      derivedRecords: outboxRows.length + deliveryRows.length + cachedResponses.length,
    };
    await recordAudit({
      db: tx,
      workspaceId,
      actor: params.actor,
      action: 'user.erased',
      targetType: 'chat_user',
      targetId: user.id,
      ip: params.ip ?? null,
      metadata: {
        mode,
        messages: result.messages,
        sessions_revoked: result.sessionsRevoked,
        attachments: result.attachments,
        derived_records: result.derivedRecords,
      },
    });
    return { result, files };
  });
  // Blobs go after commit: a failed delete leaves an unreachable object, never a row pointing at nothing.
  if (params.blobStore) {
    for (const f of outcome.files) {
      for (const key of [f.storageKey, f.thumbnailKey]) {
        if (key) await params.blobStore.delete(key).catch(() => undefined);
      }
    }
  }
  await params.events?.emit({ type: 'session.revoked', workspaceId, chatUserIds: [user.id] });
  return outcome.result;
}

