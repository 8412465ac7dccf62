import { BadInputError, derivedId, type StagedManifest } from '@pv-pipeline/core';
import {
  arrowToStagedParquet,
  LocalTimeConverter,
  normalizeReadings,
  type ObjectStore,
  parsePvdataKey,
  readCsvPvdata,
  readingsToArrow,
  readParquetPvdata,
  type SystemCatalog,
} from '@pv-pipeline/pvdaq';
import type { PlannedObject } from './plan-objects.js';
import type { StagingArea } from './staging-area.js';

/** What the transform stage needs. */
export interface TransformDeps {
  store: ObjectStore;
  catalog: SystemCatalog;
  staging: StagingArea;
  /** Largest object transformed, bytes; larger ones fail with that reason. */
  maxObjectBytes: number;
}

/**
 * The transform stage for one daily pvdata object: GET → decode (Parquet long
 * or CSV wide) → join the metrics dictionary → normalize → staged Parquet file.
 * Returns the manifest the loader commits. Every failure names the object key.
 */
export async function transformObject(obj: PlannedObject, deps: TransformDeps): Promise<StagedManifest> {
  const key = obj.key;
  const parsed = parsePvdataKey(key);
  let dictionary: Awaited<ReturnType<SystemCatalog['dictionary']>>;
  try {
    dictionary = await deps.catalog.dictionary(parsed.ssId);
  } catch (err) {
    if (err instanceof BadInputError) throw new BadInputError(key, err.message, err);
    throw err;
  }
  const spec = deps.catalog.zone(parsed.ssId);
  const bytes = await deps.store.getBytes(key, { maxBytes: deps.maxObjectBytes });
  const raw =
    parsed.format === 'parquet'
      ? readParquetPvdata(key, bytes)
      : readCsvPvdata(key, bytes, {
          ssId: parsed.ssId,
          knownMetricIds: new Set(dictionary.byMetricId.keys()),
        });
  const readings = normalizeReadings(raw, {
    key,
    ssId: parsed.ssId,
    dictionary,
    zone: spec ? new LocalTimeConverter(spec) : null,
  });
  let staged: string | null = null;
  let size = 0;
  let minTs: number | null = null;
  let maxTs: number | null = null;
  if (readings.length > 0) {
    const file = arrowToStagedParquet(readingsToArrow(readings));
    staged = await deps.staging.write(derivedId('staged', key, obj.etag), file);
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
    etag: obj.etag,
    ss_id: parsed.ssId,
    day: parsed.day,
    format: parsed.format,
    rows: readings.length,
    staged,
    bytes: size,
    minTimestamp: minTs === null ? null : String(minTs),
    maxTimestamp: maxTs === null ? null : String(maxTs),
    dropped: { missing: readings.missing, duplicate: readings.duplicates },
  };
}
