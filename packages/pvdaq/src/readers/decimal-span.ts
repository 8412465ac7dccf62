/** 2^53: integers below it are exact doubles. */
const EXACT_INT = 2 ** 53;
/** 10^0 … 10^22: every one an exact double. */
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);

/**
 * Writes into `out[0]` the number a plain decimal `text.slice(start, end)`
 * spells (optional sign, digits, optional fraction, optional exponent:
 * `-12.5`, `.5`, `3e-4`), read without cutting the text, and returns true;
 * returns false for any other text, and for a number outside the exact fast
 * path below, so that the caller parses the cut cell as before (`parseCell`).
 * The number goes through `out` because a double returned from a call is
 * allocated on the heap (one per cell, most of a prize file's garbage).
 *
 * Exactly `Number(text.slice(start, end))` where it answers: the digits form
 * an integer m < 2^53 and the power of ten k has |k| ≤ 22, so m and 10^|k| are
 * exact doubles and one IEEE multiplication or division rounds m × 10^k
 * correctly (Clinger's fast path). Sensor readings as loggers write them (up
 * to 15 significant digits, a few decimals) are on it.
 */
export function plainDecimalInto(text: string, start: number, end: number, out: Float64Array): boolean {
  let i = start;
  let c = text.charCodeAt(i);
  const negative = c === 45; // '-'
  if (negative || c === 43) c = text.charCodeAt(++i); // '+'
  let m = 0;
  let digits = 0;
  let scale = 0;
  while (i < end && c >= 48 && c <= 57) {
    m = m * 10 + (c - 48);
    digits++;
    c = text.charCodeAt(++i);
  }
  if (i < end && c === 46) {
    // '.'
    c = text.charCodeAt(++i);
    while (i < end && c >= 48 && c <= 57) {
      m = m * 10 + (c - 48);
      digits++;
      scale--;
      c = text.charCodeAt(++i);
    }
  }
  if (digits === 0) return false;
  if (i < end && (c | 32) === 101) {
    // 'e' or 'E'
    c = text.charCodeAt(++i);
    const negExp = c === 45;
    if (negExp || c === 43) c = text.charCodeAt(++i);
    let e = 0;
    let expDigits = 0;
    while (i < end && c >= 48 && c <= 57 && expDigits < 4) {
      e = e * 10 + (c - 48);
      expDigits++;
      c = text.charCodeAt(++i);
    }
    if (expDigits === 0) return false;
    scale += negExp ? -e : e;
  }
  // anything left over (a blank, a letter, a fifth exponent digit) is not on the fast path
  if (i !== end || m >= EXACT_INT || scale < -22 || scale > 22) return false;
  const v = scale < 0 ? m / POW10[-scale]! : m * POW10[scale]!;
  out[0] = negative ? -v : v;
  return true;
}
