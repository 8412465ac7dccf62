import { BadInputError, derivedId, type StagedManifest } from '@pv-pipeline/core';
import {
  firstCsvLine,
  isPrizeKey,
  type MetricsDictionary,
  type ObjectStore,
  parsePvdataKey,
  pinTo,
  residentialColumns,
  residentialDictionary,
  type SystemCatalog,
  zoneSourcesOf,
} from '@pv-pipeline/pvdaq';
import type { ReadingsFileWriter, ReadingsPlacement } from '@pv-pipeline/sinks';
import type { PlannedObject } from '../plan/planned-object.js';
import type { StagingArea } from '../staging/staging-area.js';
import { type DecodeTask, decodeReadings, type EncodedReadings } from './decode-readings.js';
import { finalReadingsFile } from './final-readings-file.js';
import { retiredPartManifest, transformPrizePart } from './transform-prize.js';

/** Runs the CPU-heavy part of a transform: in-process, or on a worker-thread pool. */
export type DecodeRunner = (task: DecodeTask) => Promise<EncodedReadings>;

/** What the transform stage needs. */
export interface TransformDeps {
  store: ObjectStore;
  catalog: SystemCatalog;
  staging: StagingArea;
  /** Largest object transformed, bytes; larger ones fail with that reason. */
  maxObjectBytes: number;
  /** Where decoding runs. @defaultValue in-process ({@link decodeReadings}) */
  decode?: DecodeRunner;
  /**
   * For a `parquet://` sink: daily objects are staged as the dataset's readings
   * files themselves, so that the loader only moves them into place.
   * @defaultValue none (staged columns, rewritten by the sink)
   */
  readingsFiles?: ReadingsFileWriter;
  /**
   * Stage files without text, for a DuckDB sink (layout `channel_index`, see
   * STAGED_CHANNEL_INDEX_COLUMNS): cheaper to encode, and to read and join in
   * the loader. Ignored with `readingsFiles`.
   * @defaultValue false (the staged columns with the names, which every sink reads)
   */
  channelIndex?: boolean;
  /**
   * For a `parquet+s3://` sink (with `readingsFiles`): the readings files go
   * straight into the dataset, under names of their own, instead of staging.
   * @defaultValue none (staged)
   */
  placement?: ReadingsPlacement;
}

/**
 * The transform stage for one object. A prize CSV (part) is streamed, see
 * {@link transformPrizePart}. A daily pvdata object: check the key, fetch the
 * system's channels and zone, GET the object, then decode → reading rules →
 * staged Parquet file (see {@link decodeReadings}). A retired prize part reads
 * nothing: its manifest is empty. Returns the manifest the loader commits.
 * Every failure names the object key.
 */
export async function transformObject(obj: PlannedObject, deps: TransformDeps): Promise<StagedManifest> {
  const key = obj.key;
  if (obj.retired) return retiredPartManifest(obj);
  if (isPrizeKey(key)) return transformPrizePart(obj, deps);
  const parsed = parsePvdataKey(key);
  // pinned to the listed version: the ledger records the ETag of what was read
  const bytes = await deps.store.getBytes(key, { maxBytes: deps.maxObjectBytes, ...pinTo(obj) });
  // the residential feed names its channels in the header and has no dictionary
  const residential = parsed.format === 'csv' ? residentialColumns(parsed.ssId, firstCsvLine(bytes)) : null;
  let dictionary: MetricsDictionary;
  try {
    dictionary = residential
      ? residentialDictionary(parsed.ssId, key, residential)
      : await deps.catalog.channels(parsed.ssId);
  } catch (err) {
    if (err instanceof BadInputError) throw new BadInputError(key, err.message, err);
    throw err;
  }
  const task: DecodeTask = {
    key,
    etag: obj.etag,
    format: parsed.format,
    ssId: parsed.ssId,
    day: parsed.day,
    bytes,
    dictionary,
    zone: await deps.catalog.zoneOf(parsed.ssId),
    zoneSources: zoneSourcesOf(parsed.ssId),
    ...(residential ? { residential } : {}),
    ...(deps.channelIndex && !deps.readingsFiles ? { channelIndex: true } : {}),
  };
  const { manifest, file } = await (deps.decode ?? decodeReadings)(task);
  if (file) {
    const bytes = deps.readingsFiles ? await finalReadingsFile(deps.readingsFiles, manifest, file) : file;
    if (deps.placement && deps.readingsFiles) await deps.placement.place(manifest, bytes);
    else manifest.staged = await deps.staging.write(derivedId('staged', key, obj.etag), bytes);
  }
  return manifest;
}
