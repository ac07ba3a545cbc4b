import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  blockedUserIds,
  parsePolicies,
  requireParticipant,
  toAttachmentJson,
  type AttachmentSerializer,
  type AuthenticatedWidgetSession,
  type Policies,
} from '@reusable-chat/core';
import { widgetOf } from '../../plugins/widget-auth.ts';

/** The caller's session plus the conversation they must take part in (T-03, T-05, A-07 → 404). */
export async function participantContext(app: FastifyInstance, request: FastifyRequest, conversationId: string) {
  const auth = widgetOf(request);
  const access = await requireParticipant({
    db: app.deps.database.db,
    workspaceId: auth.workspace.id,
    conversationId,
    chatUserId: auth.user.id,
  });
  return { auth, ...access };
}

/** Attachments in widget payloads carry fresh short-lived URLs (SPEC §7). */
export function attachmentSerializer(app: FastifyInstance): AttachmentSerializer {
  return (row) => toAttachmentJson(row, app.deps.blobStore);
}

export function blockedBy(app: FastifyInstance, auth: AuthenticatedWidgetSession): Promise<Set<string>> {
  return blockedUserIds({ db: app.deps.database.db, workspaceId: auth.workspace.id, blockerUserId: auth.user.id });
}

/** The conversation's policy set with defaults filled in (core/policies, tolerant of bad stored values). */
export function policiesOf(widgetConfig: { policies: unknown } | null | undefined): Policies {
  return parsePolicies(widgetConfig?.policies ?? {});
}
