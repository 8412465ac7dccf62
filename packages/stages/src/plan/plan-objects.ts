import { mapConcurrent, type PvdataFormat } from '@pv-pipeline/core';
import { METRICS_PREFIX, type ObjectStore, parseSystemFolder, pvdataRootPrefix } from '@pv-pipeline/pvdaq';
import type { Sink } from '@pv-pipeline/sinks';
import type { RunRequest } from '../run/run-request.js';
import { listPage, runPages } from './plan-pages.js';
import { DEFAULT_PART_BYTES, retiredPrizeParts } from './plan-prize.js';
import type { PlannedObject } from './planned-object.js';

/** What the planner found. */
export interface Plan {
  /** New or changed objects, in key order. */
  toLoad: PlannedObject[];
  /** Objects whose (key, ETag) is already in the ledger. */
  skipped: PlannedObject[];
  /** Systems that had at least one object in range. */
  systems: number[];
}

/** Options of {@link planObjects} and {@link listRunObjects}. */
export interface PlanOptions {
  /** Listing requests in flight at once. @defaultValue 8 */
  listConcurrency?: number;
  /** Largest byte range of a prize CSV transformed as one job. @defaultValue 16 MiB */
  partBytes?: number;
}

/**
 * Lists the objects of a run page by page (see {@link runPages}), never the
 * whole bucket, a few pages at once. Returns them in key order with the
 * systems that had any.
 */
export async function listRunObjects(
  store: ObjectStore,
  req: RunRequest,
  options: PlanOptions = {},
): Promise<{ objects: PlannedObject[]; systems: number[]; listedSystems: number[] }> {
  const pages = await runPages(store, req);
  const partBytes = options.partBytes ?? DEFAULT_PART_BYTES;
  const perPage = await mapConcurrent(pages, options.listConcurrency ?? 8, (page) =>
    listPage(store, req, page, partBytes),
  );
  const objects = perPage.flat().sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const found = [...new Set(objects.map((o) => o.ssId))].sort((a, b) => a - b);
  const listedSystems =
    req.systems === 'all' ? [...new Set(pages.map((p) => p.ssId))].sort((a, b) => a - b) : req.systems;
  return { objects, systems: found, listedSystems };
}

/**
 * Splits listed objects into new-or-changed and already-loaded (same key and
 * ETag in the ledger). The ledger's parts of listed prize files that the
 * listing no longer has are added to `toLoad` as retired parts (see
 * {@link retiredPrizeParts}); for that the ledger map must hold every prize key
 * of the run's systems, not only the listed ones.
 */
export function splitByLedger(
  objects: readonly PlannedObject[],
  ledger: ReadonlyMap<string, string>,
): Pick<Plan, 'toLoad' | 'skipped'> {
  const toLoad: PlannedObject[] = [];
  const skipped: PlannedObject[] = [];
  for (const o of objects) (ledger.get(o.key) === o.etag ? skipped : toLoad).push(o);
  toLoad.push(...retiredPrizeParts(objects, ledger));
  return { toLoad, skipped };
}

/** Lists a run's objects and splits them by the sink's ledger (the inline planner). */
export async function planObjects(
  store: ObjectStore,
  sink: Pick<Sink, 'ledgerEtags'>,
  req: RunRequest,
  options: PlanOptions = {},
): Promise<Plan> {
  const { objects, systems, listedSystems } = await listRunObjects(store, req, options);
  const ledger = await sink.ledgerEtags({ ssIds: listedSystems, ...ledgerDays(req) });
  return { ...splitByLedger(objects, ledger), systems };
}

/**
 * The ledger days to read for a run: its range, or every day for prize data
 * (whole files, whose ledger rows carry the day of their first reading).
 */
export function ledgerDays(req: Pick<RunRequest, 'from' | 'to' | 'format'>): { from: string; to: string } {
  return req.format === 'prize' ? { from: '1970-01-01', to: '9999-12-31' } : { from: req.from, to: req.to };
}

/**
 * System ids for `systems: 'all'`: those with a folder under `{format}/pvdata/`
 * plus those with a metrics dictionary (one delimiter listing each). The
 * dictionaries make the list complete even where an S3-compatible server
 * leaves deep "folders" out of CommonPrefixes (s3rver does).
 */
export async function listSystems(store: ObjectStore, format: PvdataFormat): Promise<number[]> {
  const [data, metrics] = await Promise.all([
    store.listChildren(pvdataRootPrefix(format)),
    store.listChildren(METRICS_PREFIX),
  ]);
  const ids = new Set<number>();
  for (const p of data.prefixes) {
    const id = parseSystemFolder(p);
    if (id !== null) ids.add(id);
  }
  for (const o of metrics.objects) {
    const m = /metrics__system_(\d+)__part\d+\.parquet$/.exec(o.key);
    if (m) ids.add(Number(m[1]));
  }
  return [...ids].sort((a, b) => a - b);
}
