/** JSON text of values that no longer change, by identity (see settleJson). */
const settledTexts = new WeakMap<object, string>();

/**
 * Serialises a finished value (a sent message's JSON) once: its HTTP answer and its realtime frames all write
 * this same text instead of each serialising the object again. The caller must not change the value
 * afterwards (the text would go stale); it is not frozen, because freezing a message's objects cost more
 * than the serialisation it saves (≈ 1 % of the send path's CPU).
 */
export function settleJson<T extends object>(value: T): T {
  if (!settledTexts.has(value)) settledTexts.set(value, JSON.stringify(value));
  return value;
}

/** The value's JSON text: the settled text when it has one, otherwise serialised now. */
export function jsonTextOf(value: unknown): string {
  const settled = value !== null && typeof value === 'object' ? settledTexts.get(value) : undefined;
  return settled ?? JSON.stringify(value);
}
