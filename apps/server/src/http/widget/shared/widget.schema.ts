import { z } from 'zod';

/**
 * Widget API field schemas. Common pieces (ids, limits, cursors, message and conversation JSON) are the
 * consumer API's, so both families validate and document the same shapes.
 */
export {
  conversationJsonSchema,
  cursorSchema,
  idParamSchema,
  limitSchema,
  listResponse,
  messageJsonSchema,
  noControlChars,
  shortTextSchema,
} from '../../v1/shared/common.schema.ts';
import { idParamSchema } from '../../v1/shared/common.schema.ts';

export const conversationParams = z.object({ id: idParamSchema }).strict();
export const messageParams = z.object({ id: idParamSchema, messageId: idParamSchema }).strict();

/** A client-generated id for idempotent sends (F-14): printable ASCII, bounded. */
export const clientIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII');

/**
 * Message text as typed by a person. The request bound is 4× the default limit; the real limit (the
 * configuration's max_length, 10 000 code points by default) is the pipeline's, with a clear 422 (V-01).
 */
export const contentSchema = z.string().max(40_000);

/** One emoji or a short `:name:`; no whitespace or control characters. */
export const emojiSchema = z
  .string()
  .min(1)
  .max(64)
  .refine((s) => Array.from(s).length <= 16, 'at most 16 characters')
  .refine((s) => !/[\s\p{Cc}]/u.test(s), 'no whitespace or control characters');

export const okResponse = z.object({ ok: z.literal(true) });
export const anyObject = z.record(z.string(), z.unknown());
