import { derivedId, type PvdataFormat, type StagedManifest } from '@pv-pipeline/core';
import {
  arrowToStagedParquet,
  LocalTimeConverter,
  type MetricsDictionary,
  normalizeReadings,
  readCsvPvdata,
  readingsToArrow,
  readParquetPvdata,
  type TimeZoneSpec,
} from '@pv-pipeline/pvdaq';
import { StagingArea } from './staging-area.js';

/**
 * Everything the CPU-heavy part of a transform needs, as plain data so that it
 * can cross to a worker thread (the bytes' buffer is transferred, not copied).
 */
export interface StageTask {
  key: string;
  etag: string;
  format: PvdataFormat;
  ssId: number;
  day: string;
  bytes: Uint8Array;
  dictionary: MetricsDictionary;
  zone: TimeZoneSpec | null;
  /** Absolute staging directory. */
  stagingDir: string;
}

/**
 * Decode (Parquet long or CSV wide) → normalize → write the staged Parquet
 * file. Pure CPU plus one file write; runs in-process or in a worker thread.
 */
export async function stageReadings(task: StageTask): Promise<StagedManifest> {
  const { key, bytes, dictionary } = task;
  const raw =
    task.format === 'parquet'
      ? readParquetPvdata(key, bytes)
      : readCsvPvdata(key, bytes, { ssId: task.ssId, knownMetricIds: new Set(dictionary.byMetricId.keys()) });
  const readings = normalizeReadings(raw, {
    key,
    ssId: task.ssId,
    dictionary,
    zone: task.zone ? new LocalTimeConverter(task.zone) : null,
  });
  let staged: string | null = null;
  let size = 0;
  let minTs: number | null = null;
  let maxTs: number | null = null;
  if (readings.length > 0) {
    const file = arrowToStagedParquet(readingsToArrow(readings));
    staged = await new StagingArea(task.stagingDir).write(derivedId('staged', key, task.etag), file);
    size = file.byteLength;
    minTs = Number.POSITIVE_INFINITY;
    maxTs = Number.NEGATIVE_INFINITY;
    for (const t of readings.timestamp) {
      if (t < minTs) minTs = t;
      if (t > maxTs) maxTs = t;
    }
  }
  return {
    key,
    etag: task.etag,
    ss_id: task.ssId,
    day: task.day,
    format: task.format,
    rows: readings.length,
    staged,
    bytes: size,
    minTimestamp: minTs === null ? null : String(minTs),
    maxTimestamp: maxTs === null ? null : String(maxTs),
    dropped: { missing: readings.missing, duplicate: readings.duplicates },
  };
}
