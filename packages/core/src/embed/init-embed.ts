import { and, asc, eq } from 'drizzle-orm';
import { schema, type Executor, type JsonObject } from '@reusable-chat/db';
import { AppError } from '../errors/registry.ts';
import { readAttachmentPolicy } from '../attachments/attachment-policy.ts';
import { parsePolicies } from '../policies/policy.schema.ts';
import type { PublicKeyRow } from './public-keys.ts';
import type { WorkspaceRow } from '../workspaces/create-workspace.ts';

export type WidgetConfigRow = typeof schema.widgetConfigs.$inferSelect;

/**
 * Picks the widget configuration for a page: the slug it asks for, else the key's own configuration, else the
 * workspace's first one. Always scoped to the key's workspace, so a slug of another tenant is simply unknown.
 */
export async function resolveWidgetConfig(params: {
  db: Executor;
  workspaceId: string;
  slug?: string;
  widgetConfigId?: string | null;
}): Promise<WidgetConfigRow> {
  const { db, workspaceId } = params;
  const where = params.slug
    ? and(eq(schema.widgetConfigs.workspaceId, workspaceId), eq(schema.widgetConfigs.slug, params.slug))
    : params.widgetConfigId
      ? and(eq(schema.widgetConfigs.workspaceId, workspaceId), eq(schema.widgetConfigs.id, params.widgetConfigId))
      : eq(schema.widgetConfigs.workspaceId, workspaceId);
  const rows = await db.select().from(schema.widgetConfigs).where(where).orderBy(asc(schema.widgetConfigs.createdAt)).limit(1);
  if (!rows[0]) throw new AppError('not_found', 'Widget configuration not found.');
  return rows[0];
}

/**
 * What a page may know about a configuration: switches and limits the UI needs. Moderation details
 * (blocked term lists, masking patterns) stay on the server so they cannot be probed around.
 */
export function toPublicWidgetConfigJson(config: WidgetConfigRow, workspaceSettings: JsonObject = {}): JsonObject {
  const p = parsePolicies(config.policies);
  const attachments = readAttachmentPolicy(config.policies, workspaceSettings);
  const roles = config.roles;
  return {
    id: config.id,
    slug: config.slug,
    name: config.name,
    participant_roles: Array.isArray(roles.participant_roles) ? roles.participant_roles : [],
    can_start: p.can_start ?? (Array.isArray(roles.can_start) ? roles.can_start : []),
    max_length: p.max_length,
    read_receipts: p.read_receipts,
    typing: p.typing,
    presence: p.presence,
    edit_window_s: p.edit_window_s,
    delete_window_s: p.delete_window_s,
    attachments: {
      enabled: attachments.enabled,
      allowed_types: [...attachments.allowedTypes],
      max_size_bytes: attachments.maxSizeBytes,
    },
  };
}

export async function initEmbed(params: {
  db: Executor;
  publicKey: PublicKeyRow;
  workspace: WorkspaceRow;
  widgetSlug?: string;
}): Promise<JsonObject> {
  const config = await resolveWidgetConfig({
    db: params.db,
    workspaceId: params.workspace.id,
    ...(params.widgetSlug ? { slug: params.widgetSlug } : {}),
    widgetConfigId: params.publicKey.widgetConfigId,
  });
  const settings = params.workspace.settings;
  return {
    workspace: { id: params.workspace.id, name: params.workspace.name, kind: params.workspace.kind },
    theme: params.workspace.theme,
    widget: toPublicWidgetConfigJson(config, params.workspace.settings),
    identity_verification: params.publicKey.requireIdentityVerification,
    allow_anonymous: params.publicKey.allowAnonymous,
    powered_by: settings.powered_by !== false,
  };
}
