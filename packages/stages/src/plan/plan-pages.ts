import { mapConcurrent, type PvdataFormat } from '@pv-pipeline/core';
import {
  listPrizeFolders,
  monthsInRange,
  type ObjectStore,
  parsePvdataKey,
  parseYearFolder,
  partKey,
  prizeDataPrefix,
  pvdataMonthPrefix,
  pvdataSystemPrefix,
  pvdataYearPrefix,
  splitByteRanges,
} from '@pv-pipeline/pvdaq';
import type { RunRequest } from '../run/run-request.js';
import { listSystems } from './plan-objects.js';
import type { PlannedObject } from './planned-object.js';

/**
 * One listing prefix of a run: a system's `year=` folder (when the range
 * covers the whole year) or `month=` folder, or a prize system's `data/`
 * folder. A run is planned page by page, so that no step holds more than one
 * page's objects however large the run.
 */
export interface PlanPage {
  ssId: number;
  prefix: string;
}

/**
 * The pages of a run, in order: per system, its years or months in range
 * (daily formats), or its prize `data/` folder. One listing call resolves
 * `systems: 'all'`, and one per system names the years it has data of, so
 * that a long range makes no page (and no listing call) for an empty year;
 * the pages themselves are not listed here.
 */
export async function runPages(store: ObjectStore, req: RunRequest): Promise<PlanPage[]> {
  if (req.format === 'prize') {
    const wanted = req.systems === 'all' ? null : new Set(req.systems);
    return (await listPrizeFolders(store))
      .filter((f) => !wanted || wanted.has(f.ssId))
      .map((f) => ({ ssId: f.ssId, prefix: prizeDataPrefix(f) }));
  }
  const format = req.format;
  const systems = req.systems === 'all' ? await listSystems(store, format) : [...new Set(req.systems)];
  const years = await mapConcurrent(systems, YEAR_LISTINGS, (ssId) => yearsWithData(store, format, ssId));
  return systems.flatMap((ssId, i) =>
    pvdataPrefixes(format, ssId, req, years[i] ?? null).map((prefix) => ({ ssId, prefix })),
  );
}

/** Systems whose year folders are listed at once. */
const YEAR_LISTINGS = 8;

/**
 * The years a system has a `year=` folder for (one delimited listing), or
 * null when the listing names none: an absent folder, or a server that does
 * not report the common prefixes of deeper keys (s3rver): then every year in
 * range is a page, as if all had data.
 */
async function yearsWithData(store: ObjectStore, format: PvdataFormat, ssId: number): Promise<Set<number> | null> {
  const { prefixes } = await store.listChildren(pvdataSystemPrefix(format, ssId));
  const years = new Set(prefixes.map(parseYearFolder).filter((y): y is number => y !== null));
  return years.size > 0 ? years : null;
}

/**
 * The objects of one page in key order: daily objects within the run's days,
 * or the byte-range parts (at most `partBytes` each) of a prize folder's CSVs.
 */
export async function listPage(
  store: ObjectStore,
  req: RunRequest,
  page: PlanPage,
  partBytes: number,
): Promise<PlannedObject[]> {
  const out: PlannedObject[] = [];
  for await (const info of store.listObjects(page.prefix)) {
    if (req.format === 'prize') {
      // other files in data/ (notes, PDFs) are not data
      if (!/\.csv$/i.test(info.key)) continue;
      for (const range of splitByteRanges(info.size, partBytes)) {
        out.push({
          key: partKey(info.key, range),
          etag: info.etag,
          size: info.size === 0 ? 0 : range.end - range.start + 1,
          ...(info.lastModified ? { lastModified: info.lastModified } : {}),
          ...(info.fileVersion ? { fileVersion: info.fileVersion } : {}),
          format: 'prize',
          ssId: page.ssId,
          day: null,
        });
      }
      continue;
    }
    if (info.key.endsWith('/')) continue; // folder marker
    let day: string | null = null;
    let ssId = page.ssId;
    try {
      const k = parsePvdataKey(info.key);
      day = k.day;
      ssId = k.ssId;
    } catch {
      // outside the layout: planned anyway so that it fails with its reason
    }
    if (day !== null && (day < req.from || day > req.to)) continue;
    out.push({ ...info, format: req.format, ssId, day });
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * A system's listing prefixes for a day range, in the years it has data of:
 * whole `year=` folders where the range covers the year.
 */
function pvdataPrefixes(
  format: PvdataFormat,
  ssId: number,
  req: Pick<RunRequest, 'from' | 'to'>,
  years: ReadonlySet<number> | null,
): string[] {
  const months = monthsInRange(req.from, req.to);
  const fromYear = Number(req.from.slice(0, 4));
  const toYear = Number(req.to.slice(0, 4));
  const prefixes: string[] = [];
  for (let y = fromYear; y <= toYear; y++) {
    if (years && !years.has(y)) continue;
    const whole = req.from <= `${y}-01-01` && req.to >= `${y}-12-31`;
    if (whole) prefixes.push(pvdataYearPrefix(format, ssId, y));
    else for (const m of months.filter((x) => x.year === y)) prefixes.push(pvdataMonthPrefix(format, ssId, y, m.month));
  }
  return prefixes;
}
