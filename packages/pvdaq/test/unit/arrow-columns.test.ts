import * as arrow from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { columnToFloat64 } from '../../src/readers/arrow-columns.js';

/** What the plain BigInt path gives: Number(v) × scale, rounded when the unit is finer than µs. */
function expected(values: readonly bigint[], valid: readonly boolean[], scale: number): number[] {
  return values.map((v, i) => {
    if (!valid[i]) return Number.NaN;
    const x = Number(v) * scale;
    return scale < 1 ? Math.round(x) : x;
  });
}

/** A deterministic spread of 64-bit values: small, negative, around 2^32 and 2^53, nanosecond instants. */
function sampleValues(signed: boolean): bigint[] {
  const out: bigint[] = [0n, 1n, 4294967295n, 4294967296n, 4294967297n, 9007199254740991n, 9007199254740993n];
  out.push(1_700_000_000_123_456n, 1_700_000_000_123_456_789n, 2n ** 63n - 1n);
  if (signed) out.push(-1n, -4294967296n, -4294967297n, -(2n ** 63n), -1_234_567_890_123_456n);
  else out.push(2n ** 64n - 1n, 2n ** 63n);
  let x = 0x2545f4914f6cdd1dn;
  for (let i = 0; i < 200; i++) {
    x = (x * 6364136223846793005n + 1442695040888963407n) & (2n ** 64n - 1n);
    out.push(signed ? BigInt.asIntN(64, x) >> BigInt(i % 40) : x >> BigInt(i % 40));
  }
  return out;
}

describe('columnToFloat64 on 64-bit columns: the same doubles as Number(bigint), without a BigInt per value', () => {
  for (const [name, type, scale] of [
    ['int64', new arrow.Int64(), 1],
    ['uint64', new arrow.Uint64(), 1],
    ['timestamp[ns]', new arrow.TimestampNanosecond(), 0.001],
    ['timestamp[us]', new arrow.TimestampMicrosecond(), 1],
    ['timestamp[s]', new arrow.TimestampSecond(), 1_000_000],
  ] as const) {
    it(`${name}: every value, nulls as NaN, in sliced chunks`, () => {
      const signed = !(type instanceof arrow.Uint64);
      const values = sampleValues(signed);
      const valid = values.map((_, i) => i % 7 !== 3);
      const bitmap = new Uint8Array(Math.ceil(values.length / 8));
      valid.forEach((ok, i) => {
        if (ok) bitmap[i >> 3]! |= 1 << (i & 7);
      });
      const data = (signed ? BigInt64Array : BigUint64Array).from(values as bigint[]);
      const whole = arrow.makeData({
        type: type as arrow.DataType,
        length: values.length,
        nullCount: valid.filter((v) => !v).length,
        nullBitmap: bitmap,
        data,
      } as never);
      // two chunks, the second one sliced at an odd offset
      const vector = new arrow.Vector([whole.slice(0, 101), whole.slice(101, values.length - 101)]);
      expect(Array.from(columnToFloat64(vector))).toEqual(expected(values, valid, scale));
    });
  }
});
