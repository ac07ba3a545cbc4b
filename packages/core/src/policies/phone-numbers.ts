import {
  CURRENCY_SYMBOLS,
  CURRENCY_WORDS,
  NON_PHONE_CONTEXT_WORDS,
  NUMBER_WORDS,
  PHONE_CONTEXT_WORDS,
  REPEAT_WORDS,
  UNIT_WORDS,
  WEAK_NUMBER_WORDS,
} from './contact-info-lexicon.ts';

/**
 * Phone numbers are found by a single left-to-right scan (linear time, no regex backtracking): digit runs and
 * spelled-out digits joined by short runs of separators form a candidate; a candidate with enough digits is a
 * phone number unless its shape or context says otherwise (dates, years, times, IPv4, decimals, prices,
 * quantities, order and booking references, versions). Works on detection text (digits already folded to ASCII).
 */

export interface TextRange {
  start: number;
  end: number;
}

interface NumberToken {
  start: number;
  end: number;
  digits: string;
  kind: 'run' | 'word' | 'weak' | 'repeat';
  repeat: number;
}

/** Separators people put inside phone numbers. Anything else ends a candidate. */
const SEPARATORS = new Set([' ', '\t', '\n', '\r', '\u00A0', '\u202F', '.', '-', '(', ')', '/', '_', '+', '*', '~', '\\']);
/** Longest separator run inside one number: "555 - 123" is three. */
const MAX_GAP_CHARS = 4;
/** E.164 allows 15 digits; a single unbroken run longer than that is an identifier, not a number to dial. */
const MAX_RUN_DIGITS = 15;
/** Words spelled out in a row that show deliberate obfuscation, so context keywords no longer excuse it. */
const DELIBERATE_WORDS = 3;

const LETTER = /\p{L}/u;
const WORD_CHARS = /[\p{L}\p{M}]/u;

function isDigit(ch: string | undefined): boolean {
  return ch !== undefined && ch >= '0' && ch <= '9';
}

function isLetter(ch: string | undefined): boolean {
  if (ch === undefined) return false;
  if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) return true;
  return ch.charCodeAt(0) >= 0x80 && LETTER.test(ch);
}

function readLetterRun(text: string, from: number): number {
  let j = from;
  while (j < text.length && (isLetter(text[j]) || (text.charCodeAt(j) >= 0x80 && WORD_CHARS.test(text[j]!)))) j++;
  return j;
}

const STRONG_WORDS = [...NUMBER_WORDS.keys()].filter((w) => !WEAK_NUMBER_WORDS.has(w) && w.length > 2);
// Two digit words are at least six letters ("onetwo"); a longer run than 60 letters is not a number.
const SEGMENT_MIN_CHARS = 6;
const SEGMENT_MAX_CHARS = 60;

/** "fivefivefive" → ['5','5','5']; null unless the whole word is made of digit words. */
function segmentNumberWords(word: string): string[] | null {
  if (word.length < SEGMENT_MIN_CHARS || word.length > SEGMENT_MAX_CHARS) return null;
  // best[i] = digits for word.slice(0, i), or null when that prefix cannot be segmented.
  const best: (string[] | null)[] = new Array<string[] | null>(word.length + 1).fill(null);
  best[0] = [];
  for (let i = 0; i < word.length; i++) {
    const prefix = best[i];
    if (!prefix) continue;
    for (const w of STRONG_WORDS) {
      if (word.startsWith(w, i) && !best[i + w.length]) best[i + w.length] = [...prefix, NUMBER_WORDS.get(w)!];
    }
  }
  const all = best[word.length];
  return all && all.length >= 2 ? all : null;
}

function letterRunIsNumberWords(text: string, from: number): boolean {
  const end = readLetterRun(text, from);
  const w = text.slice(from, end).toLowerCase();
  return NUMBER_WORDS.has(w) || REPEAT_WORDS.has(w) || segmentNumberWords(w) !== null;
}

export interface PhoneScanOptions {
  minDigits: number;
}

/** Ranges (in `text` coordinates) that are phone numbers. */
export function findPhoneNumbers(text: string, options: PhoneScanOptions): TextRange[] {
  const found: TextRange[] = [];
  let tokens: NumberToken[] = [];
  const finish = (): void => {
    if (tokens.length > 0) {
      const range = judgeCandidate(text, tokens, options);
      if (range) found.push(range);
      tokens = [];
    }
  };
  const push = (token: NumberToken): void => {
    const prev = tokens[tokens.length - 1];
    if (prev && token.start - prev.end > MAX_GAP_CHARS) finish();
    tokens.push(token);
  };

  const n = text.length;
  let i = 0;
  while (i < n) {
    const ch = text[i]!;
    if (isDigit(ch)) {
      let j = i + 1;
      while (j < n && isDigit(text[j])) j++;
      const prev = tokens[tokens.length - 1];
      const afterNumberWord = prev !== undefined && prev.end === i && prev.kind !== 'run';
      const gluedBefore = (isLetter(text[i - 1]) && !afterNumberWord) || (text[i - 1] === ':' && isDigit(text[i - 2]));
      const gluedAfter =
        (isLetter(text[j]) && !letterRunIsNumberWords(text, j)) || (text[j] === ':' && isDigit(text[j + 1]));
      if (gluedBefore || gluedAfter) {
        // "AB123456", "5pm", "15th", "10:30": part of a word or a time, never a dialled digit group.
        finish();
      } else {
        push({ start: i, end: j, digits: text.slice(i, j), kind: 'run', repeat: 1 });
      }
      i = j;
    } else if (isLetter(ch)) {
      const j = readLetterRun(text, i);
      const word = text.slice(i, j).toLowerCase();
      const digit = NUMBER_WORDS.get(word);
      const repeat = REPEAT_WORDS.get(word);
      if (digit !== undefined) {
        push({ start: i, end: j, digits: digit, kind: WEAK_NUMBER_WORDS.has(word) ? 'weak' : 'word', repeat: 1 });
      } else if (repeat !== undefined) {
        push({ start: i, end: j, digits: '', kind: 'repeat', repeat });
      } else {
        const parts = segmentNumberWords(word);
        if (parts) {
          for (const d of parts) push({ start: i, end: j, digits: d, kind: 'word', repeat: 1 });
        } else {
          finish();
        }
      }
      i = j;
    } else {
      // Commas split figures ("1,250,000"; "rooms 101, 102") but not spelled-out digits ("five, five, five").
      const last = tokens[tokens.length - 1];
      const spelledComma = ch === ',' && last !== undefined && last.kind !== 'run';
      if (!SEPARATORS.has(ch) && !spelledComma) finish();
      i++;
    }
  }
  finish();
  return found;
}

function judgeCandidate(text: string, raw: NumberToken[], options: PhoneScanOptions): TextRange | null {
  // Weak zero words ("oh", "o") and a dangling "double" only count between digits.
  let first = 0;
  let last = raw.length - 1;
  while (first <= last && (raw[first]!.kind === 'weak' || (raw[first]!.kind === 'repeat' && first === last))) first++;
  while (last >= first && (raw[last]!.kind === 'weak' || raw[last]!.kind === 'repeat')) last--;
  if (first > last) return null;
  const tokens = raw.slice(first, last + 1);

  let digits = '';
  let pendingRepeat = 1;
  let wordCount = 0;
  for (const t of tokens) {
    if (t.kind === 'repeat') {
      pendingRepeat = t.repeat;
      continue;
    }
    if (t.kind !== 'run') wordCount++;
    digits += t.digits.repeat(pendingRepeat);
    pendingRepeat = 1;
  }
  if (digits.length < options.minDigits) return null;

  let start = tokens[0]!.start;
  const end = tokens[tokens.length - 1]!.end;
  if (text[start - 1] === '(') start--;
  if (text[start - 1] === '+') start--;

  if (wordCount < DELIBERATE_WORDS && !looksDialable(text, tokens, start, end)) return null;
  return { start, end };
}

/** Shape and context checks for a candidate written mostly in digits. */
function looksDialable(text: string, tokens: NumberToken[], start: number, end: number): boolean {
  const runs = tokens.filter((t) => t.kind === 'run');
  if (runs.some((t) => t.digits.length > MAX_RUN_DIGITS)) return false;

  // Glued to an identifier: "#123456789", "HB-2024-88123", "ABC/12345678".
  const before = text[start - 1];
  if (before !== undefined && (isLetter(before) || isDigit(before))) return false;
  if (before === '#' || before === '№') return false;
  if (before !== undefined && '-_/\\'.includes(before) && (isLetter(text[start - 2]) || isDigit(text[start - 2]))) {
    return false;
  }
  // "99.5%", "1 250 000,50", "3.5:1".
  const after = text[end];
  if (after === '%' || after === '‰') return false;
  if ((after === ',' || after === '.' || after === ':') && isDigit(text[end + 1])) return false;

  if (hasCurrencyOrUnitAround(text, start, end)) return false;
  if (nearestContext(text, start) === 'not_phone') return false;

  if (runs.length === tokens.length) {
    const groups = runs.map((t) => t.digits);
    const seps = runs.slice(1).map((t, k) => gapKind(text.slice(runs[k]!.end, t.start)));
    if (isIpv4(groups, seps) || isDecimal(groups, seps) || isCounting(groups) || isCoveredByDatesAndTimes(groups, seps)) {
      return false;
    }
  }
  return true;
}

function gapKind(gap: string): string {
  const compact = gap.replace(/\s+/g, '');
  return compact === '' ? ' ' : compact;
}

function hasCurrencyOrUnitAround(text: string, start: number, end: number): boolean {
  let b = start - 1;
  while (b >= 0 && b > start - 4 && text[b] === ' ') b--;
  if (b >= 0 && CURRENCY_SYMBOLS.includes(text[b]!)) return true;
  let a = end;
  while (a < text.length && a < end + 3 && text[a] === ' ') a++;
  if (a < text.length && CURRENCY_SYMBOLS.includes(text[a]!)) return true;
  if (isLetter(text[a])) {
    const word = text.slice(a, readLetterRun(text, a)).toLowerCase();
    if (CURRENCY_WORDS.has(word) || UNIT_WORDS.has(word)) return true;
  }
  return false;
}

const CONTEXT_WINDOW_CHARS = 60;
const CONTEXT_WINDOW_WORDS = 6;

/**
 * The nearest keyword among the few words before a number decides: "booking ref 48213377" is a reference,
 * "booking confirmed, call 555 123 4567" is a phone number. "number", "my", "is" are neutral.
 */
function nearestContext(text: string, start: number): 'phone' | 'not_phone' | 'none' {
  const window = text.slice(Math.max(0, start - CONTEXT_WINDOW_CHARS), start).toLowerCase();
  const words = window.match(/[\p{L}\p{M}]+/gu) ?? [];
  for (let k = words.length - 1, seen = 0; k >= 0 && seen < CONTEXT_WINDOW_WORDS; k--, seen++) {
    const w = words[k]!;
    // Plurals count as the word: "codes", "orders", "refs".
    const singular = w.length > 3 && w.endsWith('s') ? w.slice(0, -1) : w;
    if (PHONE_CONTEXT_WORDS.has(w) || PHONE_CONTEXT_WORDS.has(singular)) return 'phone';
    if (NON_PHONE_CONTEXT_WORDS.has(w) || NON_PHONE_CONTEXT_WORDS.has(singular) || CURRENCY_WORDS.has(w)) return 'not_phone';
  }
  return 'none';
}

/** "1 2 3 4 5 6 7 8": counting up by one is a list, not a number to dial. */
function isCounting(groups: string[]): boolean {
  if (groups.length < 5) return false;
  for (let k = 1; k < groups.length; k++) {
    if (Number(groups[k]) !== Number(groups[k - 1]) + 1 || groups[k]!.startsWith('0')) return false;
  }
  return true;
}

function isIpv4(groups: string[], seps: string[]): boolean {
  return (
    groups.length === 4 && seps.every((s) => s === '.') && groups.every((g) => g.length <= 3 && Number(g) <= 255)
  );
}

/** "3.14159265", "48.856613": one dot and a long side is a decimal number, while "555.1234" stays a phone. */
function isDecimal(groups: string[], seps: string[]): boolean {
  return groups.length === 2 && (seps[0] === '.' || seps[0] === ',') && (groups[0]!.length >= 5 || groups[1]!.length >= 5 || groups[0]!.length === 1);
}

const isYear = (g: string): boolean => g.length === 4 && Number(g) >= 1800 && Number(g) <= 2099;
const isShortYear = (g: string): boolean => g.length === 2 || isYear(g);
const isMonth = (g: string): boolean => g.length <= 2 && Number(g) >= 1 && Number(g) <= 12;
const isDay = (g: string): boolean => g.length <= 2 && Number(g) >= 1 && Number(g) <= 31;
const isHour = (g: string): boolean => g.length <= 2 && Number(g) <= 23;
const isMinute = (g: string): boolean => g.length === 2 && Number(g) <= 59;
const isPaddedPair = (a: string, b: string): boolean => a.length === 2 && b.length === 2;

/**
 * True when the digit groups read entirely as dates, years, day-month pairs and times: "2024-03-15",
 * "15.03.2024 - 20.03.2024", "2019-2023", "10.30-11.45". Dynamic programming over the groups (linear).
 */
function isCoveredByDatesAndTimes(groups: string[], seps: string[]): boolean {
  const m = groups.length;
  // Day-month pairs count next to a year ("15.03 - 20.03.2024") or when written with two digits each
  // ("20.06.-25.06."); otherwise "5.5.5.1.2.3.4" would pass as dates.
  const hasYear = groups.some(isYear);
  const covered = new Array<boolean>(m + 1).fill(false);
  covered[m] = true;
  for (let i = m - 1; i >= 0; i--) {
    const g0 = groups[i]!;
    const g1 = groups[i + 1];
    const g2 = groups[i + 2];
    const s0 = seps[i];
    const s1 = seps[i + 1];
    if (isYear(g0) && covered[i + 1]) covered[i] = true;
    if (g1 !== undefined && g2 !== undefined && s0 === s1 && (s0 === '.' || s0 === '-' || s0 === '/')) {
      const triple =
        (isYear(g0) && isMonth(g1) && isDay(g2)) ||
        (isDay(g0) && isMonth(g1) && isShortYear(g2)) ||
        (isMonth(g0) && isDay(g1) && isShortYear(g2));
      if (triple && covered[i + 3]) covered[i] = true;
    }
    if (g1 !== undefined && (s0 === '.' || s0 === '/')) {
      const dayMonth = (hasYear || isPaddedPair(g0, g1)) && ((isDay(g0) && isMonth(g1)) || (isMonth(g0) && isDay(g1)));
      const time = s0 === '.' && isHour(g0) && isMinute(g1);
      if ((dayMonth || time) && covered[i + 2]) covered[i] = true;
    }
  }
  return covered[0]!;
}
