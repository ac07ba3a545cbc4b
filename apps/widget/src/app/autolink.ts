/**
 * Safe auto-linking (V-20/V-21): message text is split into text and link tokens and rendered as text nodes
 * and <a> elements — never parsed as HTML. Only http(s) URLs become links (no javascript:, data:, vbscript:),
 * opened in a new tab without opener or referrer.
 */
export type Token = { kind: 'text'; text: string } | { kind: 'link'; text: string; href: string };

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`]+|\bwww\.[^\s<>"'`]+/gi;
const TRAILING = /[.,;:!?)\]}'"»]+$/;

export function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    let raw = match[0];
    const trail = TRAILING.exec(raw)?.[0] ?? '';
    if (trail && !(trail.startsWith(')') && raw.includes('('))) raw = raw.slice(0, raw.length - trail.length);
    const start = match.index ?? 0;
    const href = safeHref(raw.startsWith('www.') ? `https://${raw}` : raw);
    if (!href) continue;
    if (start > last) out.push({ kind: 'text', text: text.slice(last, start) });
    out.push({ kind: 'link', text: raw, href });
    last = start + raw.length;
  }
  if (last < text.length) out.push({ kind: 'text', text: text.slice(last) });
  return out;
}

export function safeHref(candidate: string): string | null {
  try {
    const url = new URL(candidate);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}
