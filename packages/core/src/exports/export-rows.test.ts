import { describe, expect, it } from 'vitest';
import { toCsvLine } from './export-rows.ts';

describe('toCsvLine', () => {
  it('quotes per RFC 4180 and writes objects as JSON', () => {
    expect(toCsvLine(['a', 'b,c', 'say "hi"', 'line\nbreak', null, 3, { k: 1 }])).toBe(
      'a,"b,c","say ""hi""","line\nbreak",,3,"{""k"":1}"\r\n',
    );
  });

  it('defuses spreadsheet formulas (CSV injection)', () => {
    expect(toCsvLine(['=1+1', '+1', '-2', '@SUM(A1)', 'ok'])).toBe("'=1+1,'+1,'-2,'@SUM(A1),ok\r\n");
    expect(toCsvLine([-5])).toBe('-5\r\n');
  });
});
