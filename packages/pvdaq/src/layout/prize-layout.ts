import { BadInputError } from '@pv-pipeline/core';
import type { ObjectStore } from '../store/object-store.js';

/**
 * The 2023 Solar Data Prize layout, relative to the PVDAQ root. One folder per
 * system, not partitioned by date:
 *
 * ```
 * 2023-solar-data-prize/{id}_OEDI/data/*.csv
 * 2023-solar-data-prize/{id}_OEDI/metadata/{id}_system_metadata.json
 * ```
 * Some folders carry a qualifier before `_OEDI` (`7333_5_min_OEDI` holds the
 * 5-minute resample published as system 7334).
 */
export const PRIZE_PREFIX = '2023-solar-data-prize/';

/**
 * Folders whose name does not start with the system id they hold: the 5-minute
 * copy of 7333 is system 7334 (DOC lists 7334; third-party code reads `7333_5_min_OEDI`).
 * Keeping it apart from 7333 keeps its averaged readings off the 10-second keys.
 */
const FOLDER_ALIASES: Readonly<Record<string, number>> = { '7333_5_min': 7334 };

/** One system folder of the prize data. */
export interface PrizeFolder {
  ssId: number;
  /** The folder prefix, e.g. `2023-solar-data-prize/2107_OEDI/`. */
  prefix: string;
}

/** A prize data key, split. */
export interface PrizeKey extends PrizeFolder {
  /** File name within `data/` (may contain spaces). */
  file: string;
}

const FOLDER = /^2023-solar-data-prize\/((\d+)(?:_([^/]*?))?)_OEDI\/$/i;
const DATA_KEY = /^(2023-solar-data-prize\/(\d+)(?:_([^/]*?))?_OEDI\/)data\/([^/]+)$/i;

function folderId(stem: string, id: string): number {
  return FOLDER_ALIASES[stem.toLowerCase()] ?? Number(id);
}

/** Parses a child prefix of {@link PRIZE_PREFIX} (`2023-solar-data-prize/2107_OEDI/`), or null. */
export function parsePrizeFolder(prefix: string): PrizeFolder | null {
  const m = FOLDER.exec(prefix);
  if (!m) return null;
  return { ssId: folderId(m[1]!, m[2]!), prefix };
}

/** Whether a key lies under the prize folder. */
export function isPrizeKey(key: string): boolean {
  return key.startsWith(PRIZE_PREFIX);
}

/**
 * Parses `2023-solar-data-prize/{id}[_qualifier]_OEDI/data/{file}.csv`.
 * Throws BadInputError naming the key when it is outside that layout.
 */
export function parsePrizeKey(key: string): PrizeKey {
  const m = DATA_KEY.exec(key);
  if (!m || !/\.csv$/i.test(m[4]!)) {
    throw new BadInputError(
      key,
      'key outside the Solar Data Prize layout (expected 2023-solar-data-prize/{id}_OEDI/data/{file}.csv)',
    );
  }
  const stem = m[1]!.slice(PRIZE_PREFIX.length, -'_OEDI/'.length);
  return { ssId: folderId(stem, m[2]!), prefix: m[1]!, file: m[4]! };
}

/** The data folder of a system folder. */
export function prizeDataPrefix(folder: PrizeFolder): string {
  return `${folder.prefix}data/`;
}

/** The metadata folder of a system folder. */
export function prizeMetadataPrefix(folder: PrizeFolder): string {
  return `${folder.prefix}metadata/`;
}

/** An inclusive byte range of an object. */
export interface ByteRange {
  start: number;
  end: number;
}

const PART = /^(.*)#bytes=(\d+)-(\d+)$/;

/**
 * The source key of one byte range of a large object: `{key}#bytes={start}-{end}`.
 * Each part is planned, transformed, committed and recorded in the ledger on
 * its own, so that several workers share one file.
 */
export function partKey(key: string, range: ByteRange): string {
  return `${key}#bytes=${range.start}-${range.end}`;
}

/** Splits a part key into the object key and its range; a key without a range covers the whole object. */
export function parsePartKey(sourceKey: string): { key: string; range: ByteRange | null } {
  const m = PART.exec(sourceKey);
  if (!m) return { key: sourceKey, range: null };
  const range = { start: Number(m[2]), end: Number(m[3]) };
  if (range.end < range.start) throw new BadInputError(sourceKey, 'byte range ends before it starts');
  return { key: m[1]!, range };
}

/**
 * Byte ranges of at most `partBytes` covering an object of `size` bytes (one
 * range for a small or empty object). Lines are assigned to the range their
 * first byte falls in, so the ranges need not be aligned here.
 */
export function splitByteRanges(size: number, partBytes: number): ByteRange[] {
  if (size <= partBytes) return [{ start: 0, end: Math.max(0, size - 1) }];
  const out: ByteRange[] = [];
  for (let start = 0; start < size; start += partBytes) out.push({ start, end: Math.min(size, start + partBytes) - 1 });
  return out;
}

/**
 * The prize system folders under the root: the child prefixes of
 * {@link PRIZE_PREFIX}, or, where a server leaves folders holding only
 * sub-folders out of CommonPrefixes (s3rver does), the folders of a recursive
 * listing (the prize tree holds a few thousand objects at most).
 */
export async function listPrizeFolders(store: ObjectStore): Promise<PrizeFolder[]> {
  const { prefixes } = await store.listChildren(PRIZE_PREFIX);
  let candidates = prefixes;
  if (candidates.length === 0) {
    const seen = new Set<string>();
    for await (const o of store.listObjects(PRIZE_PREFIX)) {
      const slash = o.key.indexOf('/', PRIZE_PREFIX.length);
      if (slash > 0) seen.add(o.key.slice(0, slash + 1));
    }
    candidates = [...seen];
  }
  return candidates
    .map(parsePrizeFolder)
    .filter((f) => f !== null)
    .sort((a, b) => (a.prefix < b.prefix ? -1 : 1));
}
