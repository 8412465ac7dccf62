import type { StagedChannel } from '@pv-pipeline/core';
import type { NormalizedReadings } from '@pv-pipeline/pvdaq';
import {
  type ColumnDef,
  type SensorEntry,
  STAGED_CHANNEL_INDEX_COLUMNS,
  STAGED_READINGS_COLUMNS,
  stagedArrowType,
} from '@pv-pipeline/schema';
import * as arrow from 'apache-arrow';
import * as pw from 'parquet-wasm/node';

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

/** The buffers of one staged column (its type comes from the schema). */
interface ColumnBuffers {
  length: number;
  data: Int32Array | BigInt64Array | Float64Array;
  dictionary?: arrow.Vector;
  nullBitmap?: Uint8Array;
  nullCount?: number;
}

/** The channels of a batch of fact rows as a manifest lists them (see StagedManifest.channels). */
export function channelsOf(sensors: readonly SensorEntry[]): StagedChannel[] {
  return sensors.map(stagedChannelOf);
}

/** One channel of a batch as a manifest lists it. */
function stagedChannelOf(s: SensorEntry): StagedChannel {
  return { sensor: s.sensor, metric_id: s.metric_id, units: s.units ?? null };
}

/**
 * The channels of a staged file in the order first met (its manifest's list),
 * each with its position there: the `channel` of a file without text.
 */
export class StagedChannelList {
  readonly #positions = new Map<string, number>();
  /** The channels, in position order (what the manifest lists). */
  readonly channels: StagedChannel[] = [];

  /** The position of a batch's channel, appended to the list when new. */
  positionOf(s: SensorEntry): number {
    const channel = stagedChannelOf(s);
    const key = JSON.stringify([channel.sensor, channel.metric_id, channel.units]);
    let at = this.#positions.get(key);
    if (at === undefined) {
      at = this.channels.length;
      this.#positions.set(key, at);
      this.channels.push(channel);
    }
    return at;
  }

  /** Each of a batch's sensor indexes → its channel's position in the file (appending new channels). */
  positionsOf(sensors: readonly SensorEntry[]): Int32Array {
    return Int32Array.from(sensors, (s) => this.positionOf(s));
  }
}

/**
 * The fact rows of one object as an Arrow table with the staged schema
 * derived from `pv_readings` (schema's stagedReadingsSchema): `ss_id int32,
 * timestamp timestamp[us, UTC], measured_on timestamp[us], sensor
 * dictionary<utf8>, metric_id int32, units dictionary<utf8> (nullable), value float64`.
 */
export function readingsToArrow(r: NormalizedReadings): arrow.Table {
  const n = r.length;
  const sensorNames = arrow.vectorFromArray(
    r.sensors.map((s) => s.sensor),
    new arrow.Utf8(),
  );
  const unitValues = arrow.vectorFromArray(
    r.sensors.map((s) => s.units ?? ''),
    new arrow.Utf8(),
  );
  // units: null where the channel has none, via the index validity bitmap
  let unitNulls: Uint8Array | undefined;
  let unitNullCount = 0;
  if (r.sensors.some((s) => s.units === null)) {
    unitNulls = new Uint8Array(Math.ceil(n / 8));
    for (let i = 0; i < n; i++) {
      if (r.sensors[r.sensorIdx[i]!]!.units !== null) unitNulls[i >> 3]! |= 1 << (i & 7);
      else unitNullCount++;
    }
  }
  return tableOf(STAGED_READINGS_COLUMNS, {
    ...timeAndValueBuffers(r),
    sensor: { length: n, data: r.sensorIdx, dictionary: sensorNames },
    metric_id: { length: n, data: r.metricId },
    units: {
      length: n,
      data: r.sensorIdx,
      dictionary: unitValues,
      ...(unitNulls ? { nullBitmap: unitNulls, nullCount: unitNullCount } : {}),
    },
  });
}

/**
 * The fact rows as an Arrow table without text (STAGED_CHANNEL_INDEX_COLUMNS):
 * `channel` is each row's sensor index mapped through `positions` (a batch's
 * indexes → the file's channel positions, see {@link StagedChannelList}), or
 * the sensor index itself when the file holds this one batch (its manifest
 * then lists `r.sensors` in order).
 */
export function readingsToChannelIndexArrow(r: NormalizedReadings, positions?: Int32Array): arrow.Table {
  let channel = r.sensorIdx;
  if (positions) {
    channel = new Int32Array(r.length);
    for (let i = 0; i < r.length; i++) channel[i] = positions[r.sensorIdx[i]!]!;
  }
  return tableOf(STAGED_CHANNEL_INDEX_COLUMNS, {
    ...timeAndValueBuffers(r),
    channel: { length: r.length, data: channel },
  });
}

/** The buffers of the columns both staged layouts share. */
function timeAndValueBuffers(r: NormalizedReadings): Record<string, ColumnBuffers> {
  const n = r.length;
  return {
    ss_id: { length: n, data: new Int32Array(n).fill(r.ssId) },
    timestamp: { length: n, data: toInt64(r.timestamp) },
    measured_on: { length: n, data: toInt64(r.measuredOn) },
    value: { length: n, data: r.value },
  };
}

/** An Arrow table of `columns` (their types from the schema) over the buffers named by column. */
function tableOf(columns: readonly ColumnDef[], data: Record<string, ColumnBuffers>): arrow.Table {
  const vectors: Record<string, arrow.Vector> = {};
  for (const c of columns) {
    const props = data[c.name];
    if (!props) throw new Error(`staged column ${c.name} has no data`);
    // makeData is typed per Arrow type; the schema decides the type here
    vectors[c.name] = arrow.makeVector(arrow.makeData({ ...props, type: stagedArrowType(c) } as never));
  }
  return new arrow.Table(vectors);
}

/** Writer settings of a short-lived staged file (LZ4, no dictionary pages, no stats). */
function stagedWriterProperties(maxRowGroupSize?: number): pw.WriterProperties {
  let b = new pw.WriterPropertiesBuilder()
    .setCompression(pw.Compression.LZ4_RAW)
    .setDictionaryEnabled(false)
    .setStatisticsEnabled(pw.EnabledStatistics.None);
  if (maxRowGroupSize) b = b.setMaxRowGroupSize(maxRowGroupSize);
  return b.build();
}

/** Encodes an Arrow table as Parquet, tuned for a short-lived staged file. */
export function arrowToStagedParquet(table: arrow.Table): Uint8Array {
  return pw.writeParquet(pw.Table.fromIPCStream(arrow.tableToIPC(table, 'stream')), stagedWriterProperties());
}

/** Row groups of a streamed staged file: small enough that the writer's buffer stays small. */
const STREAM_ROW_GROUP = 65_536;

/**
 * Encodes batches of fact rows as one staged Parquet file, streamed: yields
 * the file's bytes in pieces while batches arrive, holding about one row
 * group in memory whatever the total. Empty batches are skipped. Every
 * batch's channels are added to `channels` (the manifest's list); with
 * `channelIndex` the file carries their positions there instead of the names
 * (layout `channel_index`).
 */
export async function* stagedParquetStream(
  batches: AsyncIterable<NormalizedReadings>,
  channels: StagedChannelList,
  channelIndex: boolean,
): AsyncGenerator<Uint8Array> {
  const source = batches[Symbol.asyncIterator]();
  // the reader's own error (naming the object), rather than the writer's rewording of it
  let failure: unknown = null;
  const nextNonEmpty = async (): Promise<NormalizedReadings | null> => {
    for (;;) {
      let next: IteratorResult<NormalizedReadings>;
      try {
        next = await source.next();
      } catch (err) {
        failure = err;
        throw err;
      }
      if (next.done) return null;
      if (next.value.length > 0) return next.value;
    }
  };
  // no rows at all: no file (the writer needs a first batch for the schema)
  let pending = await nextNonEmpty();
  if (!pending) return;
  const recordBatches = new ReadableStream<pw.RecordBatch>({
    async pull(controller) {
      const readings = pending ?? (await nextNonEmpty());
      pending = null;
      if (!readings) {
        controller.close();
        return;
      }
      // the wasm table must be freed, or wasm memory grows with every batch
      const positions = channels.positionsOf(readings.sensors);
      const rows = channelIndex ? readingsToChannelIndexArrow(readings, positions) : readingsToArrow(readings);
      const table = pw.Table.fromIPCStream(arrow.tableToIPC(rows, 'stream'));
      try {
        controller.enqueue(table.recordBatch(0)!);
      } finally {
        table.free();
      }
    },
    async cancel() {
      await source.return?.();
    },
  });
  const bytes = await pw.transformParquetStream(recordBatches, stagedWriterProperties(STREAM_ROW_GROUP));
  try {
    yield* bytes as unknown as AsyncIterable<Uint8Array>;
  } catch (err) {
    throw failure ?? err;
  }
  if (failure) throw failure;
}
