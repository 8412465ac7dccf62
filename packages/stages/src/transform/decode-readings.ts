import type { PvdataFormat, StagedManifest } from '@pv-pipeline/core';
import {
  LocalTimeResolver,
  type MetricsDictionary,
  NormalizedBuffers,
  normalizeReadings,
  RawColumnBuffers,
  RawReadingsBuilder,
  type ResidentialColumn,
  readCsvPvdata,
  readParquetPvdata,
  type TimeZoneSpec,
  timeRangeOf,
} from '@pv-pipeline/pvdaq';
import {
  arrowToStagedParquet,
  channelsOf,
  readingsToArrow,
  readingsToChannelIndexArrow,
  StagedBatchScratch,
} from './staged-parquet.js';

/**
 * Everything the CPU-heavy part of a transform needs, as plain data so that it
 * can cross to a worker thread (the bytes' buffer is transferred, not copied).
 */
export interface DecodeTask {
  key: string;
  etag: string;
  format: PvdataFormat;
  ssId: number;
  day: string;
  bytes: Uint8Array;
  /** The system's channels, named uniquely in the system. */
  dictionary: MetricsDictionary;
  /** The system's zone; null when unknown (rows without UTC then fail the object). */
  zone: TimeZoneSpec | null;
  /** Where the zone was looked for, for the message when it is unknown. */
  zoneSources: string;
  /** The columns of a residential-feed CSV (its dictionary is then built from them). */
  residential?: ResidentialColumn[];
  /**
   * Stage the rows without text (layout `channel_index`: channel positions in
   * the manifest's list instead of the names).
   * @defaultValue false
   */
  channelIndex?: boolean;
}

/** What {@link decodeReadings} produces: the manifest (not yet staged) and the staged file's bytes. */
export interface EncodedReadings {
  /** `staged` is null here; the caller stores `file` and fills it in. */
  manifest: StagedManifest;
  /** The staged Parquet file, or null when the object has no readings. */
  file: Uint8Array | null;
}

/**
 * Rows of the largest object decoded and encoded in this thread's buffers
 * below (at most about 50 MB of them in all; a few MB for a day of 1-minute
 * data): a larger one gets buffers of its own, for the collector.
 */
const SCRATCH_MAX_ROWS = 1 << 18;
/**
 * This thread's buffers: an object is decoded, normalized and encoded in one
 * synchronous stretch (below), so they never serve two objects at once. New
 * typed arrays for every object set off most of V8's full collections over
 * the bench mirror (82 per run against about 10, bench/RESULTS.md, issue #19).
 */
const rawColumns = new RawColumnBuffers(SCRATCH_MAX_ROWS);
/** Read into only from a CSV of at most 2 × SCRATCH_MAX_ROWS bytes: every entry it holds took 2 bytes at least. */
const rawBuilder = new RawReadingsBuilder(0, true);
const normalized = new NormalizedBuffers(SCRATCH_MAX_ROWS);
const scratch = new StagedBatchScratch();

/**
 * Decode (Parquet long or CSV wide) → the reading rules → encode the staged
 * Parquet file. Pure CPU; runs in-process or in a worker thread.
 */
export async function decodeReadings(task: DecodeTask): Promise<EncodedReadings> {
  const { key, bytes, dictionary } = task;
  const raw =
    task.format === 'parquet'
      ? readParquetPvdata(key, bytes, rawColumns)
      : readCsvPvdata(key, bytes, {
          ssId: task.ssId,
          knownMetricIds: new Set(dictionary.byMetricId.keys()),
          ...(bytes.length <= 2 * SCRATCH_MAX_ROWS ? { into: rawBuilder } : {}),
          ...(task.residential ? { residential: task.residential } : {}),
        });
  const readings = normalizeReadings(raw, {
    key,
    ssId: task.ssId,
    dictionary,
    zone: task.zone ? new LocalTimeResolver(task.zone) : null,
    zoneSources: task.zoneSources,
    into: normalized,
  });
  const buffers = readings.length <= SCRATCH_MAX_ROWS ? scratch : new StagedBatchScratch();
  // without text, a row's channel is its sensor index: the manifest lists readings.sensors in order
  const file =
    readings.length > 0
      ? arrowToStagedParquet(
          task.channelIndex ? readingsToChannelIndexArrow(readings, buffers) : readingsToArrow(readings, buffers),
          buffers,
        )
      : null;
  const range = timeRangeOf(readings.timestamp);
  const manifest: StagedManifest = {
    key,
    etag: task.etag,
    ss_id: task.ssId,
    day: task.day,
    format: task.format,
    rows: readings.length,
    staged: null,
    bytes: file?.byteLength ?? 0,
    minTimestamp: range ? String(range[0]) : null,
    maxTimestamp: range ? String(range[1]) : null,
    ...(readings.length > 0 ? { channels: channelsOf(readings.sensors) } : {}),
    ...(readings.length > 0 && task.channelIndex ? { layout: 'channel_index' as const } : {}),
    dropped: readings.dropped,
    droppedBySensor: readings.droppedBySensor,
    group: null,
    order: null,
  };
  return { manifest, file };
}
