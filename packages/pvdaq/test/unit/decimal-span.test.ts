import { describe, expect, it } from 'vitest';
import { plainDecimalInto } from '../../src/readers/decimal-span.js';

/** The cell read in place, as it sits in a line between other cells; undefined when off the fast path. */
function readInPlace(cell: string): number | undefined {
  const text = `9,${cell},7\r\n`;
  const out = new Float64Array(1);
  return plainDecimalInto(text, 2, 2 + cell.length, out) ? out[0] : undefined;
}

/** A small deterministic generator (mulberry32), so that a failure names a reproducible cell. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('plain decimals read in place', () => {
  it('gives exactly what Number() gives, for the cells sensor files hold', () => {
    const cells = [
      '0',
      '-0',
      '+0',
      '0.0',
      '-0.000',
      '1',
      '-999',
      '-7999',
      '-9999',
      '-99999',
      '12.5',
      '.5',
      '-.5',
      '5.',
      '+3.25',
      '0.1',
      '0.3',
      '1e3',
      '1E+03',
      '2.5e-4',
      '-6.02e23',
      '123456789012345',
      '9007199254740991',
      '0.000000000000000000001',
      '1234.5678e-10',
      '00042.500',
    ];
    for (const cell of cells) expect(Object.is(readInPlace(cell), Number(cell)), cell).toBe(true);
    // random readings in the forms loggers write: fixed decimals, many digits, exponents
    const next = random(19);
    for (let i = 0; i < 50_000; i++) {
      const digits = 1 + Math.floor(next() * 16);
      const v = (next() - 0.5) * 10 ** Math.floor(next() * 12 - 4);
      const forms = [v.toFixed(Math.floor(next() * 10)), v.toPrecision(digits), v.toExponential(digits - 1), String(v)];
      for (const cell of forms) {
        const read = readInPlace(cell);
        if (read !== undefined) expect(Object.is(read, Number(cell)), cell).toBe(true);
      }
    }
  });

  it('leaves every other cell to the reading rules', () => {
    const others = [
      '',
      '-',
      '+',
      '.',
      '-.',
      'e5',
      '1e',
      '1e+',
      ' 1',
      '1 ',
      'NaN',
      'nan',
      'Infinity',
      '-inf',
      '0x1A',
      '0b1',
      '0o7',
      '1_000',
      '1,5',
      '1.2.3',
      '1e99999',
      '1e23',
      '1e-23',
      '9007199254740993',
      '12345678901234567890',
      '"1"',
    ];
    for (const cell of others) expect(readInPlace(cell), cell).toBeUndefined();
  });

  it('reads only its span, whatever follows it in the text', () => {
    const out = new Float64Array(1);
    const text = '12.5,7e1\n3';
    expect(plainDecimalInto(text, 0, 4, out)).toBe(true);
    expect(out[0]).toBe(12.5);
    // a span ending inside a number stops there: "7" of "7e1"
    expect(plainDecimalInto(text, 5, 6, out)).toBe(true);
    expect(out[0]).toBe(7);
    expect(plainDecimalInto(text, 0, 2, out)).toBe(true);
    expect(out[0]).toBe(12);
  });
});
