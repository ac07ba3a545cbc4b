import { deepFreeze } from './deep-freeze.ts';

/** JSON text of values that no longer change, by identity (see settleJson). */
const settledTexts = new WeakMap<object, string>();

/**
 * Freezes a finished value (a sent message's JSON) and serialises it once: its HTTP answer and its realtime
 * frames all write this same text instead of each serialising the object again. Frozen, so a late change
 * throws instead of leaving the text stale.
 */
export function settleJson<T extends object>(value: T): T {
  if (!settledTexts.has(value)) settledTexts.set(deepFreeze(value), JSON.stringify(value));
  return value;
}

/** The value's JSON text: the settled text when it has one, otherwise serialised now. */
export function jsonTextOf(value: unknown): string {
  const settled = value !== null && typeof value === 'object' ? settledTexts.get(value) : undefined;
  return settled ?? JSON.stringify(value);
}
