import type { JsonObject } from '@reusable-chat/db';
import { parsePolicies } from '../policies/policy.schema.ts';

/** Types that may be shown inline in a browser: raster images only. Everything else is a download (U-02, U-03). */
export const INLINE_SAFE_TYPES: ReadonlySet<string> = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);

/** Raster images that get width/height, a thumbnail and a metadata-free re-encode (SPEC §7, U-08). */
export const PROCESSABLE_IMAGE_TYPES: ReadonlySet<string> = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/gif']);

/** Hard ceiling whatever a configuration says: the streaming limit must stay bounded. */
export const MAX_ATTACHMENT_BYTES_CEILING = 100 * 1024 * 1024;

export interface AttachmentPolicy {
  readonly enabled: boolean;
  /** MIME types decided by content (magic bytes), never by name or declared type (U-01). */
  readonly allowedTypes: readonly string[];
  readonly maxSizeBytes: number;
}

/**
 * The `attachments` entry of a widget configuration's policy set (SPEC §6), read through the policy engine's
 * tolerant parser (core/policies: defaults for missing or invalid values), plus the workspace-wide switch
 * `settings.uploads_enabled` that overrides every configuration (U-10).
 */
export function readAttachmentPolicy(policies: unknown, workspaceSettings: JsonObject = {}): AttachmentPolicy {
  const a = parsePolicies(policies).attachments;
  return {
    enabled: workspaceSettings.uploads_enabled !== false && a.enabled,
    allowedTypes: a.allowed_types,
    maxSizeBytes: Math.min(a.max_size_bytes, MAX_ATTACHMENT_BYTES_CEILING),
  };
}
