import { BadInputError, derivedId, type StagedManifest } from '@pv-pipeline/core';
import {
  LocalTimeConverter,
  linesOfRange,
  type PrizeCsvStats,
  parsePartKey,
  parsePrizeKey,
  readPrizeCsv,
  readPrizeHeader,
  stagedParquetStream,
} from '@pv-pipeline/pvdaq';
import type { PlannedObject } from './plan-objects.js';
import type { TransformDeps } from './transform-object.js';

/** The day a prize part's ledger row is filed under when it has no readings. */
const NO_READINGS_DAY = '1970-01-01';

/**
 * The manifest of a retired prize part (see retiredPrizeParts): no rows, so
 * that its commit deletes what the part loaded before.
 */
export function retiredPartManifest(obj: PlannedObject): StagedManifest {
  return {
    key: obj.key,
    etag: obj.etag,
    ss_id: obj.ssId,
    day: NO_READINGS_DAY,
    format: 'prize',
    rows: 0,
    staged: null,
    bytes: 0,
    minTimestamp: null,
    maxTimestamp: null,
    dropped: { missing: 0, duplicate: 0 },
  };
}

/**
 * The transform stage for one prize CSV, or one byte range of it
 * (`{key}#bytes=a-b`): read the header with a small ranged GET, stream the
 * range's whole lines, parse and normalize them in batches, and stream the
 * rows into the staged Parquet file. Memory stays flat whatever the object's
 * size; every failure names the part's key.
 */
export async function transformPrizePart(obj: PlannedObject, deps: TransformDeps): Promise<StagedManifest> {
  const sourceKey = obj.key;
  const { key, range } = parsePartKey(sourceKey);
  const rename = (err: unknown): never => {
    if (err instanceof BadInputError && err.input !== sourceKey) throw new BadInputError(sourceKey, err.reason, err);
    throw err;
  };
  const { ssId } = (() => {
    try {
      return parsePrizeKey(key);
    } catch (err) {
      return rename(err);
    }
  })();
  const zoneSpec = await deps.catalog.zoneOf(ssId);
  // every read is pinned to the listed version, so a file rewritten mid-run cannot mix two versions' lines
  const header = await readPrizeHeader(deps.store, key, deps.catalog.prizeUnits(ssId), obj.etag).catch(rename);
  const firstPart = !range || range.start === 0;
  const stream = await deps.store
    .getStream(
      key,
      firstPart
        ? { ifMatch: obj.etag }
        : { range: { start: range.start - 1, end: Number.MAX_SAFE_INTEGER }, ifMatch: obj.etag },
    )
    .catch(rename);
  const stats: PrizeCsvStats = {
    lines: 0,
    rows: 0,
    missing: 0,
    duplicateLines: 0,
    minTimestamp: null,
    maxTimestamp: null,
  };
  const batches = readPrizeCsv(
    linesOfRange(stream as AsyncIterable<Uint8Array>, range),
    {
      key: sourceKey,
      ssId,
      header,
      withHeader: firstPart,
      zone: zoneSpec ? new LocalTimeConverter(zoneSpec) : null,
    },
    stats,
  );
  let staged: { ref: string; bytes: number } | null = null;
  try {
    staged = await deps.staging.writeStream(derivedId('staged', sourceKey, obj.etag), stagedParquetStream(batches));
  } finally {
    stream.destroy();
  }
  if (stats.rows === 0) {
    await deps.staging.remove([staged.ref]);
    staged = null;
  }
  const day =
    stats.minTimestamp === null ? NO_READINGS_DAY : new Date(stats.minTimestamp / 1000).toISOString().slice(0, 10);
  return {
    key: sourceKey,
    etag: obj.etag,
    ss_id: ssId,
    day,
    format: 'prize',
    rows: stats.rows,
    staged: staged?.ref ?? null,
    bytes: staged?.bytes ?? 0,
    minTimestamp: stats.minTimestamp === null ? null : String(stats.minTimestamp),
    maxTimestamp: stats.maxTimestamp === null ? null : String(stats.maxTimestamp),
    dropped: { missing: stats.missing, duplicate: stats.duplicateLines },
  };
}
