import { endianness } from 'node:os';
import * as arrow from 'apache-arrow';

/** 64-bit integers are read as two 32-bit halves (no BigInt per value) on little-endian machines. */
const LITTLE_ENDIAN = endianness() === 'LE';
/** 2^32. */
const TWO_32 = 4_294_967_296;

/** Microseconds per unit of an Arrow TimeUnit (SECOND, MILLISECOND, MICROSECOND, NANOSECOND). */
const US_PER_UNIT = [1_000_000, 1_000, 1, 0.001];

/** Whether an Arrow type is a timestamp, date or numeric type usable as a number column. */
export function isNumericLike(type: arrow.DataType): boolean {
  return (
    arrow.DataType.isTimestamp(type) ||
    arrow.DataType.isDate(type) ||
    arrow.DataType.isInt(type) ||
    arrow.DataType.isFloat(type) ||
    arrow.DataType.isDecimal(type)
  );
}

/**
 * Copies a column into a Float64Array: numbers as they are, timestamps and
 * dates as epoch microseconds, nulls as NaN. Dictionary and string columns are
 * not handled here (callers decide how to parse them).
 * @param out where to write, exactly as long as the column @defaultValue a new array
 */
export function columnToFloat64(
  vector: arrow.Vector,
  out: Float64Array = new Float64Array(vector.length),
): Float64Array {
  if (out.length !== vector.length) throw new RangeError(`column of ${vector.length} values into ${out.length}`);
  const type = vector.type as arrow.DataType;
  let pos = 0;
  for (const data of vector.data) {
    const n = data.length;
    // a sliced chunk's values start at the slice; its offset counts in the null bitmap only
    const values = data.values as ArrayLike<number | bigint>;
    const off = data.offset;
    let scale = 1;
    if (arrow.DataType.isTimestamp(type)) scale = US_PER_UNIT[(type as arrow.Timestamp).unit] ?? 1;
    else if (arrow.DataType.isDate(type))
      scale = (type as arrow.Date_).unit === arrow.DateUnit.DAY ? 86_400_000_000 : 1000;
    if (arrow.DataType.isDecimal(type)) {
      for (let i = 0; i < n; i++) {
        const v = vector.get(pos + i) as unknown;
        out[pos + i] = v == null ? Number.NaN : Number(String(v));
      }
    } else if (typeof values[0] === 'bigint' || values instanceof BigInt64Array || values instanceof BigUint64Array) {
      const big = values as BigInt64Array | BigUint64Array;
      if (LITTLE_ENDIAN && ArrayBuffer.isView(big)) {
        // hi × 2^32 + lo: both terms exact, one rounding, the same double as Number(bigint)
        const words = new Uint32Array(big.buffer, big.byteOffset, n * 2);
        const signed = big instanceof BigInt64Array;
        for (let i = 0; i < n; i++) {
          const hi = signed ? words[2 * i + 1]! | 0 : words[2 * i + 1]!;
          const v = (hi * TWO_32 + words[2 * i]!) * scale;
          out[pos + i] = scale < 1 ? Math.round(v) : v;
        }
      } else {
        for (let i = 0; i < n; i++) {
          const v = Number(big[i]) * scale;
          out[pos + i] = scale < 1 ? Math.round(v) : v;
        }
      }
    } else {
      const num = values as ArrayLike<number>;
      for (let i = 0; i < n; i++) out[pos + i] = num[i]! * scale;
    }
    if (data.nullCount > 0 && data.nullBitmap) {
      const bm = data.nullBitmap;
      for (let i = 0; i < n; i++) {
        const bit = off + i;
        if ((bm[bit >> 3]! & (1 << (bit & 7))) === 0) out[pos + i] = Number.NaN;
      }
    }
    pos += n;
  }
  return out;
}

/** The time zone attached to an Arrow timestamp type, if any. */
export function timestampZone(type: arrow.DataType): string | null {
  return arrow.DataType.isTimestamp(type) ? ((type as arrow.Timestamp).timezone ?? null) : null;
}
