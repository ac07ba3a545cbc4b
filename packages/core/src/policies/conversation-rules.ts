import type { PolicyRejection } from './engine.ts';
import type { Policies } from './policy.schema.ts';

/**
 * The rest of a widget configuration's policy set (SPEC §6) as pure decisions the routes and workers ask:
 * attachments, edit/delete windows, who may start a conversation, auto-close. Rate limits are plain numbers the
 * rate-limit driver applies (`policies.rate_limits`); switches (read receipts, typing, presence) are booleans.
 */

const toMs = (value: Date | number): number => (typeof value === 'number' ? value : value.getTime());

/**
 * An attachment's type (sniffed from its bytes, SPEC §7) and size against the policy. Answers the registry code
 * to throw: 403 when attachments are off, 415 for a type not allowed, 413 for a file too large.
 */
export function checkAttachmentPolicy(params: {
  policies: Policies;
  sniffedMimeType: string;
  sizeBytes: number;
}): PolicyRejection | null {
  const a = params.policies.attachments;
  if (!a.enabled) {
    return { code: 'forbidden', message: 'Attachments are turned off for this conversation.', details: { rule: 'attachments' } };
  }
  if (!a.allowed_types.includes(params.sniffedMimeType)) {
    return {
      code: 'unsupported_media_type',
      message: 'This type of file is not allowed here.',
      details: { rule: 'attachments', allowed_types: [...a.allowed_types] },
    };
  }
  if (params.sizeBytes > a.max_size_bytes) {
    return {
      code: 'payload_too_large',
      message: `Files can be at most ${a.max_size_bytes} bytes.`,
      details: { rule: 'attachments', max_size_bytes: a.max_size_bytes },
    };
  }
  return null;
}

function withinWindow(windowS: number | null, sentAt: Date | number, now: Date | number): boolean {
  if (windowS === null) return true;
  return toMs(now) - toMs(sentAt) <= windowS * 1000;
}

/** Own messages may be edited within `edit_window_s` (null = always, 0 = never). */
export function canEditWithinWindow(params: { policies: Policies; sentAt: Date | number; now: Date | number }): boolean {
  const w = params.policies.edit_window_s;
  return w !== 0 && withinWindow(w, params.sentAt, params.now);
}

/** Own messages may be deleted within `delete_window_s` (null = always, 0 = never). */
export function canDeleteWithinWindow(params: { policies: Policies; sentAt: Date | number; now: Date | number }): boolean {
  const w = params.policies.delete_window_s;
  return w !== 0 && withinWindow(w, params.sentAt, params.now);
}

/**
 * Who may start a conversation: `policies.can_start` when set, else the configuration's `roles.can_start`;
 * `*` admits every role. With neither set, anyone may (a single-app chat).
 */
export function canStartConversation(params: {
  policies: Policies;
  roles?: { can_start?: unknown } | null;
  role: string | null | undefined;
}): boolean {
  const fromRoles = params.roles?.can_start;
  const allowed =
    params.policies.can_start ??
    (Array.isArray(fromRoles) ? fromRoles.filter((r): r is string => typeof r === 'string') : null);
  if (allowed === null) return true;
  if (allowed.includes('*')) return true;
  return !!params.role && allowed.includes(params.role);
}

/** True when an open conversation has been quiet for `auto_close_after_s` (null = never closes by itself). */
export function isAutoCloseDue(params: { policies: Policies; lastActivityAt: Date | number; now: Date | number }): boolean {
  const after = params.policies.auto_close_after_s;
  return after !== null && toMs(params.now) - toMs(params.lastActivityAt) >= after * 1000;
}
