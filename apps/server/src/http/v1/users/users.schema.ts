import { z } from 'zod';
import { displayNameSchema, emailSchema, externalIdSchema, httpUrlSchema, metadataSchema, shortTextSchema } from '../shared/common.schema.ts';

/** Profile fields a tenant may set; `null` clears an optional one. */
export const userProfileFields = {
  name: displayNameSchema,
  email: emailSchema.nullable(),
  avatar_url: httpUrlSchema.nullable(),
  metadata: metadataSchema,
  role: shortTextSchema.max(64).nullable(),
};

export const upsertUserBodySchema = z
  .object({
    external_id: externalIdSchema,
    name: userProfileFields.name,
    email: userProfileFields.email.optional(),
    avatar_url: userProfileFields.avatar_url.optional(),
    metadata: userProfileFields.metadata.optional(),
    role: userProfileFields.role.optional(),
  })
  .strict();

export const updateUserBodySchema = z
  .object({
    name: userProfileFields.name.optional(),
    email: userProfileFields.email.optional(),
    avatar_url: userProfileFields.avatar_url.optional(),
    metadata: userProfileFields.metadata.optional(),
    role: userProfileFields.role.optional(),
  })
  .strict();

export function toUserFields(body: z.infer<typeof updateUserBodySchema>) {
  return {
    ...(body.name !== undefined ? { name: body.name } : {}),
    ...(body.email !== undefined ? { email: body.email } : {}),
    ...(body.avatar_url !== undefined ? { avatarUrl: body.avatar_url } : {}),
    ...(body.metadata !== undefined ? { metadata: body.metadata as Record<string, never> } : {}),
    ...(body.role !== undefined ? { role: body.role } : {}),
  };
}
