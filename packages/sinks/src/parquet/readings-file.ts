import { rm } from 'node:fs/promises';
import type { DuckDBConnection } from '@duckdb/node-api';
import { BadInputError, fsyncFile, type StagedManifest } from '@pv-pipeline/core';
import { PV_READINGS } from '@pv-pipeline/schema';
import { sqlString } from '../sql-literal.js';
import { type MemoryEngine, openMemoryEngine } from './memory-engine.js';
import { readingsSelect } from './staged-objects.js';

/** DuckDB error classes that mean the staged file itself is unusable (rather than the disk or the sink). */
const BAD_STAGED = /^(Binder|Conversion|Invalid Input|Constraint|Parser) Error/;

/**
 * Writes the readings file of a Parquet dataset for one object: the rows of
 * `source` (a staged file) as `pv_readings` columns (`source_key` from the
 * manifest, every column cast and checked), sorted by timestamp and sensor,
 * ZSTD, fsync'd. Resolves with the rows written. An unusable staged file is a
 * BadInputError naming the object; nothing is left at `out` on failure.
 */
export async function writeReadingsFile(
  conn: DuckDBConnection,
  m: StagedManifest,
  source: string,
  out: string,
): Promise<number> {
  try {
    const result = await conn.run(
      `COPY (SELECT ${readingsSelect(m)} FROM read_parquet(${sqlString(source)}) ORDER BY "timestamp", sensor)
       TO ${sqlString(out)} (FORMAT parquet, COMPRESSION zstd)`,
    );
    await fsyncFile(out);
    return Number(result.rowsChanged);
  } catch (err) {
    await rm(out, { force: true });
    if (err instanceof Error && BAD_STAGED.test(err.message)) {
      throw new BadInputError(m.key, `staged file ${source}: ${err.message.split('\n')[0]}`, err);
    }
    throw err;
  }
}

/** DuckDB errors that mean a file is not a readable Parquet file (rather than the disk or the sink failing). */
export const BAD_FILE = /^(Invalid Input|IO) Error: .*(parquet|magic|footer|metadata)/i;

/**
 * Checks a staged file a worker wrote in its final form (`layout:
 * 'pv_readings'`, see ReadingsFileWriter) before a sink takes it as it is:
 * readable Parquet, `pv_readings`' columns in order, the manifest's row count
 * (from its footer). Each is a BadInputError naming the object.
 */
export async function checkReadingsFile(conn: DuckDBConnection, m: StagedManifest, staged: string): Promise<void> {
  const columns = await parquetFileColumns(conn, staged).catch((err: Error) => {
    if (BAD_FILE.test(err.message))
      throw new BadInputError(m.key, `staged file ${staged}: ${err.message.split('\n')[0]}`, err);
    throw err;
  });
  expectReadingsFile(m, staged, columns, await parquetFileRows(conn, staged));
}

/**
 * {@link checkReadingsFile} for many files at once: one query over their footers, not two per
 * file. When a file cannot be read, each is checked on its own, so that the error names its object.
 */
export async function checkReadingsFiles(
  conn: DuckDBConnection,
  files: ReadonlyArray<{ m: StagedManifest; staged: string }>,
): Promise<void> {
  if (files.length === 0) return;
  let shapes: Map<string, ParquetShape>;
  try {
    shapes = await parquetFilesShape(
      conn,
      files.map((f) => f.staged),
    );
  } catch (err) {
    if (!(err instanceof Error && BAD_FILE.test(err.message))) throw err;
    for (const { m, staged } of files) await checkReadingsFile(conn, m, staged);
    throw err; // every file read on its own: the batch query failed for another reason
  }
  for (const { m, staged } of files) {
    const shape = shapes.get(staged);
    // a file without row groups says nothing of its columns in the row groups' metadata
    if (shape) expectReadingsFile(m, staged, shape.columns, shape.rows);
    else await checkReadingsFile(conn, m, staged);
  }
}

/** Throws a BadInputError naming the object unless a file has `pv_readings`' columns in order and the manifest's rows. */
function expectReadingsFile(m: StagedManifest, staged: string, columns: readonly string[], rows: number): void {
  const expected = PV_READINGS.columns.map((c) => c.name);
  if (columns.join() !== expected.join()) {
    throw new BadInputError(
      m.key,
      `staged file ${staged} has the columns ${columns.join(', ')}, not pv_readings' ${expected.join(', ')}`,
    );
  }
  if (rows !== m.rows) {
    throw new BadInputError(m.key, `staged file ${staged} has ${rows} rows, its manifest says ${m.rows}`);
  }
}

/** The list literal of some files, each once. */
const fileList = (files: readonly string[]) => `[${[...new Set(files)].map(sqlString).join(', ')}]`;

/** What a Parquet file holds, from its footer. */
export interface ParquetShape {
  /** Its columns' paths, in order. */
  columns: string[];
  rows: number;
}

/** The columns and rows of Parquet files, by file (from their footers); a file without row groups is absent. */
export async function parquetFilesShape(
  conn: DuckDBConnection,
  files: readonly string[],
): Promise<Map<string, ParquetShape>> {
  const reader = await conn.runAndReadAll(
    `SELECT file_name, row_group_id, row_group_num_rows, path_in_schema FROM parquet_metadata(${fileList(files)})
     ORDER BY file_name, row_group_id, column_id`,
  );
  const shapes = new Map<string, ParquetShape>();
  let lastGroup = '';
  for (const [file, group, rows, column] of reader.getRowsJS()) {
    const f = String(file);
    let shape = shapes.get(f);
    if (!shape) {
      shape = { columns: [], rows: 0 };
      shapes.set(f, shape);
    }
    // every row group lists every column: the first one gives the columns, each adds its rows once
    if (Number(group) === 0) shape.columns.push(String(column));
    const thisGroup = `${group} ${f}`;
    if (thisGroup !== lastGroup) shape.rows += Number(rows);
    lastGroup = thisGroup;
  }
  return shapes;
}

/** Column names of a Parquet file, in order (from its footer). */
export async function parquetFileColumns(conn: DuckDBConnection, file: string): Promise<string[]> {
  const reader = await conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${sqlString(file)})`);
  return reader.getRowsJS().map((r) => String(r[0]));
}

/** Rows of a Parquet file, from its footer. */
export async function parquetFileRows(conn: DuckDBConnection, file: string): Promise<number> {
  const reader = await conn.runAndReadAll(`SELECT sum(num_rows) FROM parquet_file_metadata(${sqlString(file)})`);
  return Number(reader.getRowsJS()[0]?.[0] ?? 0);
}

/** Options of {@link ReadingsFileWriter}. */
export interface ReadingsFileWriterOptions {
  /** DuckDB `memory_limit`; a larger object spills to the temp directory. @defaultValue `256MB` */
  memoryLimit?: string;
  /** DuckDB threads. @defaultValue 1 (a worker process already runs several jobs at once) */
  threads?: number;
}

/**
 * A transform worker's own DuckDB, writing readings files in the Parquet
 * dataset's final form ({@link writeReadingsFile}), so that the loader of a
 * `parquet://` sink only moves them into place and commits the ledger: the
 * work that scales with the rows is spread over the workers. One call at a
 * time per writer; the engine starts on first use.
 */
export class ReadingsFileWriter {
  readonly #options: Required<ReadingsFileWriterOptions>;
  #engine: Promise<MemoryEngine> | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(options: ReadingsFileWriterOptions = {}) {
    this.#options = { memoryLimit: '256MB', threads: 1, ...options };
  }

  /** Writes `out` from the staged file `source` of manifest `m`; resolves with its rows. */
  write(m: StagedManifest, source: string, out: string): Promise<number> {
    const run = this.#queue.then(async () => {
      if (this.#closed) throw new Error('the readings file writer is closed');
      return writeReadingsFile((await this.#db()).conn, m, source, out);
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Closes the engine. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#queue; // writes already queued finish first
    const engine = this.#engine;
    this.#engine = null;
    if (!engine) return;
    const { conn, instance } = await engine.catch(() => ({ conn: null, instance: null }));
    conn?.closeSync();
    instance?.closeSync();
  }

  #db() {
    if (!this.#engine) {
      this.#engine = openMemoryEngine(this.#options);
      this.#engine.catch(() => {
        this.#engine = null;
      });
    }
    return this.#engine;
  }
}
