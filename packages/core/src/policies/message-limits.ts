import { countLinks } from './contact-info.ts';

/**
 * Message-level limits of SPEC §6: length, links and the duplicate-message window. Pure functions so the engine,
 * the widget (for a live counter) and tests agree on how things are counted.
 */

/** Length in characters as people count them: code points, so an emoji is one, not two UTF-16 units. */
export function countCharacters(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    // A high surrogate followed by a low one is a single code point.
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    count++;
  }
  return count;
}

export { countLinks };

/** A message the same sender sent recently in the same conversation (the text before policies changed it). */
export interface RecentMessage {
  content: string;
  originalContent?: string | null;
  createdAt: Date | string | number;
}

/** Comparison key: NFKC, case-folded, whitespace collapsed — "Hello!!" and "hello!! " are the same message. */
export function duplicateKey(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/\s+/gu, ' ').trim();
}

function toMs(value: Date | string | number): number {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'number') return value;
  return Date.parse(value);
}

/** True when `content` repeats one of `recent` sent within the last `windowS` seconds before `nowMs`. */
export function isDuplicateWithin(params: {
  content: string;
  recent: readonly RecentMessage[];
  windowS: number;
  nowMs: number;
}): boolean {
  if (params.windowS <= 0 || params.recent.length === 0) return false;
  const key = duplicateKey(params.content);
  if (key.length === 0) return false;
  const since = params.nowMs - params.windowS * 1000;
  return params.recent.some((m) => {
    const at = toMs(m.createdAt);
    return Number.isFinite(at) && at >= since && duplicateKey(m.originalContent ?? m.content) === key;
  });
}
