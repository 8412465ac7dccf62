import {
  addDropped,
  BadInputError,
  type DroppedCounts,
  noneDropped,
  type ReadingRuleId,
  ReusedColumns,
} from '@pv-pipeline/core';
import type { SensorEntry } from '@pv-pipeline/schema';
import type { MetricsDictionary } from '../catalog/metrics-dictionary.js';
import type { RawReadings } from '../readers/raw-readings.js';
import { IdSlots } from './id-slots.js';
import type { LocalTimeResolver } from './local-time.js';
import { ruleForValue, SENTINEL_MAX } from './reading-rules.js';

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
  // every row's sensor index, written here first; keepReadings compacts it in place
  const sensorIdx = columns?.sensorIdx ?? new Int32Array(n);
  indexSensors(raw.metricId, slots, sensorIdx, (id) => {
    const e = unknown.has(id) ? undefined : dictionary.byMetricId.get(id);
    if (!e) {
      unknown.add(id);
      return -1;
    }
    rawIdOf.push(id);
    sensors.push(e);
    return slots.add(id);
  });
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

  const cols: FactColumns = {
    timestamp: columns?.timestamp ?? new Float64Array(n),
    measuredOn: columns?.measuredOn ?? new Float64Array(n),
    sensorIdx,
    metricId: columns?.metricId ?? new Int32Array(n),
    value: columns?.value ?? new Float64Array(n),
  };
  const dropped = addDropped(noneDropped(), raw.dropped);
  // by channel: what the reader dropped, then what the value and duplicate rules drop
  const byMetric = new Map<number, DroppedCounts>();
  for (const [id, counts] of raw.droppedByMetric) byMetric.set(id, addDropped(noneDropped(), counts));
  const countFor = (id: number) => {
    let c = byMetric.get(id);
    if (!c) byMetric.set(id, (c = noneDropped()));
    return c;
  };
  // every row's UTC instant, placed first (the rows lacking one in file order, dropped or not: the
  // fall-back rule reads them so)
  const utc = raw.utc;
  if (!ctx.zone && (utc === null ? n > 0 : hasNaN(utc))) {
    throw new BadInputError(
      key,
      `system ${ctx.ssId} has no time zone (looked in ${ctx.zoneSources ?? 'the systems index'}), so its local measured_on cannot be placed in UTC`,
    );
  }
  if (ctx.zone) ctx.zone.placeAll(raw.measuredOn, utc, cols.timestamp);
  else if (utc) cols.timestamp.set(utc);
  const kept = keepReadings(
    raw,
    cols,
    Int32Array.from(sensors, (e) => e.metric_id),
    (i, rule) => {
      dropped[rule]++;
      countFor(raw.metricId[i]!)[rule]++;
    },
    (i, ts) => new BadInputError(key, `entry ${i + 1}: timestamp ${describeUs(ts)} is outside 1970..2100`),
  );
  let len = kept.len;
  if (!kept.ordered) {
    len = keepLastPerKey(cols, len, sensors.length, (s) => {
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
    timestamp: cols.timestamp.subarray(0, len),
    measuredOn: cols.measuredOn.subarray(0, len),
    sensorIdx: cols.sensorIdx.subarray(0, len),
    metricId: cols.metricId.subarray(0, len),
    value: cols.value.subarray(0, len),
    sensors,
    dropped,
    droppedBySensor,
  };
}

/** The fact rows' columns while they are worked on (at least as long as the rows). */
type FactColumns = Pick<NormalizedReadings, 'timestamp' | 'measuredOn' | 'sensorIdx' | 'metricId' | 'value'>;

/**
 * Each entry's sensor index into `sensorIdx`: its metric id's slot, or what
 * `channelOf` makes of an id met for the first time (−1: unknown). Its own
 * function, as {@link keepReadings} is: see there.
 */
function indexSensors(
  metricIds: Int32Array,
  slots: IdSlots,
  sensorIdx: Int32Array,
  channelOf: (id: number) => number,
): void {
  for (let i = 0; i < metricIds.length; i++) {
    const id = metricIds[i]!;
    const s = slots.get(id);
    sensorIdx[i] = s < 0 ? channelOf(id) : s;
  }
}

/**
 * The value rules and the time range, row by row in file order: `onDrop`
 * counts a dropped row, an instant out of range fails the object (the error
 * `outOfRange` makes), and the kept rows are compacted in place (row i is read
 * before row `len` <= i is written; `cols.timestamp` holds the placed
 * instants on entry). Whether the kept rows' (instant, channel) keys rise in
 * file order says whether the duplicate rule has work. A function of its own,
 * so that V8 keeps its loop optimized: inside normalizeReadings, whose cold
 * parts deoptimized it 16–18 times in a microbench over 400 mirror objects,
 * the objects that ran it unoptimized boxed their doubles (17 bytes of
 * garbage per row on average there, with the zone's calls).
 */
function keepReadings(
  raw: RawReadings,
  cols: FactColumns,
  metricOf: Int32Array,
  onDrop: (i: number, rule: ReadingRuleId) => void,
  outOfRange: (i: number, ts: number) => Error,
): { len: number; ordered: boolean } {
  const { timestamp, measuredOn, sensorIdx, metricId, value } = cols;
  const local = raw.measuredOn;
  const values = raw.value;
  let len = 0;
  let ordered = true;
  for (let i = 0; i < raw.length; i++) {
    const ts = timestamp[i]!;
    const v = values[i]!;
    // a finite value above every sentinel is a reading: no call (which would box v) for the common value
    const rule = v > SENTINEL_MAX && v !== Number.POSITIVE_INFINITY ? null : ruleForValue(v);
    if (rule !== null) {
      onDrop(i, rule);
      continue;
    }
    if (!(ts >= MIN_US && ts < MAX_US)) throw outOfRange(i, ts);
    const s = sensorIdx[i]!;
    if (len > 0) {
      const pt = timestamp[len - 1]!;
      if (ts < pt || (ts === pt && s <= sensorIdx[len - 1]!)) ordered = false;
    }
    timestamp[len] = ts;
    measuredOn[len] = local[i]!;
    sensorIdx[len] = s;
    metricId[len] = metricOf[s]!;
    value[len] = v;
    len++;
  }
  return { len, ordered };
}

/**
 * The duplicate rule: keeps the last row per (timestamp, channel) in file
 * order, compacting the columns in place; counts the others. Returns the new length.
 */
function keepLastPerKey(
  cols: FactColumns,
  len: number,
  channels: number,
  onDuplicate: (sensorIdx: number) => void,
): number {
  const { timestamp, sensorIdx } = cols;
  let ascending = true;
  for (let i = 1; i < len && ascending; i++) ascending = timestamp[i]! >= timestamp[i - 1]!;
  // time never goes back (the usual file): a key repeats only within a run of one instant
  if (ascending) return keepLastInRuns(cols, len, channels, onDuplicate);
  // each channel's instants rising in file order (a long file sorted by channel, then time): no key repeats
  if (risingPerChannel(timestamp, sensorIdx, len, channels)) return len;
  // walk backwards so the last occurrence of a (timestamp, channel) wins
  const keep = new Uint8Array(len);
  const seen: Array<Set<number>> = Array.from({ length: channels }, () => new Set<number>());
  let duplicates = 0;
  for (let i = len - 1; i >= 0; i--) {
    const set = seen[sensorIdx[i]!]!;
    const t = timestamp[i]!;
    if (set.has(t)) {
      duplicates++;
      onDuplicate(sensorIdx[i]!);
    } else {
      set.add(t);
      keep[i] = 1;
    }
  }
  if (duplicates === 0) return len;
  let w = 0;
  for (let i = 0; i < len; i++) {
    if (keep[i]) moveRow(cols, i, w++);
  }
  return w;
}

/**
 * The duplicate rule over rows whose instants never go back, in one pass: a
 * key repeats only within a run of one instant, so each channel's place in
 * the current run replaces a set of instants. A repeat drops the channel's
 * earlier row (the rows after it in the run move up one) and takes the end
 * of the run, so the kept rows stay in file order.
 */
function keepLastInRuns(
  cols: FactColumns,
  len: number,
  channels: number,
  onDuplicate: (sensorIdx: number) => void,
): number {
  const { timestamp, measuredOn, sensorIdx, metricId, value } = cols;
  // each channel's output row in the run that started at input row runOf[s] (−1: none yet)
  const at = new Int32Array(channels);
  const runOf = new Int32Array(channels).fill(-1);
  let run = 0;
  let previous = Number.NaN;
  let w = 0;
  for (let i = 0; i < len; i++) {
    const t = timestamp[i]!;
    if (t !== previous) run = i;
    previous = t;
    const s = sensorIdx[i]!;
    if (runOf[s] === run) {
      onDuplicate(s);
      w--;
      for (let k = at[s]!; k < w; k++) {
        moveRow(cols, k + 1, k);
        at[sensorIdx[k]!] = k;
      }
    }
    runOf[s] = run;
    at[s] = w;
    // rows stay where they are until the first repeat
    if (w !== i) {
      timestamp[w] = t;
      measuredOn[w] = measuredOn[i]!;
      sensorIdx[w] = s;
      metricId[w] = metricId[i]!;
      value[w] = value[i]!;
    }
    w++;
  }
  return w;
}

/** Copies row `from` of the columns to row `to` (the same row: nothing changes). */
function moveRow(cols: FactColumns, from: number, to: number): void {
  cols.timestamp[to] = cols.timestamp[from]!;
  cols.measuredOn[to] = cols.measuredOn[from]!;
  cols.sensorIdx[to] = cols.sensorIdx[from]!;
  cols.metricId[to] = cols.metricId[from]!;
  cols.value[to] = cols.value[from]!;
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

/** Whether any value is NaN (an indexed loop: a callback per element would box each double). */
function hasNaN(values: Float64Array): boolean {
  for (let i = 0; i < values.length; i++) if (Number.isNaN(values[i])) return true;
  return false;
}

function describeUs(us: number): string {
  if (!Number.isFinite(us)) return String(us);
  const d = new Date(us / 1000);
  return Number.isNaN(d.getTime()) ? String(us) : d.toISOString();
}
