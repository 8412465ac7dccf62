import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { BadInputError, exists, fsyncFile } from '@pv-pipeline/core';
import { duckdbCreateTable, quoteIdent, type TableDef } from '@pv-pipeline/schema';
import { sqlString } from '../sql-literal.js';
import { toValue } from './table-rows.js';

/**
 * The whole-table files of the dataset (`pv_systems`, `pv_sensors`, `pv_runs`):
 * each one Parquet file rewritten whole, through DuckDB, to a temp name.
 */

/**
 * Writes `rows` (after the rows of `mergeFrom` whose key they do not repeat) to
 * `tmp`, beside `final`, sorted by the table's key and synced. Values are checked against
 * the schema by the NOT NULL constraints of the load table and the INT64 check below.
 */
export async function writeTableFile(
  conn: DuckDBConnection,
  table: TableDef,
  rows: readonly object[],
  final: string,
  mergeFrom: string | null,
  tmp: string,
  /** An SQL condition over an old row `e`: only old rows meeting it are kept (a replaced slice is not). @defaultValue every old row */
  keepOld = 'true',
): Promise<void> {
  await mkdir(path.dirname(final), { recursive: true });
  const load: TableDef = { ...table, name: `_load_${table.name}` };
  const loadName = quoteIdent(load.name);
  await conn.run(`DROP TABLE IF EXISTS ${loadName}`);
  await conn.run(duckdbCreateTable(load, { primaryKey: false }));
  try {
    // an appender: a bound INSERT costs a native call per value (150 ms for a 500-object ledger)
    const values = rows.map((r) => table.columns.map((c) => toValue(table, c.name, c.type, r)));
    const appender = await conn.createAppender(load.name);
    try {
      for (const row of values) {
        for (const v of row) appender.appendValue(v);
        appender.endRow();
      }
      appender.closeSync();
    } catch (err) {
      try {
        appender.closeSync();
      } catch {
        // the append's own error is the one to report
      }
      throw err;
    }
    if (mergeFrom) {
      const on = table.key.map((k) => `n.${quoteIdent(k)} = e.${quoteIdent(k)}`).join(' AND ');
      const have = await columnsOf(conn, mergeFrom);
      // a derived column (the quality report's) keeps its stored value where the new row has none
      for (const c of table.columns.filter((c) => c.derived && have.has(c.name))) {
        const name = quoteIdent(c.name);
        await conn.run(
          `UPDATE ${loadName} n SET ${name} = e.${name} FROM read_parquet(${sqlString(mergeFrom)}) e
           WHERE ${on} AND n.${name} IS NULL`,
        );
      }
      // Old rows whose key is not in the new ones; BY NAME tolerates a file lacking newer nullable columns.
      await conn.run(
        `INSERT INTO ${loadName} BY NAME
         SELECT * FROM read_parquet(${sqlString(mergeFrom)}) e
         WHERE (${keepOld}) AND NOT EXISTS (SELECT 1 FROM ${loadName} n WHERE ${on})`,
      );
    }
    await conn.run(
      `COPY (SELECT * FROM ${loadName} ORDER BY ${table.key.map(quoteIdent).join(', ')})
       TO ${sqlString(tmp)} (FORMAT parquet, COMPRESSION zstd)`,
    );
    await fsyncFile(tmp);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  } finally {
    await conn.run(`DROP TABLE IF EXISTS ${loadName}`);
  }
}

/** The column names of a Parquet file. */
export async function columnsOf(conn: DuckDBConnection, file: string): Promise<Set<string>> {
  const reader = await conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${sqlString(file)})`);
  return new Set(reader.getRowObjectsJS().map((r) => String(r.column_name)));
}

/** Checks that an existing dimension file has the table's columns (nullable ones may be missing). */
export async function checkTableFile(conn: DuckDBConnection, table: TableDef, file: string): Promise<void> {
  if (!(await exists(file))) return;
  const reader = await conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${sqlString(file)})`);
  const have = new Set(reader.getRowObjectsJS().map((r) => String(r.column_name)));
  const known = new Set(table.columns.map((c) => c.name));
  const extra = [...have].filter((n) => !known.has(n));
  const missing = table.columns.filter((c) => !c.nullable && !have.has(c.name)).map((c) => c.name);
  if (extra.length > 0 || missing.length > 0) {
    const what = [
      extra.length ? `unknown columns ${extra.join(', ')}` : '',
      missing.length ? `missing ${missing.join(', ')}` : '',
    ];
    throw new BadInputError('--sink', `${file}: not a ${table.name} file (${what.filter(Boolean).join('; ')})`);
  }
}
