/**
 * Detection runs on a normalised copy of a message (NFKC, invisible characters removed, obfuscations such as
 * "[dot]" rewritten) while masking edits the ORIGINAL text: every normalised UTF-16 unit remembers the original
 * range it came from, so text outside a match stays byte-identical (emoji, RTL marks, combining sequences).
 */
export interface MappedText {
  readonly text: string;
  /** Original start index of each unit of `text`; null when the text is the original (identity map). */
  readonly starts: Int32Array | null;
  /** Original end index (exclusive) of each unit of `text`. */
  readonly ends: Int32Array | null;
}

/** Original [start, end) of the normalised range [start, end). */
export function toOriginalRange(mapped: MappedText, start: number, end: number): [number, number] {
  if (!mapped.starts || !mapped.ends) return [start, end];
  return [mapped.starts[start]!, mapped.ends[end - 1]!];
}

// Invisible characters used to split a phone number or address so a filter misses it: zero-width space/joiners,
// word joiner, BOM, soft hyphen, variation selectors (keycap emoji "5️⃣" becomes "5"), combining keycap, bidi marks.
const INVISIBLE_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x00ad, 0x00ad], [0x034f, 0x034f], [0x061c, 0x061c], [0x180e, 0x180e], [0x200b, 0x200f], [0x202a, 0x202e],
  [0x2060, 0x2064], [0x2066, 0x2069], [0x20e3, 0x20e3], [0xfe00, 0xfe0f], [0xfeff, 0xfeff],
];

function isInvisible(cp: number): boolean {
  return INVISIBLE_RANGES.some(([from, to]) => cp >= from && cp <= to);
}

// Decimal digits of other scripts that NFKC leaves alone (it already folds full-width, mathematical, circled and
// superscript digits). Each entry is the code point of that script's zero.
const DIGIT_ZEROS = [
  0x0660, 0x06f0, 0x07c0, 0x0966, 0x09e6, 0x0a66, 0x0ae6, 0x0b66, 0x0be6, 0x0c66, 0x0ce6, 0x0d66, 0x0de6, 0x0e50,
  0x0ed0, 0x0f20, 0x1040, 0x17e0, 0x1810, 0x1946, 0x19d0, 0x1b50, 0x1bb0, 0x1c40, 0x1c50, 0xa620, 0xa8d0, 0xa900,
  0xa9d0, 0xaa50, 0xabf0,
];

function foldDigit(cp: number): string | null {
  for (const zero of DIGIT_ZEROS) {
    if (cp >= zero && cp <= zero + 9) return String(cp - zero);
  }
  return null;
}

// Dashes, dots and spaces that NFKC keeps distinct but people use interchangeably.
const PUNCTUATION_FOLD: Record<string, string> = {
  '\u2010': '-', '\u2011': '-', '\u2012': '-', '\u2013': '-', '\u2014': '-', '\u2015': '-', '\u2212': '-',
  '\u3002': '.', '\uFF61': '.', '\u2024': '.', '\u00B7': '.', '\u2022': '.', '\u2219': '.', '\u30FB': '.',
  '\u3000': ' ',
};

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return false;
  return true;
}

const foldCache = new Map<number, string>();
const FOLD_CACHE_LIMIT = 4_096;

/** The detection form of one non-ASCII code point (cached: messages repeat the same letters). */
function foldCodePoint(ch: string, cp: number): string {
  const hit = foldCache.get(cp);
  if (hit !== undefined) return hit;
  const out = isInvisible(cp) ? '' : (PUNCTUATION_FOLD[ch] ?? foldDigit(cp) ?? ch.normalize('NFKC'));
  if (foldCache.size < FOLD_CACHE_LIMIT) foldCache.set(cp, out);
  return out;
}

/**
 * NFKC per code point plus the folds above. Per code point (not whole-string) so each output unit maps to exactly
 * one input code point; the rare composition across a combining mark does not matter for detection. Unchanged
 * stretches are copied as slices, so the cost is one pass plus the changed characters.
 */
export function normalizeForDetection(original: string): MappedText {
  if (isAscii(original)) return { text: original, starts: null, ends: null };
  const n = original.length;
  let starts = new Int32Array(n + 16);
  let ends = new Int32Array(n + 16);
  let size = 0;
  const chunks: string[] = [];
  let runStart = 0;
  const ensure = (extra: number): void => {
    if (size + extra <= starts.length) return;
    const grown = Math.max(starts.length * 2, size + extra);
    const s2 = new Int32Array(grown);
    s2.set(starts.subarray(0, size));
    const e2 = new Int32Array(grown);
    e2.set(ends.subarray(0, size));
    starts = s2;
    ends = e2;
  };
  let i = 0;
  while (i < n) {
    const code = original.charCodeAt(i);
    if (code < 0x80) {
      ensure(1);
      starts[size] = i;
      ends[size] = i + 1;
      size++;
      i++;
      continue;
    }
    const cp = original.codePointAt(i)!;
    const len = cp > 0xffff ? 2 : 1;
    const ch = original.slice(i, i + len);
    const out = foldCodePoint(ch, cp);
    if (out === ch) {
      ensure(len);
      for (let k = 0; k < len; k++) {
        starts[size] = i;
        ends[size] = i + len;
        size++;
      }
      i += len;
      continue;
    }
    if (runStart < i) chunks.push(original.slice(runStart, i));
    runStart = i + len;
    if (out.length === 0) {
      // A removed invisible character belongs to the text before it, so masking "5️⃣" takes its keycap too.
      for (let k = size - 1; k >= 0 && ends[k] === i; k--) ends[k] = i + len;
    } else {
      chunks.push(out);
      ensure(out.length);
      for (let k = 0; k < out.length; k++) {
        starts[size] = i;
        ends[size] = i + len;
        size++;
      }
    }
    i += len;
  }
  if (runStart < n) chunks.push(original.slice(runStart));
  return { text: chunks.join(''), starts: starts.subarray(0, size), ends: ends.subarray(0, size) };
}

/**
 * Applies a global regex replacement to mapped text and keeps the map: the replacement's units all map to the
 * original range of the whole match. `replace` returns the replacement or null to keep the match as it is.
 */
export function rewriteMapped(
  mapped: MappedText,
  pattern: RegExp,
  replace: (match: RegExpExecArray) => string | null,
): MappedText {
  if (!pattern.global) throw new Error('rewriteMapped needs a global pattern');
  const src = mapped.text;
  pattern.lastIndex = 0;
  let m = pattern.exec(src);
  if (!m) return mapped;
  let text = '';
  const starts: number[] = [];
  const ends: number[] = [];
  let cursor = 0;
  const copy = (from: number, to: number): void => {
    text += src.slice(from, to);
    for (let k = from; k < to; k++) {
      starts.push(mapped.starts ? mapped.starts[k]! : k);
      ends.push(mapped.ends ? mapped.ends[k]! : k + 1);
    }
  };
  while (m) {
    const matchStart = m.index;
    const matchEnd = matchStart + m[0].length;
    const replacement = m[0].length > 0 ? replace(m) : null;
    if (replacement !== null) {
      copy(cursor, matchStart);
      const [oStart, oEnd] = toOriginalRange(mapped, matchStart, matchEnd);
      text += replacement;
      for (let k = 0; k < replacement.length; k++) {
        starts.push(oStart);
        ends.push(oEnd);
      }
      cursor = matchEnd;
    }
    if (m[0].length === 0) pattern.lastIndex++;
    m = pattern.exec(src);
  }
  copy(cursor, src.length);
  return { text, starts: Int32Array.from(starts), ends: Int32Array.from(ends) };
}

export interface OriginalSpan<K extends string = string> {
  start: number;
  end: number;
  kinds: K[];
}

/**
 * Merges overlapping or touching spans (the union), keeping every kind involved, in original coordinates.
 * Spans are small in number (one per detected item), so sorting is cheap.
 */
export function mergeSpans<K extends string>(spans: OriginalSpan<K>[]): OriginalSpan<K>[] {
  const sorted = [...spans].sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: OriginalSpan<K>[] = [];
  for (const span of sorted) {
    const last = merged[merged.length - 1];
    if (last && span.start < last.end) {
      // A span inside another (the domain of an email) adds nothing; a partial overlap widens the union.
      if (span.end <= last.end) continue;
      last.end = span.end;
      for (const kind of span.kinds) if (!last.kinds.includes(kind)) last.kinds.push(kind);
    } else {
      merged.push({ start: span.start, end: span.end, kinds: [...span.kinds] });
    }
  }
  return merged;
}

/** Replaces each span of the original with `token(span)`, leaving all other text untouched. */
export function replaceSpans<S extends { start: number; end: number }>(
  original: string,
  spans: readonly S[],
  token: (span: S) => string,
): string {
  let out = '';
  let cursor = 0;
  for (const span of spans) {
    out += original.slice(cursor, span.start) + token(span);
    cursor = span.end;
  }
  return out + original.slice(cursor);
}
