import { describe, expect, it } from 'vitest';
import { findUnsafeValue, mayHideUnsafeValue } from '../../apps/server/src/http/plugins/json-body.ts';

/**
 * The body parser walks a parsed JSON value only when its text could hide something unsafe (V-04…V-07). The
 * text check must never let an unsafe body through: every body the walk refuses must also be flagged by it.
 */
describe('JSON body pre-check', () => {
  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
  const unsafe = [
    '{"content":"a\\u0000b"}',
    '{"content":"\\ud800"}',
    '{"__proto__":{"admin":true}}',
    '{"a":{"constructor":{"prototype":{}}}}',
    '{"\\u005f_proto__":1}',
    `{"a":${deep(40)}}`,
    `{"a":${'{"b":'.repeat(40)}1${'}'.repeat(40)}}`,
  ];

  it('flags every body the walk refuses', () => {
    for (const text of unsafe) {
      expect(findUnsafeValue(JSON.parse(text)), text).not.toBeNull();
      expect(mayHideUnsafeValue(text), text).toBe(true);
    }
  });

  it('lets an ordinary message body skip the walk', () => {
    const text = JSON.stringify({ content: 'Is the flat free on 12 May? Call me at 555-0100 {soon} [thanks]', client_id: 'c-1' });
    expect(mayHideUnsafeValue(text)).toBe(false);
    expect(findUnsafeValue(JSON.parse(text))).toBeNull();
  });

  it('walks when brackets exceed the depth limit even if the nesting is shallow, and then finds nothing', () => {
    const text = JSON.stringify({ items: Array.from({ length: 40 }, () => []) });
    expect(mayHideUnsafeValue(text)).toBe(true);
    expect(findUnsafeValue(JSON.parse(text))).toBeNull();
  });
});
