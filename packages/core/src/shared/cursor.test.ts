import { describe, expect, it } from 'vitest';
import { AppError } from '../errors/registry.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';

const scope = { secret: 's'.repeat(40), workspaceId: 'w1', list: 'messages:c1' };
const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof AppError ? err.code : 'other';
  }
  return 'none';
};

describe('signed cursors', () => {
  it('round-trips a position for the same workspace and list', () => {
    const cursor = encodeCursor(scope, { d: 'b', s: 42 });
    expect(decodeCursor(scope, cursor)).toEqual({ d: 'b', s: 42 });
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  });

  it('refuses other workspaces, other lists, other secrets and any edit', () => {
    const cursor = encodeCursor(scope, { d: 'b', s: 42 });
    expect(code(() => decodeCursor({ ...scope, workspaceId: 'w2' }, cursor))).toBe('invalid_cursor');
    expect(code(() => decodeCursor({ ...scope, list: 'messages:c2' }, cursor))).toBe('invalid_cursor');
    expect(code(() => decodeCursor({ ...scope, secret: 't'.repeat(40) }, cursor))).toBe('invalid_cursor');
    const [body, sig] = cursor.split('.') as [string, string];
    const edited = Buffer.from(Buffer.from(body, 'base64url').toString().replace('42', '41')).toString('base64url');
    expect(code(() => decodeCursor(scope, `${edited}.${sig}`))).toBe('invalid_cursor');
    for (const junk of ['', '.', 'abc', `${body}.`, `.${sig}`, 'x'.repeat(5000), `${body}.${sig}x`]) {
      expect(code(() => decodeCursor(scope, junk)), junk.slice(0, 20)).toBe('invalid_cursor');
    }
  });
});
