import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import {
  duckdbCreateTable,
  duckdbType,
  PV_INGEST_LEDGER,
  PV_READINGS,
  quoteIdent,
  type TableDef,
} from '@pv-pipeline/schema';
import { sqlString } from '../sql-literal.js';
import { duckdbReader, type WarehouseReader } from '../warehouse-reader.js';
import { openMemoryEngine } from './memory-engine.js';

/** Where a Parquet dataset is and how DuckDB may read it. */
export interface DatasetLocation {
  url: string;
  tables: readonly TableDef[];
  /** The folder of a table: every `*.parquet` file under it is the table's (unless `files` says otherwise). */
  dir: (table: TableDef) => string;
  /**
   * The local files of a table, when they are not all the files of its folder
   * (a dataset on object storage: the files its ledger references).
   * @defaultValue every `*.parquet` file under `dir(table)`
   */
  files?: (table: TableDef) => readonly string[];
  memoryLimit: string;
  threads: number | undefined;
  spillDir: string;
  /** Called when the reader closes (e.g. to remove copies made for it). @defaultValue nothing */
  onClose?: () => Promise<void>;
}

/**
 * A reader over the dataset as it stands: an in-memory DuckDB whose views
 * read the files (`pv_readings` with hive partitioning, the ledger's latest
 * row per object); a table without files is an empty one.
 */
export async function openDatasetReader(d: DatasetLocation): Promise<WarehouseReader> {
  const { instance, conn } = await openMemoryEngine({
    memoryLimit: d.memoryLimit,
    spillDir: d.spillDir,
    threads: d.threads,
  });
  const release = async () => {
    conn.closeSync();
    instance.closeSync();
    await d.onClose?.();
  };
  try {
    for (const table of d.tables) {
      const listed = d.files?.(table);
      const source = listed ? listSource(listed) : await folderSource(d.dir(table), table);
      await conn.run(await viewSql(conn, source, table));
    }
  } catch (err) {
    await release();
    throw err;
  }
  return duckdbReader(d.url, conn, release);
}

/** `read_parquet`'s first argument for every Parquet file of a table's folder (a glob), or null when it has none. */
async function folderSource(dir: string, table: TableDef): Promise<string | null> {
  const files = (await readdir(dir, { recursive: true }).catch(() => [] as string[])).filter((n) =>
    n.endsWith('.parquet'),
  );
  if (files.length === 0) return null;
  return sqlString(path.join(dir, table === PV_READINGS ? '**/*.parquet' : '*.parquet'));
}

/** `read_parquet`'s first argument for a list of files, or null when it is empty. */
function listSource(files: readonly string[]): string | null {
  return files.length === 0 ? null : `[${files.map(sqlString).join(', ')}]`;
}

/** The view (or empty table) of one table over its files (`source`, null: none), in the table's columns and types. */
async function viewSql(conn: DuckDBConnection, source: string | null, table: TableDef): Promise<string> {
  if (source === null) return duckdbCreateTable(table, { primaryKey: false });
  const glob = source;
  const have = new Set(
    (await conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${glob}, union_by_name = true)`))
      .getRowObjectsJS()
      .map((r) => String(r.column_name)),
  );
  // columns a file lacks (written before they existed) read as NULL
  const cols = table.columns
    .map(
      (c) =>
        `${have.has(c.name) ? `CAST(${quoteIdent(c.name)} AS ${duckdbType(c.type)})` : `CAST(NULL AS ${duckdbType(c.type)})`} AS ${quoteIdent(c.name)}`,
    )
    .join(', ');
  const latest =
    table === PV_INGEST_LEDGER
      ? ' QUALIFY row_number() OVER (PARTITION BY source_key ORDER BY loaded_at DESC) = 1'
      : '';
  return `CREATE VIEW ${quoteIdent(table.name)} AS SELECT ${cols} FROM read_parquet(${glob}, union_by_name = true${
    table === PV_READINGS ? ', hive_partitioning = true' : ''
  })${latest}`;
}
