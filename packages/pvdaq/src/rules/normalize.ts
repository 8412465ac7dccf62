import { addDropped, BadInputError, type DroppedCounts, noneDropped, ReusedColumns } from '@pv-pipeline/core';
import type { SensorEntry } from '@pv-pipeline/schema';
import type { MetricsDictionary } from '../catalog/metrics-dictionary.js';
import type { RawReadings } from '../readers/raw-readings.js';
import { IdSlots } from './id-slots.js';
import type { LocalTimeResolver } from './local-time.js';
import { ruleForValue } from './reading-rules.js';

/** Earliest and latest UTC instants accepted (µs): 1970-01-01 .. 2100-01-01. */
const MIN_US = 0;
const MAX_US = Date.UTC(2100, 0, 1) * 1000;

/** Fact rows of one object, column-wise, ready to stage. */
export interface NormalizedReadings {
  ssId: number;
  length: number;
  /** UTC instant, epoch µs. */
  timestamp: Float64Array;
  /** Local time as recorded, epoch µs as if UTC. */
  measuredOn: Float64Array;
  /** Index into `sensors`. */
  sensorIdx: Int32Array;
  metricId: Int32Array;
  value: Float64Array;
  /** Distinct channels referenced by `sensorIdx` (each a sensor name unique in the system). */
  sensors: SensorEntry[];
  /** Readings the rules dropped, by rule. */
  dropped: DroppedCounts;
  /** The same, by sensor (the channels that had any). */
  droppedBySensor: Record<string, DroppedCounts>;
}

/**
 * The earliest and latest UTC instant (µs) of some fact rows, or null when
 * there are none. An indexed loop in a function of its own: a `for…of` over
 * the typed array inside an async function boxed every value (about 1 GB of
 * young garbage over the bench mirror).
 */
export function timeRangeOf(timestamp: Float64Array): [number, number] | null {
  if (timestamp.length === 0) return null;
  let lo = timestamp[0]!;
  let hi = lo;
  for (let i = 1; i < timestamp.length; i++) {
    const t = timestamp[i]!;
    if (t < lo) lo = t;
    if (t > hi) hi = t;
  }
  return [lo, hi];
}

/** What {@link normalizeReadings} needs besides the raw readings. */
export interface NormalizeContext {
  key: string;
  ssId: number;
  dictionary: MetricsDictionary;
  /**
   * Places measured_on in UTC where the source has no UTC instant, in file
   * order (see {@link LocalTimeResolver}); null when the zone is unknown, and
   * then such a row fails the object.
   */
  zone: LocalTimeResolver | null;
  /** Where the zone was looked for, for the message when it is unknown. @defaultValue the systems index */
  zoneSources?: string;
  /**
   * Buffers to write the fact rows' columns into, reused batch after batch:
   * the rows returned then hold only until the next call with the same
   * buffers. @defaultValue none: new arrays for every call
   */
  into?: NormalizedBuffers;
}

/** The columns of {@link NormalizedBuffers}. */
const NORMALIZED_COLUMNS = {
  timestamp: Float64Array,
  measuredOn: Float64Array,
  sensorIdx: Int32Array,
  metricId: Int32Array,
  value: Float64Array,
};

/**
 * The column buffers of {@link normalizeReadings}, for a reader that
 * normalizes batch after batch (or object after object) and whose consumer is
 * done with a batch before it asks for the next: one set of buffers then
 * serves every batch instead of each batch leaving its own for the garbage
 * collector.
 */
export class NormalizedBuffers extends ReusedColumns<typeof NORMALIZED_COLUMNS> {
  /**
   * @param retainUpTo the most rows kept for the next batch: a larger one
   * gets columns of its own @defaultValue no bound
   */
  constructor(retainUpTo = Number.POSITIVE_INFINITY) {
    super(NORMALIZED_COLUMNS, retainUpTo);
  }
}

/**
 * Turns raw readings into fact rows under the reading rules (`rules/`): drops
 * missing, sentinel and non-finite values (counted by rule), joins the
 * metrics dictionary (an unknown metric id fails the object; every channel
 * keeps its own sensor name, never merged with another's), takes the UTC
 * instant from the source or by localizing measured_on in file order, and
 * keeps one row per (timestamp, channel): the last in file order.
 */
export function normalizeReadings(raw: RawReadings, ctx: NormalizeContext): NormalizedReadings {
  const { key, dictionary } = ctx;
  const n = raw.length;
  // one sensor index per channel (metric id) met in the object, in the order first met
  const sensors: SensorEntry[] = [];
  // the raw id (a metric id, or a residential column's) of each sensor index
  const rawIdOf: number[] = [];
  const slots = new IdSlots();
  const unknown = new Set<number>();
  const columns = ctx.into?.columns(n);
  // every row's sensor index, written here first; the loop below compacts it in place
  const sensorIdx = columns?.sensorIdx ?? new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const id = raw.metricId[i]!;
    let s = slots.get(id);
    if (s < 0) {
      const e = unknown.has(id) ? undefined : dictionary.byMetricId.get(id);
      if (!e) {
        unknown.add(id);
        continue;
      }
      s = slots.add(id);
      rawIdOf.push(id);
      sensors.push(e);
    }
    sensorIdx[i] = s;
  }
  if (unknown.size > 0) {
    const ids = [...unknown].sort((a, b) => a - b);
    const named = ids.slice(0, 10).map((id) => {
      const col = raw.columnNames?.get(id);
      return col ? `${id} (${col})` : String(id);
    });
    throw new BadInputError(
      key,
      `metric id${ids.length > 1 ? 's' : ''} ${named.join(', ')}${ids.length > 10 ? ` and ${ids.length - 10} more` : ''} not in the metrics dictionary ${dictionary.key}`,
    );
  }

  const timestamp = columns?.timestamp ?? new Float64Array(n);
  const measuredOn = columns?.measuredOn ?? new Float64Array(n);
  const metricId = columns?.metricId ?? new Int32Array(n);
  const metricOf = Int32Array.from(sensors, (e) => e.metric_id);
  const value = columns?.value ?? new Float64Array(n);
  const dropped = addDropped(noneDropped(), raw.dropped);
  // by channel: what the reader dropped, then what the value and duplicate rules drop
  const byMetric = new Map<number, DroppedCounts>();
  for (const [id, counts] of raw.droppedByMetric) byMetric.set(id, addDropped(noneDropped(), counts));
  const countFor = (id: number) => {
    let c = byMetric.get(id);
    if (!c) byMetric.set(id, (c = noneDropped()));
    return c;
  };
  let len = 0;
  let ordered = true;
  const utc = raw.utc;
  for (let i = 0; i < n; i++) {
    const local = raw.measuredOn[i]!;
    let ts = utc ? utc[i]! : Number.NaN;
    // localize every row lacking UTC, dropped or not: the fall-back rule reads the rows in file order
    if (Number.isNaN(ts)) {
      if (!ctx.zone) {
        throw new BadInputError(
          key,
          `system ${ctx.ssId} has no time zone (looked in ${ctx.zoneSources ?? 'the systems index'}), so its local measured_on cannot be placed in UTC`,
        );
      }
      ts = ctx.zone.toUtc(local);
    }
    const v = raw.value[i]!;
    const rule = ruleForValue(v);
    if (rule !== null) {
      dropped[rule]++;
      countFor(raw.metricId[i]!)[rule]++;
      continue;
    }
    if (!(ts >= MIN_US && ts < MAX_US)) {
      throw new BadInputError(key, `entry ${i + 1}: timestamp ${describeUs(ts)} is outside 1970..2100`);
    }
    // read before the write at len <= i below
    const s = sensorIdx[i]!;
    if (len > 0) {
      const pt = timestamp[len - 1]!;
      if (ts < pt || (ts === pt && s <= sensorIdx[len - 1]!)) ordered = false;
    }
    timestamp[len] = ts;
    measuredOn[len] = local;
    sensorIdx[len] = s;
    metricId[len] = metricOf[s]!;
    value[len] = v;
    len++;
  }

  if (!ordered) {
    len = keepLastPerKey({ timestamp, measuredOn, sensorIdx, metricId, value }, len, sensors.length, (s) => {
      dropped.duplicate++;
      countFor(rawIdOf[s]!).duplicate++;
    });
  }
  const droppedBySensor: Record<string, DroppedCounts> = {};
  for (const [id, counts] of byMetric) {
    const entry = dictionary.byMetricId.get(id);
    if (entry) addDropped((droppedBySensor[entry.sensor] ??= noneDropped()), counts);
  }
  return {
    ssId: ctx.ssId,
    length: len,
    timestamp: timestamp.subarray(0, len),
    measuredOn: measuredOn.subarray(0, len),
    sensorIdx: sensorIdx.subarray(0, len),
    metricId: metricId.subarray(0, len),
    value: value.subarray(0, len),
    sensors,
    dropped,
    droppedBySensor,
  };
}

/**
 * The duplicate rule: keeps the last row per (timestamp, channel) in file
 * order, compacting the columns in place; counts the others. Returns the new length.
 */
function keepLastPerKey(
  cols: {
    timestamp: Float64Array;
    measuredOn: Float64Array;
    sensorIdx: Int32Array;
    metricId: Int32Array;
    value: Float64Array;
  },
  len: number,
  channels: number,
  onDuplicate: (sensorIdx: number) => void,
): number {
  const { timestamp, measuredOn, sensorIdx, metricId, value } = cols;
  const keep = new Uint8Array(len);
  let duplicates = 0;
  const drop = (i: number) => {
    duplicates++;
    onDuplicate(sensorIdx[i]!);
  };
  // each channel's instants rising in file order (a long file sorted by channel, then time): no key repeats
  if (risingPerChannel(timestamp, sensorIdx, len, channels)) return len;
  // walk backwards so the last occurrence of a (timestamp, channel) wins
  let ascending = true;
  for (let i = 1; i < len && ascending; i++) ascending = timestamp[i]! >= timestamp[i - 1]!;
  if (ascending) {
    // time never goes back (the usual file): a key repeats only within a run of one instant,
    // so a stamp per channel (the run's first index) replaces a set of instants
    const stamp = new Int32Array(channels).fill(-1);
    let run = len;
    for (let i = len - 1; i >= 0; i--) {
      if (i === len - 1 || timestamp[i] !== timestamp[i + 1]) run = i;
      const s = sensorIdx[i]!;
      if (stamp[s] === run) drop(i);
      else {
        stamp[s] = run;
        keep[i] = 1;
      }
    }
  } else {
    const seen: Array<Set<number>> = Array.from({ length: channels }, () => new Set<number>());
    for (let i = len - 1; i >= 0; i--) {
      const set = seen[sensorIdx[i]!]!;
      const t = timestamp[i]!;
      if (set.has(t)) drop(i);
      else {
        set.add(t);
        keep[i] = 1;
      }
    }
  }
  if (duplicates === 0) return len;
  let w = 0;
  for (let i = 0; i < len; i++) {
    if (!keep[i]) continue;
    timestamp[w] = timestamp[i]!;
    measuredOn[w] = measuredOn[i]!;
    sensorIdx[w] = sensorIdx[i]!;
    metricId[w] = metricId[i]!;
    value[w] = value[i]!;
    w++;
  }
  return w;
}

/** Whether every channel's instants strictly increase in file order (then no (instant, channel) repeats). */
function risingPerChannel(timestamp: Float64Array, sensorIdx: Int32Array, len: number, channels: number): boolean {
  const last = new Float64Array(channels).fill(Number.NEGATIVE_INFINITY);
  for (let i = 0; i < len; i++) {
    const s = sensorIdx[i]!;
    const t = timestamp[i]!;
    if (!(t > last[s]!)) return false;
    last[s] = t;
  }
  return true;
}

function describeUs(us: number): string {
  if (!Number.isFinite(us)) return String(us);
  const d = new Date(us / 1000);
  return Number.isNaN(d.getTime()) ? String(us) : d.toISOString();
}
