import { describe, expect, it } from 'vitest';
import { tokenize } from '../../apps/widget/src/app/autolink.ts';
import { RTL_LANGS, TABLE, pickLang, translator, type Lang, type Strings } from '../../apps/widget/src/app/i18n.ts';

/** The widget's own strings and its auto-linker, without a browser (the rendering is covered in tests/e2e). */
describe('widget languages (SPEC §8: English plus at least two more, one right to left)', () => {
  const langs = Object.keys(TABLE) as Lang[];
  const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

  it('ships English, a second left-to-right language and a right-to-left one', () => {
    expect(langs).toContain('en');
    expect(langs.length).toBeGreaterThanOrEqual(3);
    expect(langs.filter((l) => RTL_LANGS.has(l)).length).toBeGreaterThanOrEqual(1);
    expect(langs.filter((l) => l !== 'en' && !RTL_LANGS.has(l)).length).toBeGreaterThanOrEqual(1);
  });

  it('translates every key with the same {placeholders}, and leaves none in English', () => {
    const keys = Object.keys(TABLE.en) as (keyof Strings)[];
    for (const lang of langs) {
      expect(Object.keys(TABLE[lang]).sort()).toEqual([...keys].sort());
      for (const key of keys) {
        const s = TABLE[lang][key];
        expect(s.trim().length, `${lang}.${key}`).toBeGreaterThan(0);
        expect(placeholders(s), `${lang}.${key}`).toEqual(placeholders(TABLE.en[key]));
      }
      if (lang === 'en') continue;
      // Single words may coincide ("Messages", "Conversations" in French); sentences must not.
      const same = keys.filter((k) => TABLE[lang][k] === TABLE.en[k] && TABLE.en[k].replace(/\{\w+\}/g, '').trim().includes(' '));
      expect(same, lang).toEqual([]);
    }
  });

  it('picks the page language by its base tag and falls back to English', () => {
    expect(pickLang('fr-CA')).toBe('fr');
    expect(pickLang('AR')).toBe('ar');
    expect(pickLang('xx')).toBe(pickLang(undefined));
    expect(translator('ar')('send')).toBe(TABLE.ar.send);
  });
});

describe('widget auto-linking (V-20, V-21)', () => {
  it('links only http(s) URLs and keeps everything else as text', () => {
    expect(tokenize('see https://example.com/a?b=1, or www.example.org.')).toEqual([
      { kind: 'text', text: 'see ' },
      { kind: 'link', text: 'https://example.com/a?b=1', href: 'https://example.com/a?b=1' },
      { kind: 'text', text: ', or ' },
      { kind: 'link', text: 'www.example.org', href: 'https://www.example.org/' },
      { kind: 'text', text: '.' },
    ]);
    // A closing parenthesis that belongs to the URL stays in it; one that closes the sentence does not.
    expect(tokenize('(https://en.wikipedia.org/wiki/Chat_(software))').filter((t) => t.kind === 'link').map((t) => t.text)).toEqual([
      'https://en.wikipedia.org/wiki/Chat_(software))',
    ]);
    expect(tokenize('(see https://example.com)').filter((t) => t.kind === 'link').map((t) => t.text)).toEqual(['https://example.com']);
    for (const text of ['javascript:alert(1)', 'data:text/html,<b>x</b>', 'vbscript:msgbox', '<a href="https://x.test">x</a>']) {
      const tokens = tokenize(text);
      expect(tokens.map((t) => t.text).join('')).toBe(text);
      for (const t of tokens) if (t.kind === 'link') expect(t.href).toMatch(/^https:\/\//);
    }
  });
});
