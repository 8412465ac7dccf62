import { BadInputError, derivedId, noneDropped, type StagedManifest } from '@pv-pipeline/core';
import {
  emptyPrizeCsvStats,
  LocalTimeResolver,
  linesOfRange,
  type PrizeCsvStats,
  type PrizeHeader,
  parsePartKey,
  parsePrizeKey,
  pinTo,
  readPrizeCsv,
  readPrizeHeader,
  type TimeZoneSpec,
  zoneSourcesOf,
} from '@pv-pipeline/pvdaq';
import type { PlannedObject } from '../plan/planned-object.js';
import { precedingWallTimes } from './prize-look-back.js';
import { StagedChannelList, stagedParquetStream } from './staged-parquet.js';
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
    dropped: noneDropped(),
    droppedBySensor: {},
    ...partOrder(obj.key, obj.etag),
  };
}

/**
 * The parts of one version of a file form a group: where two parts deliver
 * the same reading, the later in the file (the higher byte offset) keeps it,
 * whatever order they are committed in, so the result does not depend on the
 * part size. Another version of the file is another group (its rows give way
 * to the new version's as they commit, part by part).
 */
function partOrder(sourceKey: string, etag: string): { group: string; order: number } {
  const { key, range } = parsePartKey(sourceKey);
  return { group: `${key}@${etag}`, order: range?.start ?? 0 };
}

/**
 * The transform stage for one prize CSV, or one byte range of it
 * (`{key}#bytes=a-b`): read the header with a small ranged GET, stream the
 * range's whole lines, apply the reading rules in batches, and stream the rows
 * into the staged Parquet file. Memory stays flat whatever the object's size.
 *
 * Local times are localized in file order across the whole file: a range
 * whose first line falls in the repeated fall-back hour first reads the lines
 * before it back to the last one outside that hour (see
 * {@link precedingWallTimes}), so that it knows whether the clock already
 * stepped back. A range with lines not later than those before them (a
 * repeated reading among them) is read a second time, holding those instants
 * back until the end, so that the last occurrence wins. Every failure names
 * the part's key.
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
  const zone = await deps.catalog.zoneOf(ssId);
  // every read is pinned to the listed version, so a file rewritten mid-run cannot mix two versions' lines
  const header = await readPrizeHeader(deps.store, key, deps.catalog.prizeUnits(ssId), pinTo(obj)).catch(rename);
  const dictionary = await deps.catalog.channels(ssId).catch(rename);
  const name = derivedId('staged', sourceKey, obj.etag);
  const pass = async (holdInstants?: ReadonlySet<number>) => {
    const stats = emptyPrizeCsvStats();
    const channels = new StagedChannelList();
    const staged = await streamPart({
      deps,
      obj,
      key,
      range,
      ssId,
      header,
      dictionary,
      zone,
      stats,
      name,
      holdInstants,
      channels,
    });
    return { stats, staged, channels };
  };
  let { stats, staged, channels } = await pass().catch(rename);
  if (stats.late.length > 0) ({ stats, staged, channels } = await pass(new Set(stats.late)).catch(rename));
  if (stats.rows === 0) {
    if (staged) await deps.staging.remove([staged.ref]);
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
    ...(stats.rows > 0 ? { channels: channels.channels } : {}),
    ...(stats.rows > 0 && deps.channelIndex ? { layout: 'channel_index' as const } : {}),
    dropped: stats.dropped,
    droppedBySensor: stats.droppedBySensor,
    ...partOrder(sourceKey, obj.etag),
  };
}

/** One pass over a part: stream its lines through the reader into the staged file `name`. */
async function streamPart(p: {
  deps: TransformDeps;
  obj: PlannedObject;
  key: string;
  range: { start: number; end: number } | null;
  ssId: number;
  header: PrizeHeader;
  dictionary: Awaited<ReturnType<TransformDeps['catalog']['channels']>>;
  zone: TimeZoneSpec | null;
  stats: PrizeCsvStats;
  name: string;
  holdInstants: ReadonlySet<number> | undefined;
  /** Filled with the channels of the rows staged, in the order of their positions. */
  channels: StagedChannelList;
}): Promise<{ ref: string; bytes: number } | null> {
  const { deps, obj, key, range, header } = p;
  const firstPart = !range || range.start === 0;
  const stream = await deps.store.getStream(
    key,
    firstPart ? pinTo(obj) : { range: { start: range.start - 1, end: Number.MAX_SAFE_INTEGER }, ...pinTo(obj) },
  );
  const resolver = p.zone ? new LocalTimeResolver(p.zone) : null;
  const batches = readPrizeCsv(
    linesOfRange(stream as AsyncIterable<Uint8Array>, range),
    {
      key: obj.key,
      ssId: p.ssId,
      header,
      dictionary: p.dictionary,
      withHeader: firstPart,
      zone: resolver,
      zoneSources: zoneSourcesOf(p.ssId),
      ...(resolver && !firstPart
        ? {
            lookBack: () =>
              precedingWallTimes(deps.store, {
                key,
                etag: obj.etag,
                before: range.start,
                header,
                clock: resolver.clock,
              }),
          }
        : {}),
      ...(p.holdInstants ? { holdInstants: p.holdInstants } : {}),
      // stagedParquetStream has a batch in wasm memory before it asks for the next
      reuseBatchBuffers: true,
    },
    p.stats,
  );
  try {
    return await deps.staging.writeStream(p.name, stagedParquetStream(batches, p.channels, deps.channelIndex === true));
  } finally {
    stream.destroy();
  }
}
