import { DEFAULTS } from '@pv-pipeline/core';
import { isPrizeKey, listPrizeFolders, type ObjectStore, parsePartKey } from '@pv-pipeline/pvdaq';
import type { PlannedObject } from './planned-object.js';

/** Default largest byte range of a prize CSV transformed as one job (16 MiB). */
export const DEFAULT_PART_BYTES = DEFAULTS.partMb * 1024 * 1024;

/** A part size given in MiB (`--part-mb`, `PV_PART_MB`; fractions allowed) in bytes, at least 1 KiB. */
export function partBytesFromMb(mb: number): number {
  return Math.max(1024, Math.round(mb * 1024 * 1024));
}

/** System ids of the prize folders (for `systems: 'all'`). */
export async function listPrizeSystems(store: ObjectStore): Promise<number[]> {
  const ids = (await listPrizeFolders(store)).map((f) => f.ssId);
  return [...new Set(ids)].sort((a, b) => a - b);
}

/** ETag prefix of the ledger row of a retired part (see {@link retiredPrizeParts}). */
export const RETIRED_ETAG_PREFIX = 'retired:';

/**
 * Parts of listed prize files that the ledger holds but the listing no longer
 * has: a file that shrank by a whole range, a small file that grew (its one
 * range is named by its size), or parts cut at another `--part-mb`. Each is
 * planned as an empty object (`retired`) whose commit deletes the rows it
 * loaded before, so that those readings are neither kept twice (next to the
 * file's new parts) nor kept after they left the file. Its ledger row then
 * carries `retired:{file ETag}`, so a retired part is retired once.
 */
export function retiredPrizeParts(
  listed: readonly PlannedObject[],
  ledger: ReadonlyMap<string, string>,
): PlannedObject[] {
  const listedKeys = new Set(listed.map((o) => o.key));
  const files = new Map<string, PlannedObject>();
  for (const o of listed) if (o.format === 'prize') files.set(parsePartKey(o.key).key, o);
  const out: PlannedObject[] = [];
  for (const [key, etag] of ledger) {
    if (listedKeys.has(key) || etag.startsWith(RETIRED_ETAG_PREFIX) || !isPrizeKey(key)) continue;
    const file = files.get(safeFileOf(key));
    if (!file) continue;
    out.push({
      key,
      etag: `${RETIRED_ETAG_PREFIX}${file.etag}`,
      size: 0,
      format: 'prize',
      ssId: file.ssId,
      day: null,
      retired: true,
    });
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** The file of a part key; a malformed key (not ours) maps to itself. */
function safeFileOf(key: string): string {
  try {
    return parsePartKey(key).key;
  } catch {
    return key;
  }
}
