import type { Executor, MaskedInfo } from '@reusable-chat/db';
import type { ConversationRow } from '../conversations/conversation-json.ts';
import type { ChatUser } from '../users/user-json.ts';

/** Who sends: a chat user, an admin answering as agent, or the system (consumer API `{system: true}`). */
export type MessageSender =
  | { readonly type: 'user'; readonly chatUserId: string }
  | { readonly type: 'system' }
  | { readonly type: 'agent'; readonly adminId: string };

/**
 * What a policy engine sees for one message before it is stored (SPEC §6). The hook runs before the
 * insert transaction, so it may read (e.g. recent messages for the duplicate window) without holding
 * the conversation's seq lock.
 */
export interface MessagePolicyContext {
  readonly db: Executor;
  readonly workspaceId: string;
  readonly conversation: ConversationRow;
  readonly sender: MessageSender;
  /** The sending chat user's row, for sender type `user`. */
  readonly senderUser: ChatUser | null;
  readonly content: string;
  readonly attachmentIds: readonly string[];
  readonly now: Date;
  /**
   * The `policies` of the conversation's widget configuration (or of the workspace's first one when it has
   * none; null when there is none at all), when the pipeline already read them with the sender in one
   * query. Undefined: not loaded, the hook reads them itself.
   */
  readonly widgetPolicies?: unknown;
  /** The sender's role in this conversation, read with the sender (undefined: not loaded). */
  readonly participantRole?: string | null;
}

export interface MessagePolicyResult {
  /** The text to store (masked where the policy masked it). */
  readonly content: string;
  /** What was masked; stored on the message and shown to the sender and admins. */
  readonly masked?: MaskedInfo | null;
  /** Store the message but put it in the moderation queue (a `flag` report). */
  readonly flagged?: { readonly reason: string } | false;
  /** Refuse the message: the API answers 422 policy_rejected with `details.rule`. */
  readonly rejected?: { readonly rule: string; readonly message?: string } | false;
}

/**
 * The extension point between the message pipeline (messages/send-message.ts) and the policy engine
 * (policies/). Besides returning `rejected`, a hook may veto by throwing an AppError (e.g. rate_limited
 * with retryAfterS) — ARCHITECTURE.md convention 10.
 */
export type MessagePolicyHook = (ctx: MessagePolicyContext) => Promise<MessagePolicyResult>;

/** SPEC §6: content ≤ 10 000 characters by default, counted in code points (V-01: documented, not bytes). */
export const DEFAULT_MAX_MESSAGE_LENGTH = 10_000;

export function codePointLength(text: string): number {
  let n = 0;
  for (const _ of text) n += 1;
  return n;
}
