import { schema, type Executor, type JsonObject } from '@reusable-chat/db';

export interface AuditActor {
  readonly type: 'admin' | 'api_key' | 'system' | 'chat_user';
  readonly id: string | null;
}

/** One audit row; written inside the caller's transaction so the action and its record commit together. */
export async function recordAudit(params: {
  db: Executor;
  workspaceId: string;
  actor: AuditActor;
  action: string;
  targetType?: string;
  targetId?: string;
  ip?: string | null;
  metadata?: JsonObject;
}): Promise<void> {
  await params.db.insert(schema.auditLog).values({
    workspaceId: params.workspaceId,
    actorType: params.actor.type,
    actorId: params.actor.id,
    action: params.action,
    targetType: params.targetType ?? null,
    targetId: params.targetId ?? null,
    ip: params.ip ?? null,
    metadata: params.metadata ?? {},
  });
}
