import type { MaskedInfo } from '@reusable-chat/db';
import { AppError, type ErrorCode } from '../errors/registry.ts';
import { findBlockedTerms, maskBlockedTerms } from './blocked-terms.ts';
import { detectContactInfo, maskContactInfo, CONTACT_KINDS } from './contact-info.ts';
import { countCharacters, countLinks, isDuplicateWithin, type RecentMessage } from './message-limits.ts';
import type { Policies } from './policy.schema.ts';

/**
 * The message policy engine (SPEC §6) as an ordered list of typed rules (ARCHITECTURE.md convention 10). Each
 * rule sees the text as the rules before it left it and may transform it (mask), flag it for the moderation
 * queue, or veto it with a rejection, which stops the chain. Products add rules by passing their own list, e.g.
 * `[...DEFAULT_POLICY_RULES, myRule]`. Pure: no I/O and no clock unless `now` is omitted.
 */

export type SenderType = 'user' | 'agent' | 'system';

export interface MessagePolicyInput {
  policies: Policies;
  /** The conversation's `state` (e.g. `booked`), set by the tenant's backend. */
  conversationState: string | null | undefined;
  content: string;
  senderType: SenderType;
  /** The sender's role in the conversation (e.g. `guest`, `host`), for chat users. */
  senderRole?: string | null;
  /** The same sender's recent messages in this conversation, for the duplicate window; omit on edits. */
  recentMessages?: readonly RecentMessage[];
  now?: Date | number;
}

export interface PolicyRejection {
  code: ErrorCode;
  message: string;
  /** Always carries `rule`; never the matched text (a sender must not be able to probe the lists). */
  details: { rule: string } & Record<string, unknown>;
}

export interface PolicyRuleOutcome {
  /** Replacement text (only when the rule changed it). */
  content?: string;
  masked?: MaskedInfo | null;
  /** A reason to put the message in the moderation queue. */
  flag?: string;
  reject?: PolicyRejection;
}

export interface PolicyRuleInput {
  readonly input: MessagePolicyInput;
  /** The text as the previous rules left it. */
  readonly content: string;
  readonly nowMs: number;
}

export interface PolicyRule {
  readonly name: string;
  run(input: PolicyRuleInput): PolicyRuleOutcome | null | undefined | void;
}

export interface MessagePolicyEvaluation {
  /** The text to store and deliver (the original when nothing was masked or the message was rejected). */
  content: string;
  /** The sender's text when policies changed it; kept for admins only. */
  originalContent: string | null;
  masked: MaskedInfo | null;
  flagged: boolean;
  flagReasons: string[];
  rejected: PolicyRejection | null;
}

const rejection = (message: string, details: PolicyRejection['details']): PolicyRejection => ({
  code: 'policy_rejected',
  message,
  details,
});

export const maxLengthRule: PolicyRule = {
  name: 'max_length',
  run({ input, content }) {
    const max = input.policies.max_length;
    const length = countCharacters(content);
    if (length <= max) return null;
    return { reject: rejection(`Messages can be at most ${max} characters long.`, { rule: 'max_length', max_length: max, length }) };
  },
};

/** Links are counted on what the sender wrote, before masking hides them. Agents and the system are trusted. */
export const maxLinksRule: PolicyRule = {
  name: 'max_links',
  run({ input, content }) {
    const max = input.policies.max_links;
    if (max === null || input.senderType !== 'user') return null;
    const links = countLinks(content);
    if (links <= max) return null;
    return {
      reject: rejection(
        max === 0 ? 'Links are not allowed in this conversation.' : `Messages can contain at most ${max} links.`,
        { rule: 'max_links', max_links: max, links },
      ),
    };
  },
};

export const duplicateRule: PolicyRule = {
  name: 'duplicate',
  run({ input, content, nowMs }) {
    const windowS = input.policies.duplicate_window_s;
    if (windowS <= 0 || input.senderType !== 'user' || !input.recentMessages) return null;
    if (!isDuplicateWithin({ content, recent: input.recentMessages, windowS, nowMs })) return null;
    return { reject: rejection('You just sent this message.', { rule: 'duplicate', duplicate_window_s: windowS }) };
  },
};

export const blockedTermsRule: PolicyRule = {
  name: 'blocked_terms',
  run({ input, content }) {
    const policy = input.policies.blocked_terms;
    if (policy.terms.length === 0 || policy.exempt_sender_types.includes(input.senderType)) return null;
    if (policy.action === 'mask') {
      const result = maskBlockedTerms(content, policy.terms);
      return result.masked ? { content: result.content, masked: result.masked } : null;
    }
    if (findBlockedTerms(content, policy.terms).length === 0) return null;
    if (policy.action === 'flag') return { flag: 'blocked_terms' };
    return { reject: rejection('This message contains words that are not allowed here.', { rule: 'blocked_terms' }) };
  },
};

/** Whether contact details may be shared by this sender in this state (SPEC §6: "until the state allows it"). */
export function isContactInfoAllowed(input: MessagePolicyInput): boolean {
  const policy = input.policies.contact_info;
  if (policy.action === 'off' || policy.kinds.length === 0) return true;
  if (input.conversationState && policy.allowed_states.includes(input.conversationState)) return true;
  if (policy.exempt_sender_types.includes(input.senderType)) return true;
  return !!input.senderRole && policy.exempt_roles.includes(input.senderRole);
}

export const contactInfoRule: PolicyRule = {
  name: 'contact_info',
  run({ input, content }) {
    if (isContactInfoAllowed(input)) return null;
    const policy = input.policies.contact_info;
    const options = { kinds: policy.kinds, minPhoneDigits: policy.min_phone_digits, allowedDomains: policy.allowed_domains };
    if (policy.action === 'mask') {
      const result = maskContactInfo(content, options);
      return result.masked ? { content: result.content, masked: result.masked } : null;
    }
    const matches = detectContactInfo(content, options);
    if (matches.length === 0) return null;
    if (policy.action === 'flag') return { flag: 'contact_info' };
    const kinds = CONTACT_KINDS.filter((k) => matches.some((m) => m.kinds.includes(k)));
    return {
      reject: rejection('Contact details cannot be shared in this conversation yet.', { rule: 'contact_info', kinds }),
    };
  },
};

/** Cheap refusals first, then the rules that rewrite text; contact masking last so it sees the final wording. */
export const DEFAULT_POLICY_RULES: readonly PolicyRule[] = [
  maxLengthRule,
  maxLinksRule,
  duplicateRule,
  blockedTermsRule,
  contactInfoRule,
];

function mergeMasked(into: MaskedInfo | null, add: MaskedInfo): MaskedInfo {
  if (!into) return { rules: [...add.rules], kinds: [...add.kinds], count: add.count };
  return {
    rules: [...new Set([...into.rules, ...add.rules])],
    kinds: [...new Set([...into.kinds, ...add.kinds])],
    count: into.count + add.count,
  };
}

export function evaluateMessagePolicies(
  input: MessagePolicyInput,
  rules: readonly PolicyRule[] = DEFAULT_POLICY_RULES,
): MessagePolicyEvaluation {
  const nowMs = input.now === undefined ? Date.now() : typeof input.now === 'number' ? input.now : input.now.getTime();
  let content = input.content;
  let masked: MaskedInfo | null = null;
  const flagReasons: string[] = [];
  for (const rule of rules) {
    const outcome = rule.run({ input, content, nowMs });
    if (!outcome) continue;
    if (outcome.reject) {
      return { content: input.content, originalContent: null, masked: null, flagged: flagReasons.length > 0, flagReasons, rejected: outcome.reject };
    }
    if (outcome.content !== undefined) content = outcome.content;
    if (outcome.masked) masked = mergeMasked(masked, outcome.masked);
    if (outcome.flag && !flagReasons.includes(outcome.flag)) flagReasons.push(outcome.flag);
  }
  return {
    content,
    originalContent: content === input.content ? null : input.content,
    masked,
    flagged: flagReasons.length > 0,
    flagReasons,
    rejected: null,
  };
}

/** The error to throw for a rejection (422 policy_rejected with `details.rule`). */
export function policyRejectionToError(rejection: PolicyRejection): AppError {
  return new AppError(rejection.code, rejection.message, rejection.details);
}

const KIND_LABELS: Record<string, string> = {
  email: 'email addresses',
  phone: 'phone numbers',
  url: 'links',
  social: 'social media handles',
  blocked_term: 'words that are not allowed',
};

/** A plain-language notice for the sender ("what was masked", SPEC §6); clients may localise from `kinds`. */
export function describeMasking(masked: MaskedInfo | null): string | null {
  if (!masked || masked.count === 0) return null;
  const labels = masked.kinds.map((k) => KIND_LABELS[k] ?? k);
  const list = labels.length > 1 ? `${labels.slice(0, -1).join(', ')} and ${labels[labels.length - 1]}` : labels[0];
  return `Some content was hidden by this conversation's policy: ${list}.`;
}
