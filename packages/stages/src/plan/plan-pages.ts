import type { PvdataFormat } from '@pv-pipeline/core';
import {
  listPrizeFolders,
  monthsInRange,
  type ObjectStore,
  parsePvdataKey,
  partKey,
  prizeDataPrefix,
  pvdataMonthPrefix,
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
 * `systems: 'all'`; the pages themselves are not listed here.
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
  return systems.flatMap((ssId) => pvdataPrefixes(format, ssId, req).map((prefix) => ({ ssId, prefix })));
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

/** A system's listing prefixes for a day range: whole `year=` folders where the range covers the year. */
function pvdataPrefixes(format: PvdataFormat, ssId: number, req: Pick<RunRequest, 'from' | 'to'>): string[] {
  const months = monthsInRange(req.from, req.to);
  const fromYear = Number(req.from.slice(0, 4));
  const toYear = Number(req.to.slice(0, 4));
  const prefixes: string[] = [];
  for (let y = fromYear; y <= toYear; y++) {
    const whole = req.from <= `${y}-01-01` && req.to >= `${y}-12-31`;
    if (whole) prefixes.push(pvdataMonthPrefix(format, ssId, y, 1).replace(/month=1\/$/, ''));
    else for (const m of months.filter((x) => x.year === y)) prefixes.push(pvdataMonthPrefix(format, ssId, y, m.month));
  }
  return prefixes;
}
