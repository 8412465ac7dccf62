import { BadInputError } from '@pv-pipeline/core';

/**
 * A system's time zone, parsed from the systems index `timezone_or_utc_offset`
 * (or a metadata `timezone_code`):
 * - a bare number N (`7`, `5`, `7.0`) is a fixed offset of UTC−N hours (standard time all year);
 * - `UTC-7`, `GMT+05:30`, `-07:00` are fixed offsets with the sign as written;
 * - POSIX names (`PST8PDT`) and IANA names (`America/Denver`) follow DST.
 */
export type TimeZoneSpec =
  | { kind: 'fixed'; offsetMinutes: number; label: string }
  | { kind: 'iana'; name: string; label: string };

const MINUTE_US = 60_000_000;
const BUCKET_US = 15 * MINUTE_US;
const DAY_MS = 86_400_000;

/** Parses a zone label; throws BadInputError naming `source` when it is not a zone. */
export function parseTimeZone(label: string, source = 'timezone_or_utc_offset'): TimeZoneSpec {
  const s = label.trim();
  if (/^[+-]?\d+(\.\d+)?$/.test(s)) {
    return { kind: 'fixed', offsetMinutes: Math.round(-Number(s) * 60), label: s };
  }
  const m = /^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$/i.exec(s);
  if (m) {
    const sign = m[1] === '-' ? -1 : 1;
    return { kind: 'fixed', offsetMinutes: sign * (Number(m[2]) * 60 + Number(m[3] ?? 0)), label: s };
  }
  if (/^(UTC|GMT|Z)$/i.test(s)) return { kind: 'fixed', offsetMinutes: 0, label: s };
  try {
    const name = new Intl.DateTimeFormat('en-US', { timeZone: s }).resolvedOptions().timeZone;
    return { kind: 'iana', name, label: s };
  } catch {
    throw new BadInputError(source, `"${label}" is neither a UTC offset nor a known time zone name`);
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Offset of an IANA zone at a UTC instant, in milliseconds (local − UTC). */
function ianaOffsetMs(zone: string, utcMs: number): number {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, f);
  }
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(utcMs)) if (part.type !== 'literal') p[part.type] = Number(part.value);
  const wall = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
  return wall - Math.floor(utcMs / 1000) * 1000;
}

/**
 * UTC offset in ms for a local wall time (given as if it were UTC, in ms).
 * Ambiguous times (the repeated fall-back hour) take the FIRST occurrence
 * (the earlier instant, i.e. the daylight offset); non-existent times (the
 * spring-forward gap) take the offset in force before the gap, which lands
 * them just after it.
 */
function ianaOffsetForLocalMs(zone: string, localMs: number): number {
  const before = ianaOffsetMs(zone, localMs - DAY_MS);
  const after = ianaOffsetMs(zone, localMs + DAY_MS);
  const valid: number[] = [];
  for (const off of before === after ? [before] : [before, after]) {
    if (ianaOffsetMs(zone, localMs - off) === off) valid.push(off);
  }
  if (valid.length === 0) return before; // in the gap
  // The earlier instant has the larger offset.
  return Math.max(...valid);
}

/**
 * Converts local wall times (epoch microseconds as if UTC) to UTC microseconds for
 * one zone. Offsets are cached per 15-minute local bucket: transitions fall on
 * whole quarter hours in every zone PVDAQ uses.
 */
export class LocalTimeConverter {
  readonly #spec: TimeZoneSpec;
  readonly #bucketOffsetUs = new Map<number, number>();

  constructor(spec: TimeZoneSpec) {
    this.#spec = spec;
  }

  /** UTC epoch µs for a local wall time in epoch µs. */
  toUtc(localUs: number): number {
    const spec = this.#spec;
    if (spec.kind === 'fixed') return localUs - spec.offsetMinutes * MINUTE_US;
    const bucket = Math.floor(localUs / BUCKET_US);
    let off = this.#bucketOffsetUs.get(bucket);
    if (off === undefined) {
      off = ianaOffsetForLocalMs(spec.name, (bucket * BUCKET_US) / 1000) * 1000;
      this.#bucketOffsetUs.set(bucket, off);
    }
    return localUs - off;
  }
}
