import { BadInputError, mapConcurrent } from '@pv-pipeline/core';
import { METRICS_PREFIX, type ObjectStore, pvdataSystemPrefix } from '@pv-pipeline/pvdaq';
import { listPrizeSystems } from './plan-prize.js';

/**
 * The ids among `ids` that the source does not know: not in its catalog
 * (`known`: the systems index, the metadata tables, the prize metadata) and
 * without a data folder of any format (`{parquet,csv}/pvdata/system_id=N/`,
 * or a prize folder). A known system with no data in a run's days or format
 * is not unknown: its run plans nothing, as asked.
 */
export async function unknownSystems(
  store: ObjectStore,
  ids: readonly number[],
  known: ReadonlySet<number>,
): Promise<number[]> {
  const candidates = [...new Set(ids)].filter((id) => !known.has(id)).sort((a, b) => a - b);
  if (candidates.length === 0) return [];
  // data of any format will do (a system with data only in another format than the run's is no typo), or a
  // metrics dictionary; the first key under a folder, not a delimiter listing (some servers list deep folders empty)
  const prize = new Set(await listPrizeSystems(store));
  const dictionaries = new Set<number>();
  for await (const o of store.listObjects(METRICS_PREFIX)) {
    const m = /metrics__system_(\d+)__part\d+\.parquet$/.exec(o.key);
    if (m) dictionaries.add(Number(m[1]));
  }
  const found = await mapConcurrent(candidates, 8, async (id) => {
    if (prize.has(id) || dictionaries.has(id)) return true;
    for (const format of ['parquet', 'csv'] as const) {
      for await (const _ of store.listObjects(pvdataSystemPrefix(format, id))) return true;
    }
    return false;
  });
  return candidates.filter((_, i) => !found[i]);
}

/** A BadInputError naming the unknown systems (as `--systems` / `systems`), or nothing when all are known. */
export function assertKnownSystems(unknown: readonly number[], source: string, option = '--systems'): void {
  if (unknown.length === 0) return;
  throw new BadInputError(
    option,
    `unknown system${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}: not in the catalog of ${source} and no data folder there (pv-pipeline systems lists them)`,
  );
}
