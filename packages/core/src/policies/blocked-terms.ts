import type { MaskedInfo } from '@reusable-chat/db';
import { mergeSpans, normalizeForDetection, replaceSpans, toOriginalRange, type OriginalSpan } from './text-normalization.ts';

/**
 * Blocked terms (SPEC §6): whole words or phrases, case-insensitive, after NFKC and with invisible characters
 * removed, so "ＢＡＤ" and "b\u200Bad" match "bad" while "badge" and "Baden" do not. A trailing `*` matches
 * any word that starts with the term ("scam*" → "scammer"). Compiled once per term list.
 */

export interface BlockedTermMatch {
  start: number;
  end: number;
}

export interface BlockedTermsMaskResult {
  content: string;
  masked: MaskedInfo | null;
  matches: BlockedTermMatch[];
}

const WORD_CHAR = /[\p{L}\p{N}_]/u;
const WORD = /[\p{L}\p{N}\p{M}_]+/gu;
const WORDS_AND_SPACES_ONLY = /^[\p{L}\p{N}\p{M}_\s]+$/u;
const WHITESPACE_ONLY = /^\s+$/u;
const REGEX_SPECIALS = /[.*+?^${}()|[\]\\/-]/g;

interface Phrase {
  /** Lower-case words; the last one is a prefix when `prefix` is set. */
  words: string[];
  prefix: boolean;
}

/**
 * A compiled term list. Word terms (the usual case) are looked up per word of the message in hash maps, so
 * the cost does not grow with the number of terms; terms with punctuation inside ("f.u", "$$$") fall back to one
 * regex alternation, which stays small because such terms are rare.
 */
export interface BlockedTermsMatcher {
  byFirstWord: Map<string, Phrase[]>;
  /** Single-word prefix terms ("scam*"), grouped by length for a lookup per distinct length. */
  prefixes: Map<number, Set<string>>;
  /** Terms with punctuation inside; only the last word of a phrase may carry the `*` prefix marker. */
  fallback: RegExp | null;
}

function normalizeTerm(term: string): { text: string; prefix: boolean } | null {
  // The same folding as the message text, so a term and its look-alike spellings meet in the middle.
  let t = normalizeForDetection(term).text.trim();
  const prefix = t.endsWith('*');
  if (prefix) t = t.slice(0, -1).trimEnd();
  return t.length === 0 ? null : { text: t, prefix };
}

function termToPattern(t: string, prefix: boolean): string {
  const body = t
    .split(/\s+/u)
    .map((part) => part.replace(REGEX_SPECIALS, '\\$&'))
    .join('\\s+');
  const startsWord = WORD_CHAR.test(t[0]!);
  const endsWord = prefix || WORD_CHAR.test(t[t.length - 1]!);
  return `${startsWord ? '(?<![\\p{L}\\p{N}_])' : ''}${body}${prefix ? '[\\p{L}\\p{N}_]*' : ''}${endsWord ? '(?![\\p{L}\\p{N}_])' : ''}`;
}

function compile(terms: readonly string[]): BlockedTermsMatcher | null {
  const byFirstWord = new Map<string, Phrase[]>();
  const prefixes = new Map<number, Set<string>>();
  const patterns: string[] = [];
  for (const term of terms) {
    const n = normalizeTerm(term);
    if (!n) continue;
    if (!WORDS_AND_SPACES_ONLY.test(n.text)) {
      patterns.push(termToPattern(n.text, n.prefix));
      continue;
    }
    const words = n.text.toLowerCase().split(/\s+/u);
    if (words.length === 1 && n.prefix) {
      const len = words[0]!.length;
      if (!prefixes.has(len)) prefixes.set(len, new Set());
      prefixes.get(len)!.add(words[0]!);
      continue;
    }
    const list = byFirstWord.get(words[0]!) ?? [];
    list.push({ words, prefix: n.prefix });
    byFirstWord.set(words[0]!, list);
  }
  const unique = [...new Set(patterns)].sort((a, b) => b.length - a.length);
  const fallback = unique.length > 0 ? new RegExp(unique.join('|'), 'giu') : null;
  if (byFirstWord.size === 0 && prefixes.size === 0 && !fallback) return null;
  return { byFirstWord, prefixes, fallback };
}

const CACHE_LIMIT = 64;
const compiled = new Map<string, BlockedTermsMatcher | null>();

const compiledByList = new WeakMap<readonly string[], BlockedTermsMatcher | null>();

/**
 * One matcher per distinct term list, cached (configurations are few and change rarely): by the list itself
 * when a caller reuses its parsed policies, else by the list's content.
 */
export function compileBlockedTerms(terms: readonly string[]): BlockedTermsMatcher | null {
  const same = compiledByList.get(terms);
  if (same !== undefined) return same;
  const key = terms.join('\u0000');
  let matcher = compiled.get(key);
  if (matcher === undefined) {
    matcher = compile(terms);
    if (compiled.size >= CACHE_LIMIT) compiled.delete(compiled.keys().next().value!);
    compiled.set(key, matcher);
  }
  compiledByList.set(terms, matcher);
  return matcher;
}

interface Token {
  start: number;
  end: number;
  lower: string;
}

function phraseMatchEnd(text: string, tokens: Token[], i: number, phrase: Phrase): number {
  const last = phrase.words.length - 1;
  for (let k = 0; k <= last; k++) {
    const token = tokens[i + k];
    if (!token) return -1;
    if (k > 0 && !WHITESPACE_ONLY.test(text.slice(tokens[i + k - 1]!.end, token.start))) return -1;
    const word = phrase.words[k]!;
    const ok = k === last && phrase.prefix ? token.lower.startsWith(word) : token.lower === word;
    if (!ok) return -1;
  }
  return tokens[i + last]!.end;
}

/** Blocked terms in `content`, in original coordinates, merged and in order. */
export function findBlockedTerms(content: string, terms: readonly string[]): BlockedTermMatch[] {
  const matcher = compileBlockedTerms(terms);
  if (!matcher || content.length === 0) return [];
  const mapped = normalizeForDetection(content);
  const text = mapped.text;
  const ranges: { start: number; end: number }[] = [];

  if (matcher.byFirstWord.size > 0 || matcher.prefixes.size > 0) {
    const tokens: Token[] = [];
    WORD.lastIndex = 0;
    for (let m = WORD.exec(text); m; m = WORD.exec(text)) {
      tokens.push({ start: m.index, end: m.index + m[0].length, lower: m[0].toLowerCase() });
    }
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i]!;
      let end = -1;
      for (const [len, set] of matcher.prefixes) {
        if (token.lower.length >= len && set.has(token.lower.slice(0, len))) end = Math.max(end, token.end);
      }
      for (const phrase of matcher.byFirstWord.get(token.lower) ?? []) end = Math.max(end, phraseMatchEnd(text, tokens, i, phrase));
      if (end > 0) {
        ranges.push({ start: token.start, end });
        while (i + 1 < tokens.length && tokens[i + 1]!.start < end) i++;
      }
    }
  }
  if (matcher.fallback) {
    const regex = matcher.fallback;
    regex.lastIndex = 0;
    for (let m = regex.exec(text); m; m = regex.exec(text)) {
      if (m[0].length === 0) regex.lastIndex++;
      else ranges.push({ start: m.index, end: m.index + m[0].length });
    }
  }
  const spans: OriginalSpan<'blocked_term'>[] = ranges.map((r) => {
    const [start, end] = toOriginalRange(mapped, r.start, r.end);
    return { start, end, kinds: ['blocked_term'] };
  });
  return mergeSpans(spans).map(({ start, end }) => ({ start, end }));
}

/** Each blocked term becomes asterisks of the same length in characters; everything else is untouched. */
export function maskBlockedTerms(content: string, terms: readonly string[]): BlockedTermsMaskResult {
  const matches = findBlockedTerms(content, terms);
  if (matches.length === 0) return { content, masked: null, matches };
  const out = replaceSpans(content, matches, (s) => '*'.repeat(Array.from(content.slice(s.start, s.end)).length));
  return { content: out, masked: { rules: ['blocked_terms'], kinds: ['blocked_term'], count: matches.length }, matches };
}
