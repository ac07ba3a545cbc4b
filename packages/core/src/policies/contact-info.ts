import type { MaskedInfo } from '@reusable-chat/db';
import {
  AT_STOPWORDS,
  DOMAIN_LABEL_STOPWORDS,
  KNOWN_TLDS,
  MAIL_PROVIDERS,
  SOCIAL_PLATFORMS,
  TECH_NAMES,
  WORDLIKE_TLDS,
} from './contact-info-lexicon.ts';
import { findPhoneNumbers, type TextRange } from './phone-numbers.ts';
import {
  mergeSpans,
  normalizeForDetection,
  replaceSpans,
  rewriteMapped,
  toOriginalRange,
  type MappedText,
  type OriginalSpan,
} from './text-normalization.ts';

/**
 * Contact details in a message (SPEC §6): emails, phone numbers, links and — when a configuration asks for it —
 * social handles, including obfuscated forms ("name at gmail dot com", "five five five…", full-width digits).
 * Every pattern here is linear: character classes never overlap with what follows them, and each pattern that
 * starts with a repeated class has a look-behind so it can only start at the beginning of a run.
 */

export const CONTACT_KINDS = ['email', 'phone', 'url', 'social'] as const;
export type ContactKind = (typeof CONTACT_KINDS)[number];

/** The fixed text that replaces each kind, so readers see what was there without seeing it. */
export const CONTACT_MASK_TOKENS: Readonly<Record<ContactKind, string>> = {
  email: '[email hidden]',
  phone: '[phone hidden]',
  url: '[link hidden]',
  social: '[handle hidden]',
};

export const DEFAULT_MIN_PHONE_DIGITS = 7;

export interface ContactScanOptions {
  kinds: readonly ContactKind[];
  /** Fewer digits than this is never a phone number (7 = a local number without area code). */
  minPhoneDigits?: number;
  /** Domains (and their subdomains) whose links stay visible, lower-case. */
  allowedDomains?: readonly string[];
}

export interface ContactMatch {
  /** Range in the ORIGINAL content. */
  start: number;
  end: number;
  /** The kind the mask token shows first; `kinds` lists every kind that overlapped there. */
  kind: ContactKind;
  kinds: ContactKind[];
}

export interface ContactMaskResult {
  content: string;
  masked: MaskedInfo | null;
  matches: ContactMatch[];
}

// ─── detection text ───

/** Obfuscations rewritten to their plain form before detection; each keeps its original range for masking. */
const REWRITES: ReadonlyArray<[RegExp, string]> = [
  // "name [at] gmail", "name(at)gmail", "name {@} gmail", "name(a)gmail"
  [/(?<!\s)\s*[[({<]\s*(?:at|a|@|arroba|arobase)\s*[\])}>]\s*/giu, '@'],
  // "juan arroba gmail punto com" (the English " at " is handled by the email detector, it is too common a word)
  [/(?<!\s)\s+(?:arroba|arobase|klammeraffe)\s+/giu, '@'],
  // "gmail [dot] com", "gmail(.)com", "gmail (punkt) de"
  [/(?<!\s)\s*[[({<]\s*(?:dot|punkt|punto|point|\.)\s*[\])}>]\s*/giu, '.'],
  // "gmail dot com" — needs whitespace on both sides, so "polka-dot" and "dotcom" stay words
  [/(?<!\s)\s+(?:dot|punkt|punto)\s+/giu, '.'],
  // "name @ gmail.com": only the spaces go, so "@" keeps its own position (a handle's mask starts at "@")
  [/(?<=[\p{L}\p{N}_.])\s+(?=@)/gu, ''],
  [/(?<=@)\s+(?=[\p{L}\p{N}])/gu, ''],
  // "gmail . com" (spaces on both sides; "end. Next" keeps its sentence break)
  [/(?<!\s)\s+\.\s+(?=[\p{L}\p{N}])/gu, '.'],
];

export function toDetectionText(content: string): MappedText {
  return rewriteObfuscations(normalizeForDetection(content));
}

function rewriteObfuscations(normalized: MappedText): MappedText {
  let mapped = normalized;
  for (const [pattern, replacement] of REWRITES) mapped = rewriteMapped(mapped, pattern, () => replacement);
  return mapped;
}

// ─── domains ───

const isTitlecase = (s: string): boolean => s.length > 1 && s[0] !== s[0]!.toLowerCase() && s.slice(1) === s.slice(1).toLowerCase();

/**
 * How many leading labels of `labels` form a real domain (0 = none). Bare mentions need a known TLD, which is
 * what keeps "Mr.Smith", "e.g.", "index.html", "node.js" and "v1.2.3" out.
 */
function domainLabelCount(labels: string[], { bare }: { bare: boolean }): number {
  for (let k = labels.length - 1; k >= 1; k--) {
    const tld = labels[k]!;
    const lower = tld.toLowerCase();
    if (!KNOWN_TLDS.has(lower)) continue;
    if (labels.slice(0, k).some((l) => l === '' || l.startsWith('-') || l.endsWith('-'))) return 0;
    if (bare) {
      const first = labels[0]!.toLowerCase();
      // "arrived.It was": a missing space before a capitalised word, not a domain.
      if (isTitlecase(tld)) return 0;
      if (k === 1 && DOMAIN_LABEL_STOPWORDS.has(first)) return 0;
      if (k === 1 && WORDLIKE_TLDS.has(lower) && AT_STOPWORDS.has(first)) return 0;
      if (TECH_NAMES.has(labels.slice(0, k + 1).join('.').toLowerCase())) return 0;
    }
    return k + 1;
  }
  return 0;
}

const TRAILING_PUNCTUATION = '.,;:!?\'"`)]}>»”’';

/** Trims sentence punctuation off the end of a link, keeping a closing bracket the link itself opened. */
function trimLinkEnd(text: string, start: number, end: number): number {
  let e = end;
  let open = -1;
  let close = 0;
  while (e > start && TRAILING_PUNCTUATION.includes(text[e - 1]!)) {
    if (text[e - 1] === ')') {
      if (open < 0) {
        open = 0;
        for (let i = start; i < e; i++) {
          if (text[i] === '(') open++;
          else if (text[i] === ')') close++;
        }
      }
      // "https://en.wikipedia.org/wiki/Foo_(bar)" keeps its balanced ")".
      if (open >= close) break;
      close--;
    }
    e--;
  }
  return e;
}

const SCHEME_URL = /(?<![\p{L}\p{N}])(?:https?|hxxps?|ftps?|wss?):\/\/[^\s<>"'`]+/giu;
const WWW_URL = /(?<![\p{L}\p{N}_.-])www\d{0,3}\.[^\s<>"'`]+/giu;
const BARE_DOMAIN = /(?<![\p{L}\p{N}_.@'’-])[\p{L}\p{N}][\p{L}\p{N}_-]*(?:\.[\p{L}\p{N}_-]+)+/gu;
const PATH_TAIL = /[^\s<>"'`]*/y;
const PORT = /:\d{1,5}/y;

const HOST_END = /[/:?#]/;

/** True when `host` is one of `allowed` or a subdomain of one ("www.tenant.com" under "tenant.com"). */
function isAllowedHost(host: string, allowed: readonly string[]): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return allowed.some((d) => h === d || h.endsWith(`.${d}`));
}

/**
 * Links in detection text. `allowedDomains` (a configuration's own site, say) are not reported, so a host can
 * point a guest at the marketplace's pages without them being masked.
 */
export function findLinks(text: string, allowedDomains: readonly string[] = []): TextRange[] {
  const found: TextRange[] = [];
  for (const pattern of [SCHEME_URL, WWW_URL]) {
    pattern.lastIndex = 0;
    for (let m = pattern.exec(text); m; m = pattern.exec(text)) {
      const end = trimLinkEnd(text, m.index, m.index + m[0].length);
      if (end - m.index <= 'www.'.length) continue;
      const afterScheme = m[0].includes('://') ? m[0].slice(m[0].indexOf('://') + 3) : m[0];
      const hostEnd = afterScheme.search(HOST_END);
      const host = hostEnd < 0 ? afterScheme : afterScheme.slice(0, hostEnd);
      if (allowedDomains.length > 0 && isAllowedHost(host.slice(host.lastIndexOf('@') + 1), allowedDomains)) continue;
      found.push({ start: m.index, end });
    }
  }
  BARE_DOMAIN.lastIndex = text.includes('.') ? 0 : text.length;
  for (let m = BARE_DOMAIN.exec(text); m; m = BARE_DOMAIN.exec(text)) {
    const labels = m[0].split('.');
    const count = domainLabelCount(labels, { bare: true });
    if (count === 0) continue;
    const host = labels.slice(0, count).join('.');
    let end = m.index + host.length;
    if (text[end] === '@') continue; // the local part of an email, found by the email detector
    if (allowedDomains.length > 0 && isAllowedHost(host, allowedDomains)) continue;
    PORT.lastIndex = end;
    if (PORT.exec(text)) end = PORT.lastIndex;
    if (text[end] === '/' || text[end] === '?' || text[end] === '#') {
      PATH_TAIL.lastIndex = end;
      PATH_TAIL.exec(text);
      end = trimLinkEnd(text, m.index, PATH_TAIL.lastIndex);
    }
    found.push({ start: m.index, end });
    // A link found by scheme or www already covers this; merging later removes the overlap.
  }
  return found;
}

// ─── emails ───

const EMAIL = /(?<![\p{L}\p{N}._%+'’-])[\p{L}\p{N}._%+-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*/gu;
const AT_WORD_EMAIL = /(?<![\p{L}\p{N}._%+'’-])([\p{L}\p{N}._%+-]{2,})\s+at\s+([\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*)/giu;
const HAS_ALNUM = /[\p{L}\p{N}]/u;

/** Labels of the address's domain that belong to it, or 0 when the text after "@"/"at" is not a mail domain. */
function mailDomainLabelCount(domain: string, { anyTld }: { anyTld: boolean }): number {
  const labels = domain.split('.');
  const known = domainLabelCount(labels, { bare: false });
  if (known > 0) return known;
  if (anyTld && labels.length >= 2 && /^\p{L}{2,}$/u.test(labels[labels.length - 1]!)) return labels.length;
  return MAIL_PROVIDERS.has(labels[0]!.toLowerCase()) ? 1 : 0;
}

export function findEmails(text: string): TextRange[] {
  const found: TextRange[] = [];
  EMAIL.lastIndex = text.includes('@') ? 0 : text.length;
  for (let m = EMAIL.exec(text); m; m = EMAIL.exec(text)) {
    const at = m[0].indexOf('@');
    const local = m[0].slice(0, at);
    const domain = m[0].slice(at + 1);
    if (!HAS_ALNUM.test(local)) continue;
    const count = mailDomainLabelCount(domain, { anyTld: true });
    if (count === 0) continue;
    found.push({ start: m.index, end: m.index + at + 1 + domain.split('.').slice(0, count).join('.').length });
  }
  AT_WORD_EMAIL.lastIndex = 0;
  for (let m = AT_WORD_EMAIL.exec(text); m; m = AT_WORD_EMAIL.exec(text)) {
    const local = m[1]!;
    const domain = m[2]!;
    // "look at example.com", "meet me at booking.com": a sentence; the domain alone is still a link.
    if (AT_STOPWORDS.has(local.toLowerCase()) || !HAS_ALNUM.test(local)) {
      AT_WORD_EMAIL.lastIndex = m.index + local.length;
      continue;
    }
    const count = mailDomainLabelCount(domain, { anyTld: false });
    if (count === 0) {
      AT_WORD_EMAIL.lastIndex = m.index + local.length;
      continue;
    }
    const domainStart = m.index + m[0].length - domain.length;
    found.push({ start: m.index, end: domainStart + domain.split('.').slice(0, count).join('.').length });
  }
  return found;
}

// ─── social handles ───

const HANDLE = String.raw`[\p{L}\p{N}_](?:[\p{L}\p{N}_.]{0,28}[\p{L}\p{N}_])?`;
const LABEL_WORDS = String.raw`(?:\s*(?:handle|username|user|id|account|acc|name))?`;
/** "insta: @jane.doe", "telegram @jdoe", "my ig is @jane" — a named platform followed by an @handle. */
const PLATFORM_AT_HANDLE = new RegExp(
  String.raw`(?<![\p{L}\p{N}_])(?:${SOCIAL_PLATFORMS})${LABEL_WORDS}(?:\s*(?:is|:|=|-|->|at|on))?\s*(@${HANDLE})`,
  'giud',
);
/** "insta: jane.doe", "snapchat username: jdoe99" — a colon after an unambiguous platform name. */
const PLATFORM_COLON_HANDLE = new RegExp(
  String.raw`(?<![\p{L}\p{N}_])(?:instagram|insta|ig|snapchat|telegram|tiktok|facebook|fb|skype|wechat|kik|discord|twitter|whatsapp|viber|linkedin)${LABEL_WORDS}\s*[:=]\s*(${HANDLE})`,
  'giud',
);
/** "@jane.doe" on its own (only when a configuration masks social handles). */
const BARE_HANDLE = new RegExp(String.raw`(?<![\p{L}\p{N}_@./])@${HANDLE}`, 'gu');

export function findSocialHandles(text: string): TextRange[] {
  const found: TextRange[] = [];
  for (const pattern of [PLATFORM_AT_HANDLE, PLATFORM_COLON_HANDLE]) {
    pattern.lastIndex = 0;
    for (let m = pattern.exec(text); m; m = pattern.exec(text)) {
      const [start, end] = m.indices![1]!;
      found.push({ start, end });
    }
  }
  BARE_HANDLE.lastIndex = text.includes('@') ? 0 : text.length;
  for (let m = BARE_HANDLE.exec(text); m; m = BARE_HANDLE.exec(text)) {
    if (m[0].length >= 3) found.push({ start: m.index, end: m.index + m[0].length });
  }
  return found;
}

// ─── scan and mask ───

/** Contact details in `content`, merged where they overlap, in original coordinates, in text order. */
export function detectContactInfo(content: string, options: ContactScanOptions): ContactMatch[] {
  if (options.kinds.length === 0 || content.length === 0) return [];
  const normalized = normalizeForDetection(content);
  const mapped = rewriteObfuscations(normalized);
  const text = mapped.text;
  const spans: OriginalSpan<ContactKind>[] = [];
  const add = (kind: ContactKind, ranges: TextRange[], from: MappedText = mapped): void => {
    for (const r of ranges) {
      if (r.end <= r.start) continue;
      const [start, end] = toOriginalRange(from, r.start, r.end);
      spans.push({ start, end, kinds: [kind] });
    }
  };
  // Order is the tie-break for the token shown when two kinds cover the same text.
  if (options.kinds.includes('email')) add('email', findEmails(text));
  if (options.kinds.includes('url')) add('url', findLinks(text, options.allowedDomains));
  if (options.kinds.includes('phone')) {
    add('phone', findPhoneNumbers(text, { minDigits: options.minPhoneDigits ?? DEFAULT_MIN_PHONE_DIGITS }));
  }
  // Handles are read before the "@ " rewrite, so "@ 5pm" stays a time and not the handle "@5pm".
  if (options.kinds.includes('social')) add('social', findSocialHandles(normalized.text), normalized);
  return mergeSpans(spans).map((s) => ({ start: s.start, end: s.end, kind: s.kinds[0]!, kinds: s.kinds }));
}

/** Replaces each detected item with its kind's token; the rest of the text is returned byte-identical. */
export function maskContactInfo(content: string, options: ContactScanOptions): ContactMaskResult {
  const matches = detectContactInfo(content, options);
  if (matches.length === 0) return { content, masked: null, matches };
  const masked = replaceSpans(content, matches, (m) => CONTACT_MASK_TOKENS[m.kind]);
  const kinds = CONTACT_KINDS.filter((k) => matches.some((m) => m.kinds.includes(k)));
  return { content: masked, masked: { rules: ['contact_info'], kinds, count: matches.length }, matches };
}

/** Links as a reader would count them (scheme, www. and bare domains), for the `max_links` limit. */
export function countLinks(content: string): number {
  const mapped = normalizeForDetection(content);
  return mergeSpans(findLinks(mapped.text).map((r) => ({ start: r.start, end: r.end, kinds: ['url'] }))).length;
}
