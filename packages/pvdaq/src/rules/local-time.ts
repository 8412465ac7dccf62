import type { TimeZoneSpec } from '../catalog/time-zone.js';

const MINUTE_US = 60_000_000;
/** Offsets are looked up per 15-minute local bucket: transitions fall on whole quarter hours in every zone. */
const BUCKET_US = 15 * MINUTE_US;
const DAY_MS = 86_400_000;

/** The UTC offsets a local wall time can have (µs, local − UTC). */
export interface LocalOffsets {
  /** The offset of the earlier instant: daylight time in the repeated fall-back hour. */
  daylight: number;
  /** The offset of the later instant: standard time in the repeated hour; `daylight` elsewhere. */
  standard: number;
  /** Whether the wall time occurs twice (the repeated fall-back hour). */
  ambiguous: boolean;
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
 * The offsets of a local wall time (ms as if UTC) in an IANA zone: the valid
 * ones among those in force a day before and a day after. Two valid offsets:
 * the wall time is ambiguous. None: it lies in the spring-forward gap, and
 * takes the offset in force before the gap, which lands it just after it.
 */
function ianaOffsetsForLocalMs(zone: string, localMs: number): { daylight: number; standard: number } {
  const before = ianaOffsetMs(zone, localMs - DAY_MS);
  const after = ianaOffsetMs(zone, localMs + DAY_MS);
  const valid: number[] = [];
  for (const off of before === after ? [before] : [before, after]) {
    if (ianaOffsetMs(zone, localMs - off) === off) valid.push(off);
  }
  if (valid.length === 0) return { daylight: before, standard: before }; // in the gap
  // the earlier instant has the larger offset
  return { daylight: Math.max(...valid), standard: Math.min(...valid) };
}

/**
 * A zone's clock: the offsets of local wall times (epoch µs as if UTC),
 * cached per 15-minute local bucket. Stateless; see {@link LocalTimeResolver}
 * for the rule that picks between the two instants of a repeated wall time.
 */
export class ZoneClock {
  readonly spec: TimeZoneSpec;
  readonly #buckets = new Map<number, LocalOffsets>();
  readonly #instantOffsets = new Map<number, number>();

  constructor(spec: TimeZoneSpec) {
    this.spec = spec;
  }

  /** The offsets (µs) a local wall time can have. */
  offsets(localUs: number): LocalOffsets {
    const spec = this.spec;
    if (spec.kind === 'fixed') {
      const off = spec.offsetMinutes * MINUTE_US;
      return { daylight: off, standard: off, ambiguous: false };
    }
    const bucket = Math.floor(localUs / BUCKET_US);
    let o = this.#buckets.get(bucket);
    if (!o) {
      const ms = ianaOffsetsForLocalMs(spec.name, (bucket * BUCKET_US) / 1000);
      o = { daylight: ms.daylight * 1000, standard: ms.standard * 1000, ambiguous: ms.daylight !== ms.standard };
      this.#buckets.set(bucket, o);
    }
    return o;
  }

  /** Whether the wall time occurs twice (the repeated fall-back hour). */
  isAmbiguous(localUs: number): boolean {
    return this.offsets(localUs).ambiguous;
  }

  /** The local wall time (µs as if UTC) of a UTC instant (µs). */
  wallTime(utcUs: number): number {
    const spec = this.spec;
    if (spec.kind === 'fixed') return utcUs + spec.offsetMinutes * MINUTE_US;
    const bucket = Math.floor(utcUs / BUCKET_US);
    let off = this.#instantOffsets.get(bucket);
    if (off === undefined) {
      off = ianaOffsetMs(spec.name, (bucket * BUCKET_US) / 1000) * 1000;
      this.#instantOffsets.set(bucket, off);
    }
    return utcUs + off;
  }
}

/**
 * The reading rule for local wall times in DST zones, lossless as pandas'
 * `tz_localize(ambiguous='infer')`: rows are taken in file order (one
 * resolver per object); inside the repeated hour of a fall-back day, wall
 * times map to the daylight instant until the local time steps back (a row
 * strictly earlier than the row before it, by no more than the DST shift),
 * and to the standard-time instant from that step on, until a row leaves the
 * repeated hour. A row whose wall time equals the previous row's is not a step
 * back (it is the same instant: another channel, or a repeated reading). A
 * wall time in the spring-forward gap moves past it. Zones without DST (and
 * fixed offsets) map every wall time one way.
 */
export class LocalTimeResolver {
  readonly clock: ZoneClock;
  // NaN before the first row: a number field, so storing each row's time allocates nothing
  #previous = Number.NaN;
  #afterStepBack = false;

  constructor(clock: ZoneClock | TimeZoneSpec) {
    this.clock = clock instanceof ZoneClock ? clock : new ZoneClock(clock);
  }

  /** The UTC instant (µs) of the next row's local wall time (µs as if UTC), in file order. */
  toUtc(localUs: number): number {
    const o = this.clock.offsets(localUs);
    const previous = this.#previous;
    this.#previous = localUs;
    if (!o.ambiguous) {
      this.#afterStepBack = false;
      return localUs - o.daylight;
    }
    if (
      !this.#afterStepBack &&
      !Number.isNaN(previous) &&
      localUs < previous &&
      previous - localUs <= o.daylight - o.standard
    ) {
      this.#afterStepBack = true;
    }
    return localUs - (this.#afterStepBack ? o.standard : o.daylight);
  }

  /**
   * Replays rows that came before this resolver's first row (a byte range of
   * a file that starts inside the repeated hour looks back at the lines
   * before it), so that the next row is resolved as a whole-file read would.
   */
  replay(localUs: readonly number[]): void {
    for (const t of localUs) this.toUtc(t);
  }
}
