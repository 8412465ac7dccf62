import { grownCapacity, type StagedChannel } from '@pv-pipeline/core';
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

/** Epoch µs held in doubles → Int64 in `out` (at least as long), without a BigInt per value. */
function toInt64(values: Float64Array, out: BigInt64Array): BigInt64Array {
  const words = new Int32Array(out.buffer, out.byteOffset, 2 * values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    const hi = Math.floor(v / TWO_32);
    words[2 * i] = (v - hi * TWO_32) | 0;
    words[2 * i + 1] = hi | 0;
  }
  return out.length === values.length ? out : out.subarray(0, values.length);
}

/** The buffers of one staged column (its type comes from the schema). */
interface ColumnBuffers {
  length: number;
  data: Int32Array | BigInt64Array | Float64Array;
  dictionary?: arrow.Vector;
  nullBitmap?: Uint8Array;
  nullCount?: number;
}

/**
 * The buffers one staged batch is encoded in, reused by the next batch: its
 * Int64 instants, its system and channel columns, and its Arrow IPC bytes.
 * Without them every batch allocated these anew (about 5.5 MB of garbage per
 * MB of prize CSV), and the garbage waiting for V8's next full collection set
 * the process's peak RSS (bench/RESULTS.md, issue #19). What a batch encodes
 * with a scratch is valid until the next batch uses it.
 */
export class StagedBatchScratch {
  #timestamp = new BigInt64Array(0);
  #measuredOn = new BigInt64Array(0);
  #ssId = new Int32Array(0);
  #ssIdValue = Number.NaN;
  #channel = new Int32Array(0);
  #ipc = new Uint8Array(0);
  #ipcLength = 0;

  /** The Int64 instants of a batch (`timestamp`, `measuredOn`). */
  instants(r: NormalizedReadings): { timestamp: BigInt64Array; measuredOn: BigInt64Array } {
    if (this.#timestamp.length < r.length) {
      this.#timestamp = new BigInt64Array(grownCapacity(this.#timestamp.length, r.length));
      this.#measuredOn = new BigInt64Array(this.#timestamp.length);
    }
    return { timestamp: toInt64(r.timestamp, this.#timestamp), measuredOn: toInt64(r.measuredOn, this.#measuredOn) };
  }

  /** A column of `n` times the system id. */
  ssId(n: number, ssId: number): Int32Array {
    if (this.#ssId.length < n) {
      this.#ssId = new Int32Array(grownCapacity(this.#ssId.length, n));
      this.#ssIdValue = Number.NaN;
    }
    if (this.#ssIdValue !== ssId) this.#ssId.fill(ssId);
    this.#ssIdValue = ssId;
    return this.#ssId.subarray(0, n);
  }

  /** A column of `n` channel positions, for the caller to fill. */
  channel(n: number): Int32Array {
    if (this.#channel.length < n) this.#channel = new Int32Array(grownCapacity(this.#channel.length, n));
    return this.#channel.subarray(0, n);
  }

  /** The Arrow IPC stream of `table` (schema, batches, end of stream). */
  ipcOf(table: arrow.Table): Uint8Array {
    this.#ipcLength = 0;
    const writer = new arrow.RecordBatchStreamWriter();
    // the writer hands each piece to its sink: copied here, not queued and joined
    writer.reset(new ScratchSink((bytes) => this.#appendIpc(bytes)));
    writer.write(table);
    writer.finish();
    return this.#ipc.subarray(0, this.#ipcLength);
  }

  #appendIpc(bytes: Uint8Array): void {
    const end = this.#ipcLength + bytes.byteLength;
    if (end > this.#ipc.length) {
      const grown = new Uint8Array(grownCapacity(this.#ipc.length, end));
      grown.set(this.#ipc.subarray(0, this.#ipcLength));
      this.#ipc = grown;
    }
    this.#ipc.set(bytes, this.#ipcLength);
    this.#ipcLength = end;
  }
}

/** The sink of an Arrow IPC writer that passes each piece written to `onBytes` instead of queueing it. */
class ScratchSink extends arrow.AsyncByteQueue {
  readonly #onBytes: (bytes: Uint8Array) => void;
  constructor(onBytes: (bytes: Uint8Array) => void) {
    super();
    this.#onBytes = onBytes;
  }
  override write(value: Parameters<arrow.AsyncByteQueue['write']>[0]): void {
    if (!(value instanceof Uint8Array)) throw new Error('Arrow IPC writer wrote something other than bytes');
    this.#onBytes(value);
  }
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
 * Its system and instant columns are in `scratch`: the table holds until the scratch's next batch.
 */
export function readingsToArrow(r: NormalizedReadings, scratch: StagedBatchScratch): arrow.Table {
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
    ...timeAndValueBuffers(r, scratch),
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
 * then lists `r.sensors` in order). Its system, instant and mapped channel
 * columns are in `scratch`, as for {@link readingsToArrow}.
 */
export function readingsToChannelIndexArrow(
  r: NormalizedReadings,
  scratch: StagedBatchScratch,
  positions?: Int32Array,
): arrow.Table {
  let channel = r.sensorIdx;
  if (positions) {
    channel = scratch.channel(r.length);
    for (let i = 0; i < r.length; i++) channel[i] = positions[r.sensorIdx[i]!]!;
  }
  return tableOf(STAGED_CHANNEL_INDEX_COLUMNS, {
    ...timeAndValueBuffers(r, scratch),
    channel: { length: r.length, data: channel },
  });
}

/** The buffers of the columns both staged layouts share (those not the batch's own in `scratch`). */
function timeAndValueBuffers(r: NormalizedReadings, scratch: StagedBatchScratch): Record<string, ColumnBuffers> {
  const n = r.length;
  const instants = scratch.instants(r);
  return {
    ss_id: { length: n, data: scratch.ssId(n, r.ssId) },
    timestamp: { length: n, data: instants.timestamp },
    measured_on: { length: n, data: instants.measuredOn },
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

/** Encodes an Arrow table as Parquet, tuned for a short-lived staged file (its IPC bytes in `scratch`). */
export function arrowToStagedParquet(table: arrow.Table, scratch: StagedBatchScratch): Uint8Array {
  return pw.writeParquet(pw.Table.fromIPCStream(scratch.ipcOf(table)), stagedWriterProperties());
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
  // each batch is in wasm memory before the next is read: one scratch serves them all
  const scratch = new StagedBatchScratch();
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
      const rows = channelIndex
        ? readingsToChannelIndexArrow(readings, scratch, positions)
        : readingsToArrow(readings, scratch);
      const table = pw.Table.fromIPCStream(scratch.ipcOf(rows));
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
