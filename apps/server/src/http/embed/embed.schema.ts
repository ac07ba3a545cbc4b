import { z } from 'zod';
import { displayNameSchema, emailSchema, externalIdSchema, httpUrlSchema } from '../v1/shared/common.schema.ts';

export const publicKeyField = z.string().min(1).max(100).describe('Public key `pk_…` of the workspace');

export const initBody = z
  .object({
    public_key: publicKeyField,
    widget: z.string().min(1).max(64).regex(/^[a-z0-9][a-z0-9_-]*$/).optional().describe('Widget configuration slug'),
  })
  .strict();

export const sessionBody = z
  .object({
    public_key: publicKeyField,
    user: z
      .object({
        external_id: externalIdSchema,
        user_hash: z.string().regex(/^[0-9a-fA-F]{64}$/, 'hex HMAC-SHA256').optional(),
        // Shared with the consumer API: no control characters, BiDi overrides stripped (V-03, V-10).
        name: displayNameSchema.optional(),
        email: emailSchema.optional(),
        avatar_url: httpUrlSchema.optional(),
      })
      .strict()
      .optional()
      .describe('Identified user; needs user_hash = hex(HMAC-SHA256(identity_secret, external_id))'),
    name: displayNameSchema.optional().describe('Display name of an anonymous visitor'),
    previous_token: z.string().min(1).max(200).optional().describe('The session this browser held; revoked when the identity changes'),
    expires_in: z.number().int().min(60).max(30 * 24 * 3600).optional(),
  })
  .strict();

export const sessionResponse = z.object({ token: z.string(), expires_at: z.string(), user: z.record(z.string(), z.unknown()) });
