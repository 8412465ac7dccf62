import { BadInputError, derivedId, type StagedManifest } from '@pv-pipeline/core';
import {
  firstCsvLine,
  isPrizeKey,
  type MetricsDictionary,
  type ObjectStore,
  parsePvdataKey,
  residentialColumns,
  residentialDictionary,
  type SystemCatalog,
  type TimeZoneSpec,
} from '@pv-pipeline/pvdaq';
import type { PlannedObject } from './plan-objects.js';
import { type EncodedReadings, type StageTask, stageReadings } from './stage-readings.js';
import type { StagingArea } from './staging-area.js';
import { retiredPartManifest, transformPrizePart } from './transform-prize.js';

const UTC_ZONE: TimeZoneSpec = { kind: 'fixed', offsetMinutes: 0, label: 'UTC' };

/** Runs the CPU-heavy part of a transform: in-process, or on a worker-thread pool. */
export type StageRunner = (task: StageTask) => Promise<EncodedReadings>;

/** What the transform stage needs. */
export interface TransformDeps {
  store: ObjectStore;
  catalog: SystemCatalog;
  staging: StagingArea;
  /** Largest object transformed, bytes; larger ones fail with that reason. */
  maxObjectBytes: number;
  /** Where decoding runs; default in-process. */
  runStage?: StageRunner;
}

/**
 * The transform stage for one object. A prize CSV (part) is streamed, see
 * {@link transformPrizePart}. A daily pvdata object: check the key, fetch the
 * system's dictionary and zone, GET the object, then decode → normalize →
 * staged Parquet file (see {@link stageReadings}). A retired prize part reads
 * nothing: its manifest is empty. Returns the manifest the loader commits.
 * Every failure names the object key.
 */
export async function transformObject(obj: PlannedObject, deps: TransformDeps): Promise<StagedManifest> {
  const key = obj.key;
  if (obj.retired) return retiredPartManifest(obj);
  if (isPrizeKey(key)) return transformPrizePart(obj, deps);
  const parsed = parsePvdataKey(key);
  // pinned to the listed version: the ledger records the ETag of what was read
  const bytes = await deps.store.getBytes(key, { maxBytes: deps.maxObjectBytes, ifMatch: obj.etag });
  // the residential feed names its channels in the header and has no dictionary
  const residential = parsed.format === 'csv' ? residentialColumns(parsed.ssId, firstCsvLine(bytes)) : null;
  let dictionary: MetricsDictionary;
  try {
    dictionary = residential
      ? residentialDictionary(parsed.ssId, key, residential)
      : await deps.catalog.dictionary(parsed.ssId);
  } catch (err) {
    if (err instanceof BadInputError) throw new BadInputError(key, err.message, err);
    throw err;
  }
  // a residential day is stamped at midnight of its date: in the system's zone, else UTC
  const zone = (await deps.catalog.zoneOf(parsed.ssId)) ?? (residential ? UTC_ZONE : null);
  const task: StageTask = {
    key,
    etag: obj.etag,
    format: parsed.format,
    ssId: parsed.ssId,
    day: parsed.day,
    bytes,
    dictionary,
    zone,
    ...(residential ? { residential } : {}),
  };
  const { manifest, file } = await (deps.runStage ?? stageReadings)(task);
  if (file) manifest.staged = await deps.staging.write(derivedId('staged', key, obj.etag), file);
  return manifest;
}
