/** `@reusable-chat/sdk/node`: the consumer API client and webhook verification (server side only). */
export {
  ConsumerClient,
  type ConsumerClientOptions,
  type CreateConversationInput,
  type EraseUserResult,
  type JsonObject,
  type JsonValue,
  type SessionTokenJson,
  type UpdateUserInput,
  type UpsertUserInput,
} from './consumer-client.ts';
export { DEFAULT_WEBHOOK_TOLERANCE_S, WEBHOOK_SECRET_PREFIX, WebhookVerificationError, signWebhook, verifyWebhook } from './webhooks.ts';
export { ApiError } from '../api-error.ts';
export type * from '../types.ts';
