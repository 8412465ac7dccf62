import * as arrow from 'apache-arrow';
import * as pw from 'parquet-wasm/node';
import type { NormalizedReadings } from './normalize.js';

const TWO_32 = 4294967296;

/** Epoch µs held in doubles → an Int64 buffer, without a BigInt per value. */
function toInt64(values: Float64Array): BigInt64Array {
  const out = new BigInt64Array(values.length);
  const words = new Int32Array(out.buffer);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    const hi = Math.floor(v / TWO_32);
    words[2 * i] = (v - hi * TWO_32) | 0;
    words[2 * i + 1] = hi | 0;
  }
  return out;
}

/**
 * The fact rows of one object as an Arrow table with the staged schema:
 * `ss_id int32, timestamp timestamp[us, UTC], measured_on timestamp[us],
 * sensor dictionary<utf8>, metric_id int32, units dictionary<utf8> (nullable), value float64`.
 */
export function readingsToArrow(r: NormalizedReadings): arrow.Table {
  const n = r.length;
  const ss = new Int32Array(n).fill(r.ssId);
  const dictType = () => new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32());
  const sensorNames = arrow.vectorFromArray(
    r.sensors.map((s) => s.sensor),
    new arrow.Utf8(),
  );
  const unitValues = arrow.vectorFromArray(
    r.sensors.map((s) => s.units ?? ''),
    new arrow.Utf8(),
  );
  // units: null where the dictionary has none, via the index validity bitmap
  let unitNulls: Uint8Array | undefined;
  let unitNullCount = 0;
  if (r.sensors.some((s) => s.units === null)) {
    unitNulls = new Uint8Array(Math.ceil(n / 8));
    for (let i = 0; i < n; i++) {
      if (r.sensors[r.sensorIdx[i]!]!.units !== null) unitNulls[i >> 3]! |= 1 << (i & 7);
      else unitNullCount++;
    }
  }
  const data = {
    ss_id: arrow.makeVector(ss),
    timestamp: arrow.makeVector(
      arrow.makeData({ type: new arrow.TimestampMicrosecond('UTC'), length: n, data: toInt64(r.timestamp) }),
    ),
    measured_on: arrow.makeVector(
      arrow.makeData({ type: new arrow.TimestampMicrosecond(), length: n, data: toInt64(r.measuredOn) }),
    ),
    sensor: arrow.makeVector(
      arrow.makeData({ type: dictType(), length: n, data: r.sensorIdx, dictionary: sensorNames }),
    ),
    metric_id: arrow.makeVector(r.metricId),
    units: arrow.makeVector(
      arrow.makeData({
        type: dictType(),
        length: n,
        data: r.sensorIdx,
        dictionary: unitValues,
        ...(unitNulls ? { nullBitmap: unitNulls, nullCount: unitNullCount } : {}),
      }),
    ),
    value: arrow.makeVector(r.value),
  };
  return new arrow.Table(data);
}

/** Encodes an Arrow table as Parquet, tuned for a short-lived staged file (LZ4, no dictionary pages, no stats). */
export function arrowToStagedParquet(table: arrow.Table): Uint8Array {
  const props = new pw.WriterPropertiesBuilder()
    .setCompression(pw.Compression.LZ4_RAW)
    .setDictionaryEnabled(false)
    .setStatisticsEnabled(pw.EnabledStatistics.None)
    .build();
  return pw.writeParquet(pw.Table.fromIPCStream(arrow.tableToIPC(table, 'stream')), props);
}
