import { describe, expect, it } from 'vitest';
import { translator } from '../../apps/widget/src/app/i18n.ts';

describe('widget strings', () => {
  it('isolates interpolated names so a right-to-left name cannot reorder an English sentence (and back)', () => {
    const en = translator('en');
    expect(en('typingOne', { name: 'أحمد' })).toBe('\u2068أحمد\u2069 is typing…');
    const ar = translator('ar');
    expect(ar('typingOne', { name: 'Gina Guest' })).toBe('\u2068Gina Guest\u2069 يكتب…');
  });

  it('leaves strings without values untouched', () => {
    expect(translator('fr')('typingMany')).toBe('Plusieurs personnes écrivent…');
    expect(translator('en')('typingMany')).toBe('Several people are typing…');
    expect(translator('en')('unread', { n: 3 })).toBe('3 unread');
  });
});
