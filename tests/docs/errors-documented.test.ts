import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { errorRegistry } from '@reusable-chat/core';

/** ARCHITECTURE.md convention 4: every registry code is documented with its status in docs/errors.md. */
const docPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/errors.md');

function documentedRows(): Map<string, { status: number; meaning: string }> {
  const rows = new Map<string, { status: number; meaning: string }>();
  for (const line of readFileSync(docPath, 'utf8').split('\n')) {
    const m = /^\|\s*`([a-z0-9_]+)`\s*\|\s*(\d{3})\s*\|\s*(.*?)\s*\|\s*$/.exec(line);
    if (m) rows.set(m[1]!, { status: Number(m[2]), meaning: m[3]! });
  }
  return rows;
}

describe('docs/errors.md', () => {
  const rows = documentedRows();

  it('documents every code of the error registry with its HTTP status and a meaning', () => {
    const missing = Object.keys(errorRegistry).filter((code) => !rows.has(code));
    expect(missing, 'codes missing from docs/errors.md').toEqual([]);
    for (const [code, entry] of Object.entries(errorRegistry)) {
      expect(rows.get(code)?.status, `status of ${code}`).toBe(entry.status);
      expect(rows.get(code)?.meaning.length, `meaning of ${code}`).toBeGreaterThan(10);
    }
  });

  it('documents no code that the registry does not have', () => {
    const stale = [...rows.keys()].filter((code) => !(code in errorRegistry));
    expect(stale, 'codes in docs/errors.md that no longer exist').toEqual([]);
  });
});
