import { describe, expect, it } from 'vitest';
import {
  canDeleteWithinWindow,
  canEditWithinWindow,
  canStartConversation,
  checkAttachmentPolicy,
  DEFAULT_POLICIES,
  isAutoCloseDue,
  parsePolicies,
  policiesInputSchema,
} from '@reusable-chat/core';

describe('policy schema', () => {
  it('fills every key with a safe default', () => {
    const p = parsePolicies({});
    expect(p).toEqual(DEFAULT_POLICIES);
    expect(p.contact_info).toEqual({
      action: 'off',
      kinds: ['email', 'phone', 'url'],
      allowed_states: [],
      exempt_sender_types: ['agent', 'system'],
      exempt_roles: [],
      min_phone_digits: 7,
      allowed_domains: [],
    });
    expect(p.max_length).toBe(10_000);
    expect(p.max_links).toBe(10);
    expect(p.duplicate_window_s).toBe(0);
    expect(p.attachments.enabled).toBe(true);
    expect(p.attachments.max_size_bytes).toBe(10 * 1024 * 1024);
    expect(p.rate_limits).toEqual({ per_session_per_minute: 30, per_workspace_per_minute: 6_000, new_conversations_per_session_per_12h: 20 });
    expect(p.edit_window_s).toBe(900);
    expect(p.delete_window_s).toBe(3_600);
    expect([p.read_receipts, p.typing, p.presence]).toEqual([true, true, true]);
    expect(p.can_start).toBeNull();
    expect(p.auto_close_after_s).toBeNull();
    expect(p.missed_message_email).toEqual({ enabled: true, delay_minutes: 15, template_key: 'missed_message' });
  });

  it('treats anything that is not an object as empty', () => {
    for (const json of [null, undefined, 'x', 42, []]) expect(parsePolicies(json)).toEqual(DEFAULT_POLICIES);
  });

  it('keeps valid stored values and replaces only invalid ones on read', () => {
    const p = parsePolicies({
      max_length: -5,
      typing: false,
      contact_info: { action: 'mask', kinds: ['email', 'fax'], allowed_states: ['booked'] },
      unknown_key: true,
    });
    expect(p.max_length).toBe(10_000);
    expect(p.typing).toBe(false);
    expect(p.contact_info.action).toBe('mask');
    expect(p.contact_info.allowed_states).toEqual(['booked']);
    expect(p.contact_info.kinds).toEqual(['email', 'phone', 'url']);
    expect('unknown_key' in p).toBe(false);
  });

  it('reads the older attachments.max_bytes spelling', () => {
    expect(parsePolicies({ attachments: { max_bytes: 1234 } }).attachments.max_size_bytes).toBe(1234);
  });

  it('refuses unknown keys and bad values on write', () => {
    expect(policiesInputSchema.safeParse({ max_lenght: 5 }).success).toBe(false);
    expect(policiesInputSchema.safeParse({ contact_info: { action: 'hide' } }).success).toBe(false);
    expect(policiesInputSchema.safeParse({ attachments: { max_size_bytes: 10 ** 12 } }).success).toBe(false);
    expect(policiesInputSchema.safeParse({ contact_info: { allowed_domains: ['not a domain'] } }).success).toBe(false);
    expect(policiesInputSchema.safeParse({ contact_info: { action: 'mask', allowed_domains: ['Tenant.COM'] } }).data?.contact_info.allowed_domains).toEqual([
      'tenant.com',
    ]);
  });
});

describe('conversation rules', () => {
  const t0 = Date.parse('2026-01-15T12:00:00Z');

  it('checks attachments by sniffed type, size and the on/off switch', () => {
    const policies = parsePolicies({ attachments: { allowed_types: ['image/png'], max_size_bytes: 1000 } });
    expect(checkAttachmentPolicy({ policies, sniffedMimeType: 'image/png', sizeBytes: 1000 })).toBeNull();
    expect(checkAttachmentPolicy({ policies, sniffedMimeType: 'image/svg+xml', sizeBytes: 10 })?.code).toBe('unsupported_media_type');
    expect(checkAttachmentPolicy({ policies, sniffedMimeType: 'image/png', sizeBytes: 1001 })?.code).toBe('payload_too_large');
    const off = parsePolicies({ attachments: { enabled: false } });
    expect(checkAttachmentPolicy({ policies: off, sniffedMimeType: 'image/png', sizeBytes: 1 })?.code).toBe('forbidden');
  });

  it('applies edit and delete windows (null = always, 0 = never)', () => {
    const p = parsePolicies({ edit_window_s: 60, delete_window_s: 0 });
    expect(canEditWithinWindow({ policies: p, sentAt: t0, now: t0 + 60_000 })).toBe(true);
    expect(canEditWithinWindow({ policies: p, sentAt: t0, now: t0 + 60_001 })).toBe(false);
    expect(canDeleteWithinWindow({ policies: p, sentAt: t0, now: t0 })).toBe(false);
    const always = parsePolicies({ edit_window_s: null, delete_window_s: null });
    expect(canEditWithinWindow({ policies: always, sentAt: new Date(t0), now: new Date(t0 + 10 ** 10) })).toBe(true);
    expect(canDeleteWithinWindow({ policies: always, sentAt: t0, now: t0 + 10 ** 10 })).toBe(true);
  });

  it('decides who may start a conversation from policies, else the configuration roles', () => {
    const deferring = parsePolicies({});
    expect(canStartConversation({ policies: deferring, roles: { can_start: ['guest'] }, role: 'guest' })).toBe(true);
    expect(canStartConversation({ policies: deferring, roles: { can_start: ['guest'] }, role: 'host' })).toBe(false);
    expect(canStartConversation({ policies: deferring, roles: {}, role: 'anyone' })).toBe(true);
    const own = parsePolicies({ can_start: ['customer'] });
    expect(canStartConversation({ policies: own, roles: { can_start: ['guest'] }, role: 'customer' })).toBe(true);
    expect(canStartConversation({ policies: own, roles: null, role: null })).toBe(false);
    expect(canStartConversation({ policies: parsePolicies({ can_start: ['*'] }), role: null })).toBe(true);
  });

  it('says when an idle conversation is due to close', () => {
    const p = parsePolicies({ auto_close_after_s: 3_600 });
    expect(isAutoCloseDue({ policies: p, lastActivityAt: t0, now: t0 + 3_599_000 })).toBe(false);
    expect(isAutoCloseDue({ policies: p, lastActivityAt: t0, now: t0 + 3_600_000 })).toBe(true);
    expect(isAutoCloseDue({ policies: parsePolicies({}), lastActivityAt: 0, now: t0 })).toBe(false);
  });
});
