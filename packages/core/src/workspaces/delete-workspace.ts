import { and, eq, isNotNull, isNull } from 'drizzle-orm';
import { schema, type Database } from '@reusable-chat/db';
import { AppError, notFound } from '../errors/registry.ts';
import type { AuditActor } from '../moderation/record-audit.ts';
import { revokeApiKey } from '../identity/api-keys.ts';
import type { BlobStore } from '../ports/blob-store.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Chat users per `terminateUsers` call, so a large workspace does not build one huge message. */
const TERMINATE_BATCH = 500;

export interface WorkspaceDeletionResult {
  readonly workspaceId: string;
  readonly apiKeysRevoked: number;
  readonly publicKeysRevoked: number;
  readonly sessionsRevoked: number;
  readonly webhooksDisabled: number;
  readonly socketsTerminatedFor: number;
  readonly storageObjectsDeleted: number;
}

/**
 * Workspace deletion (offboarding; checklist G-05, OWASP multi-tenancy §7). In order, so that a failure part-way
 * leaves a workspace that is shut but can be deleted again, never half-open:
 * 1. one transaction: status `suspended`, every API key and public key revoked, every widget session revoked,
 *    every webhook endpoint disabled, unsent outbox rows dropped (no webhook about it leaves after this);
 * 2. the chat users' sockets are closed through `terminateUsers` (the realtime server's cluster-wide
 *    terminate, as for bans and revocation) — their sessions no longer re-authorise;
 * 3. every stored object of the workspace (`workspaces/{id}/…`: attachments, thumbnails, exports) is deleted;
 * 4. one transaction: the workspace's audit history and the workspace row go (every tenant table cascades
 *    from it), and one audit row records the deletion — ids and counts only, no name or other PII.
 * Backups are not touched: docs/workspace-deletion.md says how long deleted data lives on in them.
 */
export async function deleteWorkspace(params: {
  db: Database;
  workspaceId: string;
  actor: AuditActor;
  blobStore?: BlobStore;
  /** Closes the sockets signed in as these chat users on every realtime node. */
  terminateUsers?: (chatUserIds: string[]) => Promise<void>;
  now?: Date;
}): Promise<WorkspaceDeletionResult> {
  const { db, workspaceId } = params;
  // Checklist G-04: a missing or malformed id is an error, never a broad delete.
  if (typeof workspaceId !== 'string' || !UUID.test(workspaceId)) {
    throw new AppError('validation_failed', 'A workspace id (UUID) is required.');
  }
  const now = params.now ?? new Date();

  const shut = await db.transaction(async (tx) => {
    const [workspace] = await tx
      .update(schema.workspaces)
      .set({ status: 'suspended', updatedAt: now })
      .where(eq(schema.workspaces.id, workspaceId))
      .returning({ id: schema.workspaces.id });
    if (!workspace) throw notFound('Workspace');
    const liveKeys = await tx
      .select({ id: schema.apiKeys.id })
      .from(schema.apiKeys)
      .where(and(eq(schema.apiKeys.workspaceId, workspaceId), isNull(schema.apiKeys.revokedAt)));
    // One by one through revokeApiKey: this process then refuses them at once, not after its auth cache's second.
    let apiKeys = 0;
    for (const key of liveKeys) if (await revokeApiKey({ db: tx, workspaceId, keyId: key.id })) apiKeys += 1;
    const publicKeys = await tx
      .update(schema.publicKeys)
      .set({ revokedAt: now })
      .where(and(eq(schema.publicKeys.workspaceId, workspaceId), isNull(schema.publicKeys.revokedAt)))
      .returning({ id: schema.publicKeys.id });
    const sessions = await tx
      .update(schema.widgetSessions)
      .set({ revokedAt: now })
      .where(and(eq(schema.widgetSessions.workspaceId, workspaceId), isNull(schema.widgetSessions.revokedAt)))
      .returning({ id: schema.widgetSessions.id });
    const webhooks = await tx
      .update(schema.webhookEndpoints)
      .set({ disabledAt: now })
      .where(and(eq(schema.webhookEndpoints.workspaceId, workspaceId), isNull(schema.webhookEndpoints.disabledAt)))
      .returning({ id: schema.webhookEndpoints.id });
    await tx.delete(schema.outbox).where(and(eq(schema.outbox.workspaceId, workspaceId), isNull(schema.outbox.dispatchedAt)));
    const users = await tx.select({ id: schema.chatUsers.id }).from(schema.chatUsers).where(eq(schema.chatUsers.workspaceId, workspaceId));
    const attachmentKeys = await tx
      .select({ storageKey: schema.attachments.storageKey, thumbnailKey: schema.attachments.thumbnailKey })
      .from(schema.attachments)
      .where(eq(schema.attachments.workspaceId, workspaceId));
    const exportKeys = await tx
      .select({ storageKey: schema.exportJobs.storageKey })
      .from(schema.exportJobs)
      .where(and(eq(schema.exportJobs.workspaceId, workspaceId), isNotNull(schema.exportJobs.storageKey)));
    const keys = new Set<string>();
    for (const a of attachmentKeys) for (const k of [a.storageKey, a.thumbnailKey]) if (k) keys.add(k);
    for (const e of exportKeys) if (e.storageKey) keys.add(e.storageKey);
    return {
      apiKeys,
      publicKeys: publicKeys.length,
      sessions: sessions.length,
      webhooks: webhooks.length,
      userIds: users.map((u) => u.id),
      storageKeys: [...keys],
    };
  });

  if (params.terminateUsers) {
    for (let i = 0; i < shut.userIds.length; i += TERMINATE_BATCH) {
      await params.terminateUsers(shut.userIds.slice(i, i + TERMINATE_BATCH));
    }
  }

  // Only keys under this workspace's own prefix: a row can never make us delete another tenant's object.
  const prefix = `workspaces/${workspaceId}/`;
  let storageObjectsDeleted = 0;
  if (params.blobStore) {
    for (const key of shut.storageKeys) {
      if (!key.startsWith(prefix)) continue;
      // A failure stops here, before any row goes, so running the deletion again finds every key again.
      await params.blobStore.delete(key);
      storageObjectsDeleted += 1;
    }
  }

  await db.transaction(async (tx) => {
    // The workspace's own audit trail may name people (ips, metadata); it goes with the workspace. Rows that
    // merely set workspace_id null on delete would otherwise outlive it.
    await tx.delete(schema.auditLog).where(eq(schema.auditLog.workspaceId, workspaceId));
    // Every tenant table references workspaces(id) ON DELETE CASCADE (conversations, messages, users, keys, …).
    await tx.delete(schema.workspaces).where(eq(schema.workspaces.id, workspaceId));
    await tx.insert(schema.auditLog).values({
      workspaceId: null,
      actorType: params.actor.type,
      actorId: params.actor.id,
      action: 'workspace.deleted',
      targetType: 'workspace',
      targetId: workspaceId,
      metadata: {
        api_keys_revoked: shut.apiKeys,
        public_keys_revoked: shut.publicKeys,
        sessions_revoked: shut.sessions,
        webhooks_disabled: shut.webhooks,
        chat_users: shut.userIds.length,
        storage_objects_deleted: storageObjectsDeleted,
      },
    });
  });

  return {
    workspaceId,
    apiKeysRevoked: shut.apiKeys,
    publicKeysRevoked: shut.publicKeys,
    sessionsRevoked: shut.sessions,
    webhooksDisabled: shut.webhooks,
    socketsTerminatedFor: params.terminateUsers ? shut.userIds.length : 0,
    storageObjectsDeleted,
  };
}
