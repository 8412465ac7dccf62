import { parseTimeZone, type SensorEntry } from '@pv-pipeline/pvdaq';
import * as arrow from 'apache-arrow';
import * as pw from 'parquet-wasm/node';
import { type StageTask, stageReadings } from './stage-readings.js';

/** Channels and minutes of the synthetic day: about the size of a real daily object. */
const CHANNELS = 12;
const MINUTES = 1440;

/**
 * A synthetic daily pvdata object in the archive's Parquet layout (snappy,
 * `measured_on, utc_measured_on, metric_id, value`) with its dictionary and a
 * DST zone, so that a warm-up takes the same code paths as a real object.
 */
function syntheticTask(round: number): StageTask {
  const n = CHANNELS * MINUTES;
  const start = Date.UTC(2023, 6, 1) + 7 * 3_600_000;
  const measured = new Float64Array(n);
  const utc = new Float64Array(n);
  const metric = new Int32Array(n);
  const value = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const minute = Math.floor(i / CHANNELS);
    utc[i] = start + minute * 60_000;
    measured[i] = utc[i]! - 7 * 3_600_000;
    metric[i] = (i % CHANNELS) + 1;
    value[i] = ((i * 7919 + round) % 10_007) / 10;
  }
  const table = new arrow.Table({
    measured_on: arrow.vectorFromArray(Array.from(measured), new arrow.TimestampMillisecond()),
    utc_measured_on: arrow.vectorFromArray(Array.from(utc), new arrow.TimestampMillisecond()),
    metric_id: arrow.makeVector(metric),
    value: arrow.makeVector(value),
  });
  const wasmTable = pw.Table.fromIPCStream(arrow.tableToIPC(table, 'stream'));
  const bytes = pw.writeParquet(
    wasmTable,
    new pw.WriterPropertiesBuilder().setCompression(pw.Compression.SNAPPY).build(),
  );
  const entries: SensorEntry[] = Array.from({ length: CHANNELS }, (_, c) => ({
    ss_id: 0,
    metric_id: c + 1,
    sensor: `warm_up_${c + 1}`,
    common_name: null,
    raw_units: 'W',
    units: 'W',
    calc_scale: null,
    calc_offset: null,
    aggregation_type: null,
    source_type: null,
  }));
  const key = 'warm-up/system_0__date_2023_07_01.parquet';
  return {
    key,
    etag: 'warm-up',
    format: 'parquet',
    ssId: 0,
    day: '2023-07-01',
    bytes,
    dictionary: { ssId: 0, key, entries, byMetricId: new Map(entries.map((e) => [e.metric_id, e])) },
    zone: parseTimeZone('America/Denver'),
  };
}

/** Rounds of a warm-up: enough for V8 to compile the hot JavaScript and WebAssembly functions. */
export const WARM_UP_ROUNDS = 12;

/**
 * Runs {@link stageReadings} on synthetic objects, so that V8's compilers do
 * their one-off work (optimizing the decoders, tiering up parquet-wasm) before
 * the first real object instead of during it. A transform worker does this
 * once per decoding thread before it takes jobs when `PV_WORKER_WARM_UP_ROUNDS`
 * is set. Returns the rows staged.
 */
export async function warmUpStage(rounds = WARM_UP_ROUNDS): Promise<number> {
  let rows = 0;
  for (let r = 0; r < rounds; r++) rows += (await stageReadings(syntheticTask(r))).manifest.rows;
  return rows;
}
