import { describe, expect, it } from 'vitest';
import { detectContactInfo, maskContactInfo } from '@reusable-chat/core';
import { lookAlikeCases, maskedCases, maskingCorpus } from './masking-corpus.ts';

const GUEST_HOST_KINDS = ['email', 'phone', 'url'] as const;

describe('contact-info masking corpus', () => {
  it('is large enough to mean something (issue 4: ≥ 80 cases, ≥ 25 look-alikes)', () => {
    expect(maskingCorpus.length).toBeGreaterThanOrEqual(80);
    expect(lookAlikeCases.length).toBeGreaterThanOrEqual(25);
    expect(new Set(maskingCorpus.map((c) => c.input)).size).toBe(maskingCorpus.length);
  });

  it.each(maskedCases.map((c) => [c.input, c] as const))('masks %j', (_input, c) => {
    const result = maskContactInfo(c.input, { kinds: c.scan ?? [...GUEST_HOST_KINDS] });
    expect(result.content).toBe(c.expected);
    expect(result.masked).not.toBeNull();
    expect([...result.masked!.kinds].sort()).toEqual([...c.kinds].sort());
    expect(result.masked!.rules).toEqual(['contact_info']);
    expect(result.masked!.count).toBe(result.matches.length);
  });

  it.each(lookAlikeCases.map((c) => [c.input, c] as const))('leaves the look-alike %j alone', (_input, c) => {
    // Every kind on, social handles included: a look-alike must survive the strictest configuration.
    const result = maskContactInfo(c.input, { kinds: ['email', 'phone', 'url', 'social'] });
    expect(result.content).toBe(c.input);
    expect(result.masked).toBeNull();
  });

  it('reports match ranges in the original text, so surrounding characters are untouched', () => {
    const input = 'שלום 👋 ５５５－１２３－４５６７ ok';
    const [match] = detectContactInfo(input, { kinds: ['phone'] });
    expect(match).toBeDefined();
    expect(input.slice(match!.start, match!.end)).toBe('５５５－１２３－４５６７');
    expect(match!.kind).toBe('phone');
  });

  it('keeps links to allowed domains visible and masks the rest', () => {
    const result = maskContactInfo('see https://www.tenant.example.com/listing/1 or villa.com', {
      kinds: ['url'],
      allowedDomains: ['example.com'],
    });
    expect(result.content).toBe('see https://www.tenant.example.com/listing/1 or [link hidden]');
  });

  it('respects the minimum number of phone digits', () => {
    expect(maskContactInfo('dial 123 45 67', { kinds: ['phone'] }).content).toBe('dial [phone hidden]');
    expect(maskContactInfo('dial 123 45 67', { kinds: ['phone'], minPhoneDigits: 9 }).content).toBe('dial 123 45 67');
  });
});
