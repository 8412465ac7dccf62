import { BadInputError } from '@pv-pipeline/core';
import type { MetricsDictionary, SensorEntry } from './metrics-dictionary.js';
import type { RawReadings } from './raw-readings.js';
import type { LocalTimeConverter } from './time-zone.js';

/** Values that mean "no reading" in PVDAQ, matched exactly. */
export const SENTINELS: ReadonlySet<number> = new Set([-999, -7999, -9999, -99999]);

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
  /** Distinct sensors referenced by `sensorIdx`. */
  sensors: SensorEntry[];
  /** Readings dropped as missing (empty, NaN, sentinel). */
  missing: number;
  /** Readings dropped because a later one had the same (timestamp, sensor). */
  duplicates: number;
}

/** What {@link normalizeReadings} needs besides the raw readings. */
export interface NormalizeContext {
  key: string;
  ssId: number;
  dictionary: MetricsDictionary;
  /** Localizes measured_on where the source has no UTC instant; null when the zone is unknown. */
  zone: LocalTimeConverter | null;
}

/**
 * Turns raw readings into fact rows: drops missing values (NaN, null and the
 * sentinels), joins the metrics dictionary (an unknown metric id fails the
 * object), takes the UTC instant from the source or by localizing measured_on,
 * and keeps one row per (timestamp, sensor): the last in file order.
 */
export function normalizeReadings(raw: RawReadings, ctx: NormalizeContext): NormalizedReadings {
  const { key, dictionary } = ctx;
  const n = raw.length;
  // Sensor index per metric id, one index per distinct sensor name.
  const sensorIndexByName = new Map<string, number>();
  const sensors: SensorEntry[] = [];
  const idxByMetric = new Map<number, number>();
  // the fact's metric id: the entry's (a residential column's raw id is not a metric id)
  const metricByRaw = new Map<number, number>();
  const unknown = new Set<number>();
  for (let i = 0; i < n; i++) {
    const id = raw.metricId[i]!;
    if (idxByMetric.has(id) || unknown.has(id)) continue;
    const e = dictionary.byMetricId.get(id);
    if (!e) {
      unknown.add(id);
      continue;
    }
    let s = sensorIndexByName.get(e.sensor);
    if (s === undefined) {
      s = sensors.length;
      sensors.push(e);
      sensorIndexByName.set(e.sensor, s);
    }
    idxByMetric.set(id, s);
    metricByRaw.set(id, e.metric_id);
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

  const timestamp = new Float64Array(n);
  const measuredOn = new Float64Array(n);
  const sensorIdx = new Int32Array(n);
  const metricId = new Int32Array(n);
  const value = new Float64Array(n);
  let len = 0;
  let missing = 0;
  let ordered = true;
  const utc = raw.utc;
  for (let i = 0; i < n; i++) {
    const v = raw.value[i]!;
    if (Number.isNaN(v) || SENTINELS.has(v)) {
      missing++;
      continue;
    }
    const local = raw.measuredOn[i]!;
    let ts = utc ? utc[i]! : Number.NaN;
    if (Number.isNaN(ts)) {
      if (!ctx.zone) {
        throw new BadInputError(
          key,
          `utc_measured_on is missing and system ${ctx.ssId} has no time zone in the systems index, so measured_on cannot be placed in UTC`,
        );
      }
      ts = ctx.zone.toUtc(local);
    }
    if (!(ts >= MIN_US && ts < MAX_US)) {
      throw new BadInputError(key, `entry ${i + 1}: timestamp ${describeUs(ts)} is outside 1970..2100`);
    }
    const s = idxByMetric.get(raw.metricId[i]!)!;
    if (len > 0) {
      const pt = timestamp[len - 1]!;
      if (ts < pt || (ts === pt && s <= sensorIdx[len - 1]!)) ordered = false;
    }
    timestamp[len] = ts;
    measuredOn[len] = local;
    sensorIdx[len] = s;
    metricId[len] = metricByRaw.get(raw.metricId[i]!)!;
    value[len] = v;
    len++;
  }
  missing += raw.emptyCells;

  let duplicates = 0;
  if (!ordered) {
    // Walk backwards so the last occurrence of a (timestamp, sensor) wins.
    const seen: Array<Set<number>> = sensors.map(() => new Set<number>());
    const keep = new Uint8Array(len);
    for (let i = len - 1; i >= 0; i--) {
      const set = seen[sensorIdx[i]!]!;
      const t = timestamp[i]!;
      if (set.has(t)) duplicates++;
      else {
        set.add(t);
        keep[i] = 1;
      }
    }
    if (duplicates > 0) {
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
      len = w;
    }
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
    missing,
    duplicates,
  };
}

function describeUs(us: number): string {
  if (!Number.isFinite(us)) return String(us);
  const d = new Date(us / 1000);
  return Number.isNaN(d.getTime()) ? String(us) : d.toISOString();
}
