import { describe, expect, it } from 'vitest';
import {
  AppError,
  DEFAULT_POLICY_RULES,
  defaultWidgetConfigs,
  describeMasking,
  evaluateMessagePolicies,
  maskBlockedTerms,
  parsePolicies,
  policyRejectionToError,
  type MessagePolicyInput,
  type PoliciesInput,
  type PolicyRule,
} from '@reusable-chat/core';

const NOW = Date.parse('2026-01-15T12:00:00Z');

function run(policies: PoliciesInput, content: string, extra: Partial<MessagePolicyInput> = {}) {
  return evaluateMessagePolicies({
    policies: parsePolicies(policies),
    conversationState: null,
    content,
    senderType: 'user',
    senderRole: 'guest',
    now: NOW,
    ...extra,
  });
}

const maskContacts: PoliciesInput = {
  contact_info: { action: 'mask', kinds: ['email', 'phone', 'url'], allowed_states: ['booked'] },
};

describe('policy engine: contact info', () => {
  it('masks contact details, keeps the original for admins and says what was masked', () => {
    const r = run(maskContacts, 'Mail jane@gmail.com or call five five five one two three four');
    expect(r.rejected).toBeNull();
    expect(r.content).toBe('Mail [email hidden] or call [phone hidden]');
    expect(r.originalContent).toBe('Mail jane@gmail.com or call five five five one two three four');
    expect(r.masked).toEqual({ rules: ['contact_info'], kinds: ['email', 'phone'], count: 2 });
    expect(r.flagged).toBe(false);
    expect(describeMasking(r.masked)).toBe("Some content was hidden by this conversation's policy: email addresses and phone numbers.");
  });

  it('lets contact details through once the conversation state allows it (booked)', () => {
    const text = 'Call me on 555-123-4567';
    expect(run(maskContacts, text, { conversationState: 'inquiry' }).content).toBe('Call me on [phone hidden]');
    const booked = run(maskContacts, text, { conversationState: 'booked' });
    expect(booked.content).toBe(text);
    expect(booked.masked).toBeNull();
    expect(booked.originalContent).toBeNull();
  });

  it('rejects instead of masking when the action is reject, naming the kinds but not the text', () => {
    const r = run({ contact_info: { action: 'reject', kinds: ['email', 'phone'] } }, 'jane at gmail dot com');
    expect(r.rejected).toEqual({
      code: 'policy_rejected',
      message: 'Contact details cannot be shared in this conversation yet.',
      details: { rule: 'contact_info', kinds: ['email'] },
    });
    expect(r.content).toBe('jane at gmail dot com');
    const err = policyRejectionToError(r.rejected!);
    expect(err).toBeInstanceOf(AppError);
    expect(err.status).toBe(422);
    expect(err.details).toEqual({ rule: 'contact_info', kinds: ['email'] });
  });

  it('flags without changing the text when the action is flag', () => {
    const r = run({ contact_info: { action: 'flag' } }, 'www.example.com');
    expect(r.content).toBe('www.example.com');
    expect(r.masked).toBeNull();
    expect(r.flagged).toBe(true);
    expect(r.flagReasons).toEqual(['contact_info']);
  });

  it('does nothing when the action is off (the default)', () => {
    const r = run({}, 'jane@gmail.com 555-123-4567');
    expect(r.content).toBe('jane@gmail.com 555-123-4567');
    expect(r.masked).toBeNull();
  });

  it('skips agents and system messages by default, and masks them when configured to', () => {
    const text = 'Our office: +44 20 7946 0958';
    expect(run(maskContacts, text, { senderType: 'agent' }).content).toBe(text);
    expect(run(maskContacts, text, { senderType: 'system' }).content).toBe(text);
    const strict = { contact_info: { ...maskContacts.contact_info, exempt_sender_types: [] } } as PoliciesInput;
    expect(run(strict, text, { senderType: 'agent' }).content).toBe('Our office: [phone hidden]');
  });

  it('exempts configured roles', () => {
    const policies = { contact_info: { action: 'mask', exempt_roles: ['staff'] } } as PoliciesInput;
    expect(run(policies, 'jane@gmail.com', { senderRole: 'staff' }).content).toBe('jane@gmail.com');
    expect(run(policies, 'jane@gmail.com', { senderRole: 'guest' }).content).toBe('[email hidden]');
  });
});

describe('policy engine: blocked terms', () => {
  const terms = ['scam', 'wire transfer', 'fraud*', 'ass'];

  it('masks whole words only, case- and width-insensitively', () => {
    const r = run({ blocked_terms: { terms, action: 'mask' } }, 'SCAM! This is no ｓｃａｍ, not a scammer, just class and an assistant.');
    expect(r.content).toBe('****! This is no ****, not a scammer, just class and an assistant.');
    expect(r.masked).toEqual({ rules: ['blocked_terms'], kinds: ['blocked_term'], count: 2 });
  });

  it('matches phrases across any whitespace and prefixes marked with *', () => {
    const r = maskBlockedTerms('Pay by wire\n  transfer, the fraudsters said', terms);
    expect(r.content).toBe('Pay by ***************, the ********** said');
    expect(r.matches).toHaveLength(2);
  });

  it('sees through invisible characters', () => {
    expect(maskBlockedTerms('sc\u200Bam', terms).content).toBe('*****');
  });

  it('rejects without echoing the term, and flags without changing the text', () => {
    const rejected = run({ blocked_terms: { terms, action: 'reject' } }, 'total scam');
    expect(rejected.rejected?.details).toEqual({ rule: 'blocked_terms' });
    expect(JSON.stringify(rejected.rejected)).not.toContain('scam');
    const flagged = run({ blocked_terms: { terms, action: 'flag' } }, 'total scam');
    expect(flagged.rejected).toBeNull();
    expect(flagged.content).toBe('total scam');
    expect(flagged.flagged).toBe(true);
    expect(flagged.flagReasons).toEqual(['blocked_terms']);
  });

  it('does not touch text without a blocked word, nor system messages', () => {
    expect(run({ blocked_terms: { terms } }, 'classic passage').content).toBe('classic passage');
    expect(run({ blocked_terms: { terms } }, 'scam alert', { senderType: 'system' }).content).toBe('scam alert');
  });

  it('combines with contact masking in one result', () => {
    const r = run({ ...maskContacts, blocked_terms: { terms } }, 'scam? mail jane@gmail.com');
    expect(r.content).toBe('****? mail [email hidden]');
    expect(r.masked).toEqual({ rules: ['blocked_terms', 'contact_info'], kinds: ['blocked_term', 'email'], count: 2 });
    expect(r.originalContent).toBe('scam? mail jane@gmail.com');
  });
});

describe('policy engine: limits', () => {
  it('rejects messages over max_length, counting characters not UTF-16 units', () => {
    const policies: PoliciesInput = { max_length: 10 };
    expect(run(policies, '😀'.repeat(10)).rejected).toBeNull();
    const r = run(policies, '😀'.repeat(11));
    expect(r.rejected?.details).toEqual({ rule: 'max_length', max_length: 10, length: 11 });
  });

  it('defaults max_length to 10 000', () => {
    expect(run({}, 'a'.repeat(10_000)).rejected).toBeNull();
    expect(run({}, 'a'.repeat(10_001)).rejected?.details.rule).toBe('max_length');
  });

  it('limits links for chat users, counted before masking hides them', () => {
    const text = 'ab.com bc.com https://cd.org/x www.de.net';
    const r = run({ ...maskContacts, max_links: 3 }, text);
    expect(r.rejected?.details).toEqual({ rule: 'max_links', max_links: 3, links: 4 });
    expect(run({ max_links: 4 }, text).rejected).toBeNull();
    expect(run({ max_links: 3 }, text, { senderType: 'agent' }).rejected).toBeNull();
    expect(run({ max_links: null }, text).rejected).toBeNull();
    expect(run({ max_links: 0 }, 'see example.com').rejected?.message).toBe('Links are not allowed in this conversation.');
  });

  it('refuses the same text from the same sender inside the duplicate window', () => {
    const policies: PoliciesInput = { duplicate_window_s: 30 };
    const recent = [{ content: 'Is the flat free in May?', createdAt: new Date(NOW - 10_000) }];
    const r = run(policies, '  is the flat free in may?', { recentMessages: recent });
    expect(r.rejected?.details).toEqual({ rule: 'duplicate', duplicate_window_s: 30 });
    expect(run(policies, 'Is the flat free in June?', { recentMessages: recent }).rejected).toBeNull();
    const older = [{ content: 'Is the flat free in May?', createdAt: new Date(NOW - 31_000) }];
    expect(run(policies, 'Is the flat free in May?', { recentMessages: older }).rejected).toBeNull();
    expect(run({}, 'Is the flat free in May?', { recentMessages: recent }).rejected).toBeNull();
  });

  it('compares duplicates with what the sender wrote, not with the masked text', () => {
    const recent = [{ content: 'call [phone hidden]', originalContent: 'call 555 123 4567', createdAt: NOW - 1_000 }];
    const r = run({ ...maskContacts, duplicate_window_s: 60 }, 'call 555 123 4567', { recentMessages: recent });
    expect(r.rejected?.details.rule).toBe('duplicate');
  });
});

describe('policy engine: text integrity and extension', () => {
  const everything: PoliciesInput = {
    ...maskContacts,
    blocked_terms: { terms: ['scam'] },
    max_links: 5,
    duplicate_window_s: 60,
  };

  it.each([
    'مرحبا، هل الشقة متاحة في مايو؟ 🌙',
    'שלום! האם הדירה פנויה? \u200F(כן)\u200F',
    'Family 👨‍👩‍👧‍👦 of 4, flags 🇯🇵🇫🇷, skin tones 👋🏽, keycap 1️⃣ day',
    'Zalgo t̷̡̛e̸̢͝x̵̨̀t̶̨̛ and combining é (e\u0301) and ﬁ ligature',
    'Ｆｕｌｌ-width ｔｅｘｔ　with ideographic space 日本語のテキスト',
    'Line one\r\nLine two\n\n\tindented  double  spaced',
  ])('returns text without contact details byte-identical: %j', (text) => {
    const r = run(everything, text, { recentMessages: [] });
    expect(r.content).toBe(text);
    expect(r.originalContent).toBeNull();
    expect(r.masked).toBeNull();
    expect(r.rejected).toBeNull();
  });

  it('masks inside RTL and emoji text without touching a single other code unit', () => {
    const text = '🌙 اتصل بي 📞 ٠٥٥٥١٢٣٤٥٦٧ شكرا \u200F🙏';
    const r = run(everything, text);
    expect(r.content).toBe('🌙 اتصل بي 📞 [phone hidden] شكرا \u200F🙏');
  });

  it('handles a 10 000-character message, including adversarial runs, correctly', () => {
    const filler = 'a'.repeat(4_000) + ' ' + '1 '.repeat(1_500) + '@'.repeat(500) + ' dot '.repeat(200);
    const text = (filler + 'x'.repeat(10_000)).slice(0, 9_970) + ' jane@gmail.com';
    expect(text.length).toBeLessThanOrEqual(10_000);
    const r = run({ ...maskContacts, max_links: null }, text);
    expect(r.rejected).toBeNull();
    expect(r.content.endsWith(' [email hidden]')).toBe(true);
    // 1 500 spaced digits read as one long number, which is masked as a phone number (a digit wall hides one).
    expect(r.masked?.kinds).toEqual(['email', 'phone']);
    expect(r.content.startsWith('a'.repeat(4_000) + ' [phone hidden]')).toBe(true);
  });

  it('runs products’ own rules in order: they can transform, flag and veto', () => {
    const shout: PolicyRule = {
      name: 'no_shouting',
      run: ({ content }) => (content === content.toUpperCase() && /[A-Z]/.test(content) ? { content: content.toLowerCase(), flag: 'shouting' } : null),
    };
    const noMondays: PolicyRule = {
      name: 'no_mondays',
      run: ({ content }) =>
        content.includes('monday')
          ? { reject: { code: 'policy_rejected', message: 'Not on Mondays.', details: { rule: 'no_mondays' } } }
          : null,
    };
    const rules = [shout, ...DEFAULT_POLICY_RULES, noMondays];
    const policies = parsePolicies(maskContacts);
    const base = { policies, conversationState: null, senderType: 'user' as const, now: NOW };
    const ok = evaluateMessagePolicies({ ...base, content: 'CALL 555 123 4567 TODAY' }, rules);
    expect(ok.content).toBe('call [phone hidden] today');
    expect(ok.flagReasons).toEqual(['shouting']);
    expect(ok.masked?.kinds).toEqual(['phone']);
    const vetoed = evaluateMessagePolicies({ ...base, content: 'SEE YOU MONDAY' }, rules);
    expect(vetoed.rejected?.details.rule).toBe('no_mondays');
    expect(vetoed.content).toBe('SEE YOU MONDAY');
  });
});

describe('default widget configurations', () => {
  it('marketplace guest-host masks contact info until booked; support and default do not mask', () => {
    const [guestHost, support] = defaultWidgetConfigs('marketplace');
    const [single] = defaultWidgetConfigs('single_app');
    expect(guestHost?.slug).toBe('guest-host');
    expect(support?.slug).toBe('support');
    expect(single?.slug).toBe('default');
    const text = 'my email is jane at gmail dot com';
    const gh = parsePolicies(guestHost!.policies);
    const input = { content: text, senderType: 'user' as const, now: NOW };
    expect(evaluateMessagePolicies({ ...input, policies: gh, conversationState: 'inquiry' }).content).toBe('my email is [email hidden]');
    expect(evaluateMessagePolicies({ ...input, policies: gh, conversationState: 'booked' }).content).toBe(text);
    for (const config of [support!, single!]) {
      expect(evaluateMessagePolicies({ ...input, policies: parsePolicies(config.policies), conversationState: null }).content).toBe(text);
    }
  });
});
