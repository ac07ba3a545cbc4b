import { z } from 'zod';

/**
 * Field schemas shared by the consumer API routes. Objects are `.strict()`: unknown fields — including
 * any attempt to name a workspace (`workspace_id`, `account_id` …, checklist T-04/T-08) — are 422.
 */

/** C0/C1 controls (incl. NUL, CR, LF) never belong in identifiers or names (V-04, V-10). */
function hasControlChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return true;
  }
  return false;
}
/** BiDi overrides/isolates in display names enable Trojan-Source-style spoofing (V-03): stripped. */
const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069]/g;

export const noControlChars = (s: string) => !hasControlChar(s);

export const externalIdSchema = z
  .string()
  .min(1)
  .max(255)
  .refine(noControlChars, 'must not contain control characters')
  .describe('The tenant\'s own user id (unique per workspace).');

export const displayNameSchema = z
  .string()
  .max(200)
  .refine(noControlChars, 'must not contain control characters')
  .transform((s) => s.replace(BIDI_CONTROLS, '').trim());

export const shortTextSchema = z.string().max(500).refine(noControlChars, 'must not contain control characters');

export const emailSchema = z.email().max(320);

/** Only http(s) URLs: `javascript:` and `data:` avatars are refused (V-10). */
export const httpUrlSchema = z
  .url({ protocol: /^https?$/ })
  .max(2048);

const METADATA_MAX_KEYS = 50;
const METADATA_MAX_KEY_LENGTH = 64;
const METADATA_MAX_BYTES = 16 * 1024;

/** Bounded JSON object (SPEC §3 "metadata (bounded JSON)", checklist V-11). */
export const metadataSchema = z
  .record(z.string().min(1).max(METADATA_MAX_KEY_LENGTH), z.json())
  .refine((m) => Object.keys(m).length <= METADATA_MAX_KEYS, `at most ${METADATA_MAX_KEYS} keys`)
  .refine((m) => Buffer.byteLength(JSON.stringify(m), 'utf8') <= METADATA_MAX_BYTES, `at most ${METADATA_MAX_BYTES} bytes of JSON`)
  .describe('Free-form JSON object: at most 50 keys, keys ≤ 64 characters, ≤ 16 KiB serialised.');

export const idParamSchema = z.guid().describe('UUID');

export const conversationParamsSchema = z.object({ id: idParamSchema }).strict();
export const userParamsSchema = z.object({ external_id: externalIdSchema }).strict();

/** `limit` above 100 is clamped (V-08); zero, negatives and non-numbers are 422. */
export const limitSchema = z.coerce.number().int().min(1).default(50).transform((n) => Math.min(n, 100));

export const cursorSchema = z.string().min(1).max(1024).describe('Opaque cursor from `next_cursor`.');

export function listResponse<T extends z.ZodType>(item: T) {
  return z.object({ data: z.array(item), next_cursor: z.string().nullable() });
}

export const errorResponseSchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() }),
});

export const userJsonSchema = z
  .looseObject({
    id: z.string(),
    external_id: z.string(),
    name: z.string(),
    email: z.string().nullable().optional(),
    avatar_url: z.string().nullable(),
    metadata: z.record(z.string(), z.unknown()).optional(),
  })
  .describe('Chat user');

export const messageJsonSchema = z
  .looseObject({
    id: z.string(),
    conversation_id: z.string(),
    seq: z.number().int(),
    sender: z.looseObject({ type: z.enum(['user', 'agent', 'system']), id: z.string().nullable() }),
    type: z.enum(['text', 'system', 'attachment']),
    content: z.string(),
    attachments: z.array(z.record(z.string(), z.unknown())),
    reactions: z.array(z.record(z.string(), z.unknown())),
    client_id: z.string().nullable(),
    created_at: z.string(),
  })
  .describe('Message');

export const conversationJsonSchema = z
  .looseObject({
    id: z.string(),
    type: z.enum(['direct', 'group', 'support', 'demo']),
    subject: z.string().nullable(),
    state: z.string().nullable(),
    status: z.enum(['open', 'closed']),
    metadata: z.record(z.string(), z.unknown()),
    participants: z.array(z.looseObject({ role: z.string() })),
  })
  .describe('Conversation');

/** Routes without query parameters still refuse unknown ones (`?workspace_id=…` is 422, T-04/T-13). */
export const noQuerySchema = z.object({}).strict();
/** Routes without a body refuse one with fields, so a stray `workspace_id` is never silently ignored. */
export const noBodySchema = z.object({}).strict().nullish();
