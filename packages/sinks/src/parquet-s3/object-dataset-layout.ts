import { randomBytes } from 'node:crypto';
import { derivedId, type StagedManifest } from '@pv-pipeline/core';
import { PV_INGEST_LEDGER, type TableDef } from '@pv-pipeline/schema';
import { DAY } from '../parquet/staged-objects.js';

/**
 * Where things are in a Parquet dataset on object storage (keys relative to
 * the dataset prefix). S3 has no rename, so no file is ever replaced in place:
 *
 * ```
 * _pv_dataset.json                                   the marker: a pv-pipeline dataset
 * pv_readings/ss_id={id}/year={YYYY}/month={M}/part-{derivedId(key)}-{nonce}.parquet
 * pv_ingest_ledger/ledger-{YYYYMMDDTHHMMSSffffffZ}-{derivedId(run, keys)}.parquet
 * pv_systems/pv_systems.parquet, pv_sensors/…, pv_runs/…, pv_quality_daily/…
 * ```
 *
 * A readings file has a name of its own each time it is written, and is
 * referenced by the `file` column of its object's ledger row; the ledger file
 * of a batch is the batch's commit point. Whole-table files are replaced by one
 * PUT (a reader sees the old or the new object, never a part).
 */

/** The marker object written by `init()`; a dataset without it is not opened for reading. */
export const DATASET_MARKER = '_pv_dataset.json';

/** The ledger of a dataset on object storage: `pv_ingest_ledger`'s columns, then where each object's rows are. */
export const OBJECT_LEDGER: TableDef = {
  ...PV_INGEST_LEDGER,
  columns: [
    ...PV_INGEST_LEDGER.columns,
    {
      name: 'file',
      type: 'STRING',
      nullable: true,
      description: "the object's readings file, relative to the dataset root (null when it has no rows)",
    },
    {
      name: 'file_rows',
      type: 'INT64',
      nullable: true,
      description: 'rows of that file (fewer than rows once a later object took some of its readings)',
    },
  ],
};

/** Folder of a table, with its trailing slash. */
export function tableFolder(table: TableDef): string {
  return `${table.name}/`;
}

/** Key of a whole-table file (`pv_systems`, `pv_sensors`, `pv_runs`, `pv_quality_daily`). */
export function tableFileKey(table: TableDef): string {
  return `${table.name}/${table.name}.parquet`;
}

/** A fresh, never-reused key for a readings file of object `m` (filed under the month of its day). */
export function readingsFileKey(m: Pick<StagedManifest, 'key' | 'ss_id' | 'day'>): string {
  const [, year, month] = DAY.exec(m.day)!;
  const nonce = randomBytes(8).toString('hex');
  return `pv_readings/ss_id=${m.ss_id}/year=${year}/month=${Number(month)}/part-${derivedId(m.key)}-${nonce}.parquet`;
}

/** The key of a batch's ledger file: names sort by commit time, so a reader lists only what is new. */
export function ledgerFileKey(loadedAt: string, runId: string, keys: readonly string[]): string {
  const stamp = loadedAt.replace(/[-:.]/g, ''); // 20261206T052000123456Z
  return `${tableFolder(PV_INGEST_LEDGER)}ledger-${stamp}-${derivedId(runId, ...keys)}.parquet`;
}
