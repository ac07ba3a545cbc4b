import { and, asc, desc, eq, gte, isNull } from 'drizzle-orm';
import { schema, type Executor } from '@reusable-chat/db';
import type { MessagePolicyContext, MessagePolicyHook, MessagePolicyResult } from '../messages/message-policy-hook.ts';
import { DEFAULT_POLICY_RULES, evaluateMessagePolicies, policyRejectionToError, type PolicyRule, type SenderType } from './engine.ts';
import type { RecentMessage } from './message-limits.ts';
import { parsePolicies, type Policies } from './policy.schema.ts';

/**
 * The adapter between the message pipeline's hook (messages/message-policy-hook.ts) and the pure engine. This
 * is the one file of policies/ that reads the database: the conversation's widget configuration, the sender's
 * role and — only when a duplicate window is configured — the sender's recent messages. Every query is scoped
 * by workspace. Loaders can be replaced (e.g. a cached configuration) without touching the engine.
 */

export interface PolicyHookLoaders {
  loadPolicies(ctx: MessagePolicyContext): Promise<Policies>;
  loadSenderRole(ctx: MessagePolicyContext): Promise<string | null>;
  loadRecentMessages(ctx: MessagePolicyContext, windowS: number): Promise<RecentMessage[]>;
}

/** Enough to catch a repeat; a sender who sends more than this inside the window is rate-limited anyway. */
const RECENT_MESSAGES_LIMIT = 20;

/**
 * The policies of a conversation's widget configuration. A conversation created without one follows the
 * workspace's first configuration — the same fallback the embed API uses — so a marketplace conversation
 * opened without `widget` is still masked like `guest-host` rather than not at all.
 */
export async function loadConversationPolicies(db: Executor, workspaceId: string, widgetConfigId: string | null): Promise<Policies> {
  const where = widgetConfigId
    ? and(eq(schema.widgetConfigs.workspaceId, workspaceId), eq(schema.widgetConfigs.id, widgetConfigId))
    : eq(schema.widgetConfigs.workspaceId, workspaceId);
  const [row] = await db
    .select({ policies: schema.widgetConfigs.policies })
    .from(schema.widgetConfigs)
    .where(where)
    // Configurations seeded together share created_at; their UUIDv7 ids keep the seeding order.
    .orderBy(asc(schema.widgetConfigs.createdAt), asc(schema.widgetConfigs.id))
    .limit(1);
  return parsePolicies(row?.policies ?? {});
}

export const databasePolicyLoaders: PolicyHookLoaders = {
  // The pipeline usually read the configuration and the role with the sender (one round trip less each).
  loadPolicies: (ctx) =>
    ctx.widgetPolicies !== undefined
      ? Promise.resolve(parsePolicies(ctx.widgetPolicies ?? {}))
      : loadConversationPolicies(ctx.db, ctx.workspaceId, ctx.conversation.widgetConfigId),
  async loadSenderRole(ctx) {
    if (ctx.sender.type !== 'user') return null;
    if (ctx.participantRole !== undefined) return ctx.participantRole ?? ctx.senderUser?.role ?? null;
    const [row] = await ctx.db
      .select({ role: schema.participants.role })
      .from(schema.participants)
      .where(
        and(
          eq(schema.participants.workspaceId, ctx.workspaceId),
          eq(schema.participants.conversationId, ctx.conversation.id),
          eq(schema.participants.chatUserId, ctx.sender.chatUserId),
        ),
      )
      .limit(1);
    // The role in this conversation; a user-level role (chat_users.role) when they are not a participant (yet).
    return row?.role ?? ctx.senderUser?.role ?? null;
  },
  async loadRecentMessages(ctx, windowS) {
    if (ctx.sender.type !== 'user') return [];
    const since = new Date(ctx.now.getTime() - windowS * 1000);
    return ctx.db
      .select({
        content: schema.messages.content,
        originalContent: schema.messages.originalContent,
        createdAt: schema.messages.createdAt,
      })
      .from(schema.messages)
      .where(
        and(
          eq(schema.messages.workspaceId, ctx.workspaceId),
          eq(schema.messages.conversationId, ctx.conversation.id),
          eq(schema.messages.senderUserId, ctx.sender.chatUserId),
          gte(schema.messages.createdAt, since),
          isNull(schema.messages.deletedAt),
        ),
      )
      .orderBy(desc(schema.messages.createdAt))
      .limit(RECENT_MESSAGES_LIMIT);
  },
};

/**
 * Builds the pipeline's `MessagePolicyHook`. A rejection is thrown as the registry's `policy_rejected` (422)
 * with its full details (rule, limits, kinds) — the hook contract allows a veto by throwing.
 */
export function createPolicyHook(options: { rules?: readonly PolicyRule[]; loaders?: Partial<PolicyHookLoaders> } = {}): MessagePolicyHook {
  const loaders: PolicyHookLoaders = { ...databasePolicyLoaders, ...options.loaders };
  const rules = options.rules ?? DEFAULT_POLICY_RULES;
  return async (ctx): Promise<MessagePolicyResult> => {
    const policies = await loaders.loadPolicies(ctx);
    const senderType: SenderType = ctx.sender.type;
    // The built-in rules need the role only for exempt roles; custom rules always get it. Saves a query per message.
    const needsRole = options.rules !== undefined || policies.contact_info.exempt_roles.length > 0;
    const [senderRole, recentMessages] = await Promise.all([
      needsRole ? loaders.loadSenderRole(ctx) : Promise.resolve(null),
      policies.duplicate_window_s > 0 && senderType === 'user'
        ? loaders.loadRecentMessages(ctx, policies.duplicate_window_s)
        : Promise.resolve(undefined),
    ]);
    const result = evaluateMessagePolicies(
      {
        policies,
        conversationState: ctx.conversation.state,
        content: ctx.content,
        senderType,
        senderRole,
        ...(recentMessages ? { recentMessages } : {}),
        now: ctx.now,
      },
      rules,
    );
    if (result.rejected) throw policyRejectionToError(result.rejected);
    return {
      content: result.content,
      masked: result.masked,
      flagged: result.flagged ? { reason: result.flagReasons.join(',') } : false,
      rejected: false,
    };
  };
}
