import { BadInputError, type PvdataFormat } from '@pv-pipeline/core';

/**
 * The OEDI PVDAQ key layout, relative to the PVDAQ root (`s3://oedi-data-lake/pvdaq`):
 *
 * ```
 * parquet/pvdata/system_id={id}/year={YYYY}/month={M}/day={D}/system_{id}__date_{YYYY}_{MM}_{DD}.snappy.000.parquet
 * csv/pvdata/system_id={id}/year={YYYY}/month={M}/day={D}/system_{id}__date_{YYYY}_{MM}_{DD}.csv
 * parquet/metrics/metrics__system_{id}__part000.parquet
 * parquet/{site,system,mount}/*.parquet
 * csv/systems_YYYYMMDD.csv, csv/systems.csv
 * ```
 * Partition values are unpadded (`month=6`); padded values are tolerated.
 */

/** A calendar day, `YYYY-MM-DD`. */
export type IsoDay = string;

/** What a daily pvdata key says about its object. */
export interface PvdataKey {
  format: PvdataFormat;
  ssId: number;
  /** `YYYY-MM-DD` */
  day: IsoDay;
}

const PVDATA_KEY =
  /^(parquet|csv)\/pvdata\/system_id=(\d+)\/year=(\d{4})\/month=(\d{1,2})\/day=(\d{1,2})\/system_(\d+)__date_(\d{4})_(\d{2})_(\d{2})(\.[^/]*)$/;

const pad2 = (n: number) => String(n).padStart(2, '0');

/** The prefix holding one system's pvdata for one month, e.g. `csv/pvdata/system_id=4/year=2020/month=1/`. */
export function pvdataMonthPrefix(format: PvdataFormat, ssId: number, year: number, month: number): string {
  return `${pvdataYearPrefix(format, ssId, year)}month=${month}/`;
}

/** The prefix holding one system's pvdata for one year, e.g. `csv/pvdata/system_id=4/year=2020/`. */
export function pvdataYearPrefix(format: PvdataFormat, ssId: number, year: number): string {
  return `${pvdataSystemPrefix(format, ssId)}year=${year}/`;
}

/** The prefix holding all of one system's pvdata, e.g. `csv/pvdata/system_id=4/`. */
export function pvdataSystemPrefix(format: PvdataFormat, ssId: number): string {
  return `${pvdataRootPrefix(format)}system_id=${ssId}/`;
}

/** The prefix under which every system's folder sits, e.g. `parquet/pvdata/`. */
export function pvdataRootPrefix(format: PvdataFormat): string {
  return `${format}/pvdata/`;
}

/** Parses `system_id=123/` (a child prefix name) into 123, or null. */
export function parseSystemFolder(prefix: string): number | null {
  const m = /system_id=(\d+)\/$/.exec(prefix);
  return m ? Number(m[1]) : null;
}

/** Parses `year=2020/` (a child prefix name, or a whole prefix ending in it) into 2020, or null. */
export function parseYearFolder(prefix: string): number | null {
  const m = /(?:^|\/)year=(\d{4})\/$/.exec(prefix);
  return m ? Number(m[1]) : null;
}

/**
 * Parses a daily pvdata key. Throws BadInputError naming the key when it is
 * outside the layout: wrong folder names, a file name whose system or date
 * disagrees with its partitions, an extension that does not fit the format.
 */
export function parsePvdataKey(key: string): PvdataKey {
  const m = PVDATA_KEY.exec(key);
  if (!m) {
    throw new BadInputError(
      key,
      'key outside the PVDAQ layout (expected {parquet|csv}/pvdata/system_id=N/year=YYYY/month=M/day=D/system_N__date_YYYY_MM_DD.{parquet|csv})',
    );
  }
  const [, format, sys, y, mo, d, fileSys, fy, fm, fd, ext] = m as unknown as string[];
  const ssId = Number(sys);
  const year = Number(y);
  const month = Number(mo);
  const dayOfMonth = Number(d);
  if (Number(fileSys) !== ssId) {
    throw new BadInputError(key, `file name names system ${fileSys} but the folder is system_id=${ssId}`);
  }
  if (Number(fy) !== year || Number(fm) !== month || Number(fd) !== dayOfMonth) {
    throw new BadInputError(key, `file name date ${fy}-${fm}-${fd} disagrees with its year/month/day folders`);
  }
  if (month < 1 || month > 12 || dayOfMonth < 1 || dayOfMonth > daysInMonth(year, month)) {
    throw new BadInputError(key, `no such date ${year}-${month}-${dayOfMonth}`);
  }
  const wantExt = format === 'parquet' ? /\.parquet$/ : /\.csv$/;
  if (!wantExt.test(ext ?? '')) {
    throw new BadInputError(key, `a ${format} pvdata key must end in .${format}`);
  }
  return { format: format as PvdataFormat, ssId, day: `${year}-${pad2(month)}-${pad2(dayOfMonth)}` };
}

/** Number of days in a month (1-based). */
export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** Every (year, month) touched by the inclusive day range. */
export function monthsInRange(from: IsoDay, to: IsoDay): Array<{ year: number; month: number }> {
  const [fy, fm] = from.split('-').map(Number) as [number, number];
  const [ty, tm] = to.split('-').map(Number) as [number, number];
  const out: Array<{ year: number; month: number }> = [];
  for (let i = fy * 12 + (fm - 1); i <= ty * 12 + (tm - 1); i++) {
    out.push({ year: Math.floor(i / 12), month: (i % 12) + 1 });
  }
  return out;
}

/** The metrics dictionary of one system. */
export function metricsKey(ssId: number): string {
  return `parquet/metrics/metrics__system_${ssId}__part000.parquet`;
}

/** The per-system metadata JSON (`System`, `Site`, `Mount`, … with `System.timezone_code`). */
export function systemMetadataKey(ssId: number): string {
  return `csv/system_metadata/${ssId}_system_metadata.json`;
}

/** The folder of the metrics dictionaries. */
export const METRICS_PREFIX = 'parquet/metrics/';

/** Folders of the normalized metadata tables read into pv_systems. */
export const METADATA_TABLE_PREFIXES = {
  site: 'parquet/site/',
  system: 'parquet/system/',
  mount: 'parquet/mount/',
} as const;

/** The folder holding the systems index CSVs. */
export const SYSTEMS_INDEX_PREFIX = 'csv/';

/**
 * Picks the newest systems index among keys directly under `csv/`:
 * the highest `systems_YYYYMMDD.csv`, else `systems.csv`, else null.
 */
export function newestSystemsIndexKey(keys: readonly string[]): string | null {
  const dated = keys
    .map((k) => ({ k, m: /^csv\/systems_(\d{8})\.csv$/.exec(k) }))
    .filter((x) => x.m)
    .sort((a, b) => (a.m![1]! < b.m![1]! ? 1 : -1));
  if (dated[0]) return dated[0].k;
  return keys.includes('csv/systems.csv') ? 'csv/systems.csv' : null;
}

/**
 * The 26 named columns of `systems_20250729.csv`, in file order (the real file
 * adds five `Unnamed: N` spreadsheet columns after them).
 */
export const SYSTEMS_INDEX_COLUMNS = [
  'system_id',
  'system_public_name',
  'site_location',
  'timezone_or_utc_offset',
  'latitude',
  'longitude',
  'elevation_m',
  'dc_capacity_kW',
  'kg_climate',
  'pvcz_composite',
  'pvcz_t_rack',
  'pvcz_t_roof',
  'pvcz_humidity',
  'pvcz_wind',
  'tracking',
  'type',
  'azimuth',
  'tilt',
  'first_timestamp',
  'last_timestamp',
  'years',
  'number_records',
  'dataset_size_mb',
  'available_sensor_channels',
  'qa_status',
  'qa_issue',
] as const;
