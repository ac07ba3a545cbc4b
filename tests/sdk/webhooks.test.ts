import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { buildWebhookHeaders, generateWebhookSecret } from '@reusable-chat/core';
import { signWebhook, verifyWebhook, WebhookVerificationError } from '@reusable-chat/sdk/node';

/** The SDK's verifier against the reference implementation and against our own sender (core webhook-signing). */
describe('sdk/node verifyWebhook (Standard Webhooks)', () => {
  const secret = generateWebhookSecret();
  const body = JSON.stringify({ type: 'message.created', data: { id: 'm1', content: 'héllo ✓' } });
  const now = 1_800_000_000;

  it('accepts what the standardwebhooks reference library signs, and what our worker sends', () => {
    const reference = new Webhook(secret).sign('msg_1', new Date(now * 1000), body);
    const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(now), 'webhook-signature': reference };
    expect(verifyWebhook({ secret, headers, body, nowS: now })).toEqual(JSON.parse(body));
    expect(signWebhook({ secret, id: 'msg_1', timestampS: now, body })).toBe(reference);

    const ours = buildWebhookHeaders({ secrets: [secret], id: 'msg_2', timestampS: now, body });
    expect(verifyWebhook({ secret, headers: new Headers(ours), body: Buffer.from(body), nowS: now + 10 })).toEqual(JSON.parse(body));
    // And the reference library (which checks against the real clock) accepts ours.
    const current = buildWebhookHeaders({ secrets: [secret], id: 'msg_2b', timestampS: Math.floor(Date.now() / 1000), body });
    expect(new Webhook(secret).verify(body, current)).toEqual(JSON.parse(body));
  });

  it('accepts either secret during rotation (several signatures in one header)', () => {
    const next = generateWebhookSecret();
    const headers = buildWebhookHeaders({ secrets: [next, secret], id: 'msg_3', timestampS: now, body });
    expect(verifyWebhook({ secret, headers, body, nowS: now })).toBeTruthy();
    expect(verifyWebhook({ secret: [generateWebhookSecret(), next], headers, body, nowS: now })).toBeTruthy();
  });

  it('refuses a wrong secret, a changed body or id, stale or future timestamps and missing headers', () => {
    const headers = buildWebhookHeaders({ secrets: [secret], id: 'msg_4', timestampS: now, body });
    const refuse = (p: Partial<Parameters<typeof verifyWebhook>[0]>) =>
      expect(() => verifyWebhook({ secret, headers, body, nowS: now, ...p })).toThrow(WebhookVerificationError);
    refuse({ secret: generateWebhookSecret() });
    refuse({ body: body.replace('héllo', 'hello') });
    refuse({ headers: { ...headers, 'webhook-id': 'msg_5' } });
    refuse({ nowS: now + 301 });
    refuse({ nowS: now - 301 });
    refuse({ headers: { ...headers, 'webhook-signature': 'v1,' } });
    refuse({ headers: { ...headers, 'webhook-signature': headers['webhook-signature']!.replace('v1,', 'v2,') } });
    refuse({ headers: { 'webhook-id': 'msg_4', 'webhook-timestamp': String(now) } });
    refuse({ headers: { ...headers, 'webhook-timestamp': '1e9' } });
    // Inside a custom tolerance it passes again.
    expect(verifyWebhook({ secret, headers, body, nowS: now + 1000, toleranceS: 1200 })).toBeTruthy();
  });
});
