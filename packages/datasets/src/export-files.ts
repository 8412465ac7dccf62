import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { ExportFormat } from './export-options.js';
import { text } from './frames.js';

/** A file of an export, as the manifest lists it. */
export interface ExportFile {
  /** Relative to the export directory, `/`-separated. */
  path: string;
  sha256: string;
  bytes: number;
  /** Data rows (data files only). */
  rows?: number;
}

/** The sha256 of a file, streamed. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Metadata of a file's columns: their units and aggregations (sensor columns only). */
export interface ColumnMetadata {
  units: Record<string, string | null>;
  aggregations: Record<string, string>;
}

/**
 * Writes the rows of a query as one data file: Parquet (zstd) by DuckDB's
 * COPY, the units and aggregations of its columns in the file's key-value
 * metadata (`pv_pipeline:units`, `pv_pipeline:aggregations`, JSON); or an
 * Arrow IPC file, converted from that Parquet, with each sensor column's
 * `unit` and `aggregation` in its field metadata.
 */
export async function writeDataFile(
  conn: DuckDBConnection,
  query: string,
  file: string,
  format: ExportFormat,
  meta: ColumnMetadata,
): Promise<void> {
  const parquet = format === 'parquet' ? file : `${file}.parquet`;
  const kv = `{'pv_pipeline:units': ${text(JSON.stringify(meta.units))}, 'pv_pipeline:aggregations': ${text(JSON.stringify(meta.aggregations))}}`;
  await conn.run(`COPY (${query}) TO ${text(parquet)} (FORMAT parquet, COMPRESSION zstd, KV_METADATA ${kv})`);
  if (format === 'arrow') {
    try {
      await writeFile(file, await arrowWithFieldMetadata(await readFile(parquet), meta));
    } finally {
      await rm(parquet, { force: true });
    }
  }
}

/** A Parquet file's table as an Arrow IPC file whose sensor fields carry their unit and aggregation. */
async function arrowWithFieldMetadata(parquet: Uint8Array, meta: ColumnMetadata): Promise<Uint8Array> {
  // loaded only for Arrow exports: the Parquet path needs neither
  const [arrow, pw] = await Promise.all([import('apache-arrow'), import('parquet-wasm/node')]);
  const table = arrow.tableFromIPC(pw.readParquet(parquet).intoIPCStream());
  const fields = table.schema.fields.map((f) => {
    const agg = meta.aggregations[f.name];
    if (agg === undefined) return f;
    const units = meta.units[f.name];
    const m = new Map(f.metadata);
    if (units) m.set('unit', units);
    m.set('aggregation', agg);
    return new arrow.Field(f.name, f.type, f.nullable, m);
  });
  const schema = new arrow.Schema(fields, table.schema.metadata);
  const batches = table.batches.map((b) => new arrow.RecordBatch(schema, b.data));
  return arrow.tableToIPC(new arrow.Table(schema, batches), 'file');
}

/** Lists a written file: its hash and size (and rows, for data files). */
export async function describeFile(root: string, rel: string, rows?: number): Promise<ExportFile> {
  const full = `${root}/${rel}`;
  return {
    path: rel,
    sha256: await sha256File(full),
    bytes: (await stat(full)).size,
    ...(rows === undefined ? {} : { rows }),
  };
}
