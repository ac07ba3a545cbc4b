/** `@reusable-chat/sdk`: the browser client (widget session, conversations, messages, realtime with catch-up). */
export { ApiError } from './api-error.ts';
export { EmbedApi, WidgetApi, type ListMessagesQuery, type SendMessageBody, type WidgetApiOptions } from './browser/widget-api.ts';
export {
  CONNECT_TIMEOUT_MS,
  DEFAULT_ACTIVITY_TIMEOUT_S,
  PONG_TIMEOUT_MS,
  RECONNECT_BASE_DELAY_MS,
  RECONNECT_JITTER,
  RECONNECT_MAX_DELAY_MS,
  RealtimeConnection,
  type ConnectionState,
  type RealtimeConnectionOptions,
} from './browser/realtime-connection.ts';
export {
  ChatClient,
  MAX_LIVE_CONVERSATIONS,
  MESSAGE_PAGE_SIZE,
  RESUBSCRIBE_SETTLE_TIMEOUT_MS,
  SEND_RETRY_BASE_DELAY_MS,
  SEND_RETRY_MAX_DELAY_MS,
  TYPING_DISPLAY_MS,
  TYPING_SEND_INTERVAL_MS,
  type ChatClientEvents,
  type ChatClientOptions,
  type ChatMessage,
  type DeliveryState,
} from './browser/chat-client.ts';
export type * from './types.ts';
