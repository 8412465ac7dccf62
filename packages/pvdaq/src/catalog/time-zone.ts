import { BadInputError } from '@pv-pipeline/core';

/**
 * A system's time zone, parsed from the systems index `timezone_or_utc_offset`
 * (or a metadata `timezone_code`):
 * - an unsigned number N (`7`, `5`, `7.0`, `5.5`): PVDAQ's form, a fixed offset of UTC−N hours
 *   (standard time all year);
 * - a signed number follows its sign, as ISO 8601 does: `-7` is UTC−7, `+2` is UTC+2;
 * - `UTC-7`, `GMT+05:30`, `-07:00`, `+0530`: fixed offsets with the sign as written; `UTC`, `GMT`, `Z`;
 * - POSIX names (`PST8PDT`) and IANA names (`America/Denver`) follow DST.
 */
export type TimeZoneSpec =
  | { kind: 'fixed'; offsetMinutes: number; label: string }
  | { kind: 'iana'; name: string; label: string };

/** UTC, as a zone spec. */
export const UTC_ZONE: TimeZoneSpec = { kind: 'fixed', offsetMinutes: 0, label: 'UTC' };

/** Offsets beyond ±14 h exist nowhere on Earth. */
const MAX_OFFSET_MINUTES = 14 * 60;

/**
 * Parses a zone label; throws BadInputError naming `source` and the value when
 * it is neither an offset in one of the forms above nor a known zone name.
 */
export function parseTimeZone(label: string, source = 'timezone_or_utc_offset'): TimeZoneSpec {
  const s = label.trim();
  const bad = (why: string) => new BadInputError(source, `"${label}" ${why}`);
  const fixed = (offsetMinutes: number): TimeZoneSpec => {
    if (!Number.isFinite(offsetMinutes) || Math.abs(offsetMinutes) > MAX_OFFSET_MINUTES) {
      throw bad('is an offset beyond ±14 hours');
    }
    return { kind: 'fixed', offsetMinutes: offsetMinutes === 0 ? 0 : offsetMinutes, label: s };
  };
  // PVDAQ's unsigned hours west of Greenwich: 7 → UTC−7
  if (/^\d+(\.\d+)?$/.test(s)) return fixed(Math.round(-Number(s) * 60));
  // signed hours follow their sign: -7 → UTC−7, +2 → UTC+2
  if (/^[+-]\d+\.\d+$/.test(s)) return fixed(Math.round(Number(s) * 60));
  const m = /^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$/i.exec(s);
  if (m) {
    const minutes = Number(m[3] ?? 0);
    if (minutes >= 60) throw bad('has minutes beyond 59');
    return fixed((m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + minutes));
  }
  if (/^(UTC|GMT|Z)$/i.test(s)) return fixed(0);
  if (s === '') throw bad('is empty: no offset and no zone name');
  const name = zoneName(s);
  if (name === null) throw bad('is neither a UTC offset (7 = UTC−7, -7, +2, UTC-07:00) nor a known time zone name');
  return { kind: 'iana', name, label: s };
}

/** Zone names seen so far → their canonical IANA name (null: unknown). */
const zoneNames = new Map<string, string | null>();

/**
 * The canonical IANA name of a zone name, or null when ICU does not know it.
 * Remembered: every object of a system asks, and each `Intl.DateTimeFormat`
 * costs a fifth of a millisecond.
 */
function zoneName(s: string): string | null {
  let name = zoneNames.get(s);
  if (name === undefined) {
    try {
      name = new Intl.DateTimeFormat('en-US', { timeZone: s }).resolvedOptions().timeZone;
    } catch {
      name = null;
    }
    zoneNames.set(s, name);
  }
  return name;
}
