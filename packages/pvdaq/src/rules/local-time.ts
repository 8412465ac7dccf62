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

/** Buckets a clock keeps (about 2.9 years of 15-minute buckets, some 10 MB): past them it starts afresh. */
const MAX_CACHED_BUCKETS = 100_000;

/**
 * A zone's clock: the offsets of local wall times (epoch µs as if UTC),
 * cached per 15-minute local bucket. Stateless; see {@link LocalTimeResolver}
 * for the rule that picks between the two instants of a repeated wall time.
 */
export class ZoneClock {
  readonly spec: TimeZoneSpec;
  readonly #buckets = new Map<number, LocalOffsets>();
  readonly #instantOffsets = new Map<number, number>();
  /** The offsets of a fixed-offset zone (every bucket's). */
  #fixed: LocalOffsets | undefined;

  constructor(spec: TimeZoneSpec) {
    this.spec = spec;
  }

  /** The offsets (µs) a local wall time can have. */
  offsets(localUs: number): LocalOffsets {
    return this.bucketOffsets(Math.floor(localUs / BUCKET_US));
  }

  /**
   * The offsets (µs) of the wall times in one 15-minute local bucket
   * (`floor(localUs / 15 min)`): an integer argument, which a call passes
   * without boxing it, unlike a double.
   */
  bucketOffsets(bucket: number): LocalOffsets {
    const spec = this.spec;
    if (spec.kind === 'fixed') {
      const off = spec.offsetMinutes * MINUTE_US;
      this.#fixed ??= { daylight: off, standard: off, ambiguous: false };
      return this.#fixed;
    }
    let o = this.#buckets.get(bucket);
    if (!o) {
      if (this.#buckets.size >= MAX_CACHED_BUCKETS) this.#buckets.clear();
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
      if (this.#instantOffsets.size >= MAX_CACHED_BUCKETS) this.#instantOffsets.clear();
      off = ianaOffsetMs(spec.name, (bucket * BUCKET_US) / 1000) * 1000;
      this.#instantOffsets.set(bucket, off);
    }
    return utcUs + off;
  }
}

/** Zones whose clocks are kept for the next object (a run meets a few; past this many, the map starts afresh). */
const MAX_SHARED_CLOCKS = 64;
const sharedClocks = new Map<string, ZoneClock>();

/**
 * The clock of a zone, shared by every object of the zone that this thread
 * reads: a clock of its own per object looked up the offsets of every
 * 15-minute bucket again (through Intl, about 17 µs a bucket: 96 a day).
 */
export function zoneClockOf(spec: TimeZoneSpec): ZoneClock {
  const key = spec.kind === 'fixed' ? `fixed ${spec.offsetMinutes}` : `iana ${spec.name}`;
  let clock = sharedClocks.get(key);
  if (!clock) {
    if (sharedClocks.size >= MAX_SHARED_CLOCKS) sharedClocks.clear();
    clock = new ZoneClock(spec);
    sharedClocks.set(key, clock);
  }
  return clock;
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
  /** One row, for {@link toUtc}. */
  readonly #one = new Float64Array(1);
  readonly #oneOut = new Float64Array(1);

  constructor(clock: ZoneClock | TimeZoneSpec) {
    this.clock = clock instanceof ZoneClock ? clock : zoneClockOf(clock);
  }

  /** The UTC instant (µs) of the next row's local wall time (µs as if UTC), in file order. */
  toUtc(localUs: number): number {
    this.#one[0] = localUs;
    this.placeAll(this.#one, null, this.#oneOut);
    return this.#oneOut[0]!;
  }

  /**
   * The UTC instants (µs) of rows in file order, into `out` (as long as
   * `local`): a row's own instant where `utc` has one (not NaN), else its
   * local wall time placed by the rule above, the rows lacking UTC taken in
   * file order ({@link toUtc} is this for one row). No double crosses a call
   * here: V8 boxes a double passed to or returned from a call it does not
   * inline, and a call per row placed cost about 60 bytes of garbage.
   */
  placeAll(local: Float64Array, utc: Float64Array | null, out: Float64Array): void {
    const clock = this.clock;
    let previous = this.#previous;
    let afterStepBack = this.#afterStepBack;
    for (let i = 0; i < local.length; i++) {
      const own = utc === null ? Number.NaN : utc[i]!;
      if (!Number.isNaN(own)) {
        out[i] = own;
        continue;
      }
      const localUs = local[i]!;
      const o = clock.bucketOffsets(Math.floor(localUs / BUCKET_US));
      if (!o.ambiguous) {
        afterStepBack = false;
        out[i] = localUs - o.daylight;
      } else {
        // a step back within the repeated hour: the standard-time instants from here on
        if (
          !afterStepBack &&
          !Number.isNaN(previous) &&
          localUs < previous &&
          previous - localUs <= o.daylight - o.standard
        ) {
          afterStepBack = true;
        }
        out[i] = localUs - (afterStepBack ? o.standard : o.daylight);
      }
      previous = localUs;
    }
    this.#previous = previous;
    this.#afterStepBack = afterStepBack;
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
