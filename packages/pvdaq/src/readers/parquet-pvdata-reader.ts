import { BadInputError, noneDropped } from '@pv-pipeline/core';
import * as arrow from 'apache-arrow';
import { MAX_METRIC_ID } from '../catalog/metrics-dictionary.js';
import { parseTimeZone } from '../catalog/time-zone.js';
import { zoneClockOf } from '../rules/local-time.js';
import { parseCell } from '../rules/reading-rules.js';
import { columnToFloat64, isNumericLike, timestampZone } from './arrow-columns.js';
import { withParquetTable } from './parquet-decode.js';
import type { RawColumnBuffers, RawReadings } from './raw-readings.js';
import { parseTimestampText } from './timestamp-text.js';

/**
 * Reads a daily long-format pvdata Parquet object
 * (`measured_on, utc_measured_on, metric_id, value`; no system id inside).
 * `utc_measured_on` may be absent or null (whole years are null in the real
 * archive); timestamps may be in any unit (INT96 from Spark arrives as ns).
 * With `into`, the readings are decoded into its buffers and hold until its
 * next use.
 */
export function readParquetPvdata(key: string, bytes: Uint8Array, into?: RawColumnBuffers): RawReadings {
  // every column is converted into arrays of our own, so the decoded table needs no copy
  return withParquetTable(key, bytes, (table) => rawReadingsOf(key, table, into));
}

function rawReadingsOf(key: string, table: arrow.Table, into?: RawColumnBuffers): RawReadings {
  const names = table.schema.fields.map((f) => f.name.toLowerCase());
  const col = (name: string) => {
    const i = names.indexOf(name);
    return i < 0 ? null : table.getChildAt(i);
  };
  const measured = col('measured_on');
  const metric = col('metric_id');
  const value = col('value');
  const missing = [
    ['measured_on', measured],
    ['metric_id', metric],
    ['value', value],
  ]
    .filter(([, v]) => v === null)
    .map(([n]) => n);
  if (missing.length > 0) {
    throw new BadInputError(
      key,
      `Parquet schema lacks ${missing.join(', ')} (has ${table.schema.fields.map((f) => f.name).join(', ') || 'no columns'})`,
    );
  }
  const utcCol = col('utc_measured_on');
  const buffers = into?.columns(table.numRows);
  // measured_on stored as an instant with a zone: the local wall time is derived from it
  const zone = timestampZone(measured!.type);
  const zoned = zone !== null && !/^(utc|\+00:?00|z|etc\/utc)$/i.test(zone);
  // zoned instants stand in for a missing UTC column, so they go where it would
  const instantsInto = zoned ? (utcCol ? undefined : buffers?.utc) : buffers?.measuredOn;
  let measuredOn = timeColumn(key, 'measured_on', measured!, instantsInto);
  let utc = utcCol ? timeColumn(key, 'utc_measured_on', utcCol, buffers?.utc) : null;
  if (zoned) {
    const spec = parseTimeZone(zone, `${key}: measured_on time zone`);
    const instants = measuredOn;
    if (!utc) utc = instants;
    const local = buffers?.measuredOn ?? new Float64Array(instants.length);
    const clock = zoneClockOf(spec);
    for (let i = 0; i < instants.length; i++) local[i] = clock.wallTime(instants[i]!);
    measuredOn = local;
  }

  const ids = metricIdColumn(key, metric!, buffers?.metricId, buffers?.numbers);
  for (let i = 0; i < measuredOn.length; i++) {
    if (Number.isNaN(measuredOn[i])) throw new BadInputError(key, `row ${i + 1}: measured_on is null`);
  }
  return {
    length: table.numRows,
    measuredOn,
    utc,
    metricId: ids,
    value: numberColumn(key, 'value', value!, buffers?.value),
    dropped: noneDropped(),
    droppedByMetric: new Map(),
  };
}

/**
 * The metric id column as 32-bit ids, into `out` (exactly as long) when
 * given: an integer column of 32 bits or fewer without nulls is copied as it
 * is, any other is read as numbers (through `spare`) and checked one by one.
 */
function metricIdColumn(key: string, v: arrow.Vector, out?: Int32Array, spare?: Float64Array): Int32Array {
  const ids = out ?? new Int32Array(v.length);
  const t = v.type as arrow.DataType;
  if (arrow.DataType.isInt(t) && (t as arrow.Int).bitWidth <= 32 && v.nullCount === 0) {
    let pos = 0;
    for (const data of v.data) {
      const values = data.values as Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array;
      for (let i = 0; i < data.length; i++) {
        const m = values[i]!;
        if (m < 0 || m > MAX_METRIC_ID) throw metricIdBeyond(key, pos + i, m);
        ids[pos + i] = m;
      }
      pos += data.length;
    }
    return ids;
  }
  const numbers = numberColumn(key, 'metric_id', v, spare);
  for (let i = 0; i < numbers.length; i++) {
    const m = numbers[i]!;
    if (!Number.isInteger(m)) throw new BadInputError(key, `row ${i + 1}: metric_id ${m} is not an integer`);
    if (m < 0 || m > MAX_METRIC_ID) throw metricIdBeyond(key, i, m);
    ids[i] = m;
  }
  return ids;
}

function metricIdBeyond(key: string, row: number, m: number): BadInputError {
  return new BadInputError(key, `row ${row + 1}: metric_id ${m} is beyond the 32-bit ids PVDAQ uses`);
}

/** A timestamp column (or its text) as epoch µs, into `out` (exactly as long) when given. */
function timeColumn(key: string, name: string, v: arrow.Vector, out?: Float64Array): Float64Array {
  const t = v.type as arrow.DataType;
  if (arrow.DataType.isTimestamp(t) || arrow.DataType.isDate(t)) return columnToFloat64(v, out);
  if (arrow.DataType.isUtf8(t) || arrow.DataType.isLargeUtf8(t) || arrow.DataType.isDictionary(t)) {
    out ??= new Float64Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const s = v.get(i) as string | null;
      if (s == null || s === '') {
        out[i] = Number.NaN;
        continue;
      }
      const p = parseTimestampText(s);
      if (!p) throw new BadInputError(key, `row ${i + 1}: ${name} "${s.slice(0, 40)}" is not a timestamp`);
      out[i] = p.localUs;
    }
    return out;
  }
  throw new BadInputError(key, `${name} has type ${t}, expected a timestamp`);
}

/** A numeric column (or its text, read by the rules) as doubles, into `out` (exactly as long) when given. */
function numberColumn(key: string, name: string, v: arrow.Vector, out?: Float64Array): Float64Array {
  const t = v.type as arrow.DataType;
  if (isNumericLike(t)) return columnToFloat64(v, out);
  if (arrow.DataType.isUtf8(t) || arrow.DataType.isLargeUtf8(t) || arrow.DataType.isDictionary(t)) {
    out ??= new Float64Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const s = v.get(i) as string | null;
      // text the rules drop becomes the value they drop: NaN (missing) or Infinity (non-finite)
      const n = s == null ? 'missing' : parseCell(s);
      if (n === undefined)
        throw new BadInputError(key, `row ${i + 1}: ${name} "${String(s).slice(0, 40)}" is not a number`);
      out[i] = n === 'missing' ? Number.NaN : n === 'non_finite' ? Number.POSITIVE_INFINITY : (n as number);
    }
    return out;
  }
  throw new BadInputError(key, `${name} has type ${t}, expected a number`);
}
