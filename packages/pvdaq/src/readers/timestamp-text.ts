/** A timestamp parsed from text. */
export interface ParsedTimestamp {
  /** Local wall time as written, epoch µs as if UTC. */
  localUs: number;
  /** The UTC instant when the text carries an offset (`Z`, `+02:00`), else NaN. */
  utcUs: number;
}

const ISO =
  /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/;
const US = /^(\d{1,2})\/(\d{1,2})\/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?$/;

/**
 * Parses the timestamp forms found in PVDAQ CSVs: ISO `YYYY-MM-DD HH:MM:SS`
 * (also with `T`, fractional seconds, an offset), a bare date, and the
 * spreadsheet form `M/D/YYYY H:MM[:SS] [AM|PM]`. Returns null when the text is
 * none of them or names an impossible date or time. The common
 * `YYYY-MM-DD HH:MM:SS` takes {@link naiveTimestampUs}, without a regex.
 */
export function parseTimestampText(text: string): ParsedTimestamp | null {
  const naive = naiveTimestampUs(text);
  if (!Number.isNaN(naive)) return { localUs: naive, utcUs: Number.NaN };
  const s = text.trim();
  let y: number;
  let mo: number;
  let d: number;
  let h = 0;
  let mi = 0;
  let sec = 0;
  let frac = 0;
  let offsetMin: number | null = null;
  let m = ISO.exec(s);
  if (m) {
    y = +m[1]!;
    mo = +m[2]!;
    d = +m[3]!;
    if (m[4] !== undefined) {
      h = +m[4];
      mi = +m[5]!;
      sec = m[6] ? +m[6] : 0;
      frac = m[7] ? Math.round(+`0.${m[7]}` * 1e6) : 0;
    }
    if (m[8]) {
      if (m[8] === 'Z') offsetMin = 0;
      else {
        const o = m[8].replace(':', '');
        offsetMin = (o[0] === '-' ? -1 : 1) * (+o.slice(1, 3) * 60 + +(o.slice(3, 5) || 0));
      }
    }
  } else {
    m = US.exec(s);
    if (!m) return null;
    mo = +m[1]!;
    d = +m[2]!;
    y = +m[3]!;
    if (m[4] !== undefined) {
      h = +m[4];
      mi = +m[5]!;
      sec = m[6] ? +m[6] : 0;
      if (m[7]) {
        if (h < 1 || h > 12) return null;
        const pm = m[7].toLowerCase() === 'pm';
        h = (h % 12) + (pm ? 12 : 0);
      }
    }
  }
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 60) return null;
  const ms = Date.UTC(y, mo - 1, d, h, mi, sec);
  if (new Date(ms).getUTCDate() !== d && sec !== 60) return null;
  const localUs = ms * 1000 + frac;
  return { localUs, utcUs: offsetMin === null ? Number.NaN : localUs - offsetMin * 60_000_000 };
}

/** Digit value of the character at `i`. */
const digit = (text: string, i: number): number => text.charCodeAt(i) - 48;

/** Where `YYYY-MM-DD HH:MM:SS` has its 14 digits. */
const DIGIT_AT = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];

let cachedDay = '';
let cachedDayUs = 0;

/**
 * The fast path for the common `YYYY-MM-DD HH:MM:SS` (or `T`) form: local
 * wall time in epoch µs as if UTC, or NaN for any other form (then use
 * {@link parseTimestampText}). The day is cached, as consecutive lines share it.
 */
export function naiveTimestampUs(text: string): number {
  if (text.length !== 19) return Number.NaN;
  if (text[4] !== '-' || text[7] !== '-' || text[13] !== ':' || text[16] !== ':') return Number.NaN;
  if (text[10] !== ' ' && text[10] !== 'T') return Number.NaN;
  // every digit a digit (`09:50:0Z` is no time; the slow parser names it)
  for (const i of DIGIT_AT) if (digit(text, i) >>> 0 > 9) return Number.NaN;
  const h = digit(text, 11) * 10 + digit(text, 12);
  const mi = digit(text, 14) * 10 + digit(text, 15);
  const s = digit(text, 17) * 10 + digit(text, 18);
  if (!(h >= 0 && h < 24 && mi >= 0 && mi < 60 && s >= 0 && s < 60)) return Number.NaN;
  // the day compared in place: no string cut per line
  if (cachedDay === '' || !text.startsWith(cachedDay)) {
    const day = text.slice(0, 10);
    const y = digit(text, 0) * 1000 + digit(text, 1) * 100 + digit(text, 2) * 10 + digit(text, 3);
    const mo = digit(text, 5) * 10 + digit(text, 6);
    const d = digit(text, 8) * 10 + digit(text, 9);
    if (!(y >= 0 && y <= 9999 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31)) return Number.NaN;
    const ms = Date.UTC(y, mo - 1, d);
    // reject 2021-02-30 and the like, which Date.UTC rolls over
    if (new Date(ms).getUTCDate() !== d) return Number.NaN;
    cachedDay = day;
    cachedDayUs = ms * 1000;
  }
  return cachedDayUs + ((h * 60 + mi) * 60 + s) * 1e6;
}
