import { z } from 'zod';
import { CONTACT_KINDS, DEFAULT_MIN_PHONE_DIGITS } from './contact-info.ts';
import { deepFreeze } from '../shared/deep-freeze.ts';

/**
 * The `policies` JSON of a widget configuration (SPEC §6, stored in widget_configs.policies). Every key is
 * optional and takes a safe default, so `{}` is a valid, conservative policy set and older rows keep working
 * when keys are added. Writes (dashboard) validate with `policiesInputSchema` (unknown keys refused);
 * reads use `parsePolicies`, which never throws on a stored row.
 */

const MAX_MESSAGE_LENGTH_CEILING = 100_000;
/** Same ceiling as the attachment upload stream (SPEC §7); a configuration cannot lift it. */
const MAX_ATTACHMENT_BYTES_CEILING = 100 * 1024 * 1024;
const DAY_S = 86_400;

const stateName = z.string().trim().min(1).max(64);
const roleName = z.string().trim().min(1).max(64);
const mimeType = z.string().regex(/^[a-z]+\/[a-z0-9.+-]+$/, 'a MIME type such as image/png');
const exemptSenderTypes = z.array(z.enum(['user', 'agent', 'system']));

export const contactInfoPolicySchema = z
  .object({
    /** `mask` replaces, `reject` refuses the message, `flag` lets it through into the moderation queue. */
    action: z.enum(['off', 'mask', 'reject', 'flag']).default('off'),
    kinds: z.array(z.enum(CONTACT_KINDS)).default(['email', 'phone', 'url']),
    /** Conversation states in which contact details may be shared (e.g. `booked`, set by the tenant's backend). */
    allowed_states: z.array(stateName).max(50).default([]),
    /** Agents and system messages share contact details on purpose (support replies, booking confirmations). */
    exempt_sender_types: exemptSenderTypes.default(['agent', 'system']),
    /** Chat-user roles that are exempt, e.g. a marketplace's `staff`. */
    exempt_roles: z.array(roleName).max(50).default([]),
    min_phone_digits: z.number().int().min(5).max(15).default(DEFAULT_MIN_PHONE_DIGITS),
    /** Links to these domains (and subdomains) stay visible, e.g. the marketplace's own site. */
    allowed_domains: z
      .array(z.string().trim().toLowerCase().regex(/^[a-z0-9-]+(\.[a-z0-9-]+)+$/, 'a domain such as example.com'))
      .max(100)
      .default([]),
  })
  .strict();

export const blockedTermsPolicySchema = z
  .object({
    /** Whole words or phrases, matched case-insensitively after Unicode normalisation; `word*` matches a prefix. */
    terms: z.array(z.string().trim().min(1).max(100)).max(2_000).default([]),
    action: z.enum(['mask', 'reject', 'flag']).default('mask'),
    exempt_sender_types: exemptSenderTypes.default(['system']),
  })
  .strict();

export const attachmentsPolicySchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Types decided by content (magic bytes), never by file name or declared type (SPEC §7). */
    allowed_types: z.array(mimeType).max(100).default(['image/jpeg', 'image/png', 'image/gif', 'image/webp', 'application/pdf']),
    max_size_bytes: z.number().int().min(1).max(MAX_ATTACHMENT_BYTES_CEILING).default(10 * 1024 * 1024),
  })
  .strict();

export const rateLimitsPolicySchema = z
  .object({
    per_session_per_minute: z.number().int().min(1).max(10_000).default(30),
    per_workspace_per_minute: z.number().int().min(1).max(1_000_000).default(6_000),
    new_conversations_per_session_per_12h: z.number().int().min(1).max(10_000).default(20),
  })
  .strict();

export const missedMessageEmailPolicySchema = z
  .object({
    enabled: z.boolean().default(true),
    delay_minutes: z.number().int().min(1).max(7 * 24 * 60).default(15),
    template_key: z.string().trim().min(1).max(100).default('missed_message'),
  })
  .strict();

const nullableSeconds = (max: number) => z.number().int().min(0).max(max).nullable();

const policyShape = {
  contact_info: contactInfoPolicySchema.prefault({}),
  blocked_terms: blockedTermsPolicySchema.prefault({}),
  /** Characters (code points), SPEC §6 default 10 000. */
  max_length: z.number().int().min(1).max(MAX_MESSAGE_LENGTH_CEILING).default(10_000),
  /** Links per message; null = no limit. */
  max_links: z.number().int().min(0).max(1_000).nullable().default(10),
  /** The same sender repeating the same text within this many seconds is refused; 0 = off. */
  duplicate_window_s: z.number().int().min(0).max(DAY_S).default(0),
  attachments: attachmentsPolicySchema.prefault({}),
  rate_limits: rateLimitsPolicySchema.prefault({}),
  /** Own messages may be edited/deleted this long after sending; null = always, 0 = never. */
  edit_window_s: nullableSeconds(365 * DAY_S).default(15 * 60),
  delete_window_s: nullableSeconds(365 * DAY_S).default(60 * 60),
  read_receipts: z.boolean().default(true),
  typing: z.boolean().default(true),
  presence: z.boolean().default(true),
  /**
   * Chat-user roles that may start a conversation (`*` = any). Null defers to the configuration's
   * `roles.can_start`, which the embed API already publishes.
   */
  can_start: z.array(roleName).max(50).nullable().default(null),
  /** Close an open conversation after this long without a message; null = never. */
  auto_close_after_s: z.number().int().min(60).max(365 * DAY_S).nullable().default(null),
  missed_message_email: missedMessageEmailPolicySchema.prefault({}),
};

/** For writes: unknown keys and bad values are validation errors (422). */
export const policiesInputSchema = z.object(policyShape).strict();

export type Policies = z.output<typeof policiesInputSchema>;
export type PoliciesInput = z.input<typeof policiesInputSchema>;
export type ContactInfoPolicy = Policies['contact_info'];
export type BlockedTermsPolicy = Policies['blocked_terms'];
export type AttachmentsPolicy = Policies['attachments'];
export type RateLimitsPolicy = Policies['rate_limits'];
export type MissedMessageEmailPolicy = Policies['missed_message_email'];

/** Older spellings accepted on read so rows written before this schema keep their meaning. */
function upgradeLegacyKeys(json: Record<string, unknown>): Record<string, unknown> {
  const attachments = json.attachments;
  if (attachments && typeof attachments === 'object' && !Array.isArray(attachments)) {
    const a = { ...(attachments as Record<string, unknown>) };
    if (a.max_size_bytes === undefined && typeof a.max_bytes === 'number') a.max_size_bytes = a.max_bytes;
    delete a.max_bytes;
    return { ...json, attachments: a };
  }
  return json;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Reads a stored policy set. Missing keys take defaults; a key (or nested key) whose stored value is invalid
 * falls back to its default instead of failing the message being sent — the write path validates strictly.
 */
export function parsePolicies(json: unknown): Policies {
  if (!isPlainObject(json)) return parseStoredPolicies({});
  // Every send reads its configuration's policies (twice: the route's limits, then the policy hook), and a
  // full schema parse costs more than the rest of the policy checks together; a configuration changes rarely,
  // so its parsed form is kept — by object for the same read, by content across reads. Frozen: shared.
  const same = parsedByObject.get(json);
  if (same) return same;
  const key = JSON.stringify(json);
  let parsed = parsedByContent.get(key);
  if (!parsed) {
    parsed = deepFreeze(parseStoredPolicies(json));
    if (parsedByContent.size >= MAX_CACHED_POLICY_SETS) parsedByContent.delete(parsedByContent.keys().next().value!);
    parsedByContent.set(key, parsed);
  }
  parsedByObject.set(json, parsed);
  return parsed;
}

/** Distinct stored policy sets kept parsed (a tenant has a handful of widget configurations). */
const MAX_CACHED_POLICY_SETS = 512;
const parsedByContent = new Map<string, Policies>();
const parsedByObject = new WeakMap<object, Policies>();


function parseStoredPolicies(json: Record<string, unknown>): Policies {
  const input = upgradeLegacyKeys(json);
  const whole = policiesInputSchema.safeParse(input);
  if (whole.success) return whole.data;
  const out: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(policyShape) as [string, z.ZodType][]) {
    out[key] = parseTolerantly(schema, input[key]);
  }
  return out as Policies;
}

function parseTolerantly(schema: z.ZodType, value: unknown): unknown {
  const direct = schema.safeParse(value);
  if (direct.success) return direct.data;
  const fallback = schema.parse(undefined);
  // An object section keeps its valid fields and drops the invalid or unknown ones.
  if (isPlainObject(value) && isPlainObject(fallback)) {
    const kept: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (!(k in fallback)) continue;
      if (schema.safeParse({ ...kept, [k]: v }).success) kept[k] = v;
    }
    return schema.parse(kept);
  }
  return fallback;
}

/** The policy set with every default filled in (`parsePolicies({})`). */
export const DEFAULT_POLICIES: Policies = parsePolicies({});
