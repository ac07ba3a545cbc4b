import { z } from 'zod';
import { externalIdSchema, metadataSchema, shortTextSchema } from '../shared/common.schema.ts';

export const conversationTypeSchema = z.enum(['direct', 'group', 'support', 'demo']);
export const roleSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9_-]+$/, 'lower-case letters, digits, - and _');

export const participantInputSchema = z.object({ external_id: externalIdSchema, role: roleSchema.optional() }).strict();
export const participantsSchema = z.array(participantInputSchema).max(100);

/** Conversation fields a tenant sets: subject (e.g. `booking:123`), state (e.g. `booked`), name, metadata. */
export const conversationFields = {
  subject: shortTextSchema.max(255).nullable(),
  state: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits and _ . : -')
    .nullable(),
  name: shortTextSchema.max(200).nullable(),
  metadata: metadataSchema,
};
