import { z } from 'zod';
import { displayNameSchema, idParamSchema } from '../v1/shared/common.schema.ts';

/** A visitor's display name: trimmed, 1–60 characters, no control or BiDi characters (V-03, V-04). */
export const demoNameSchema = displayNameSchema.pipe(z.string().min(1).max(60));

export const roomParamsSchema = z.object({ id: idParamSchema }).strict();

export const roomJsonSchema = z.object({
  id: z.string(),
  name: z.string(),
  participant_count: z.number().int(),
  created_at: z.string(),
});

const userJsonSchema = z.object({ id: z.string(), name: z.string().nullable() });

export const demoSessionSchema = z.object({
  token: z.string(),
  expires_at: z.string(),
  user: userJsonSchema,
});

export const realtimeJsonSchema = z.object({ app_key: z.string() });

export const listingJsonSchema = z.object({
  title: z.string(),
  location: z.string(),
  price_per_night: z.number(),
  currency: z.string(),
  check_in: z.string(),
  check_out: z.string(),
  guests: z.number().int(),
});

export const marketplaceJsonSchema = z.object({
  conversation_id: z.string(),
  state: z.string().nullable(),
  listing: listingJsonSchema,
  guest: demoSessionSchema,
  host: demoSessionSchema,
  realtime: realtimeJsonSchema,
});
