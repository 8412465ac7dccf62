import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { appendRows, DUCKDB_MACROS, type SystemScope } from '@pv-pipeline/quality/warehouse';
import type { WarehouseReader } from '@pv-pipeline/sinks';
import type { SensorRef } from './aggregation.js';
import { utcWindowSql } from './window-sql.js';

/** Where an export's SQL runs: a DuckDB connection, and how to let it go. */
export interface ExportDb {
  conn: DuckDBConnection;
  close(): Promise<void>;
}

const lit = (reader: WarehouseReader, v: string) =>
  reader.dialect === 'bigquery'
    ? `'${v.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`
    : `'${v.replaceAll("'", "''")}'`;

/**
 * The one pass over `pv_readings`, in the warehouse's engine: per system,
 * sensor and UTC bucket of `intervalS`, the readings and their sum, over each
 * system's window (GoogleSQL both engines speak; DuckDB gets `DIV` and
 * `UNIX_SECONDS` as macros).
 */
export function bucketSql(
  reader: WarehouseReader,
  systems: readonly SystemScope[],
  from: string,
  to: string,
  intervalS: number,
): string {
  return `SELECT ss_id, sensor, DIV(UNIX_SECONDS(timestamp), ${intervalS}) AS b, COUNT(*) AS n, SUM(value) AS total
FROM ${reader.table('pv_readings')}
WHERE ${systems.map((s) => utcWindowSql(reader, s, from, to)).join(' OR ')}
GROUP BY ss_id, sensor, b`;
}

/**
 * The edges of each bucket of some sensors: first and last reading (by
 * time), min and max; what tells a cumulative counter, and the value of a
 * sensor aggregated by `last`.
 */
export function edgeSql(
  reader: WarehouseReader,
  systems: readonly SystemScope[],
  sensors: readonly SensorRef[],
  from: string,
  to: string,
  intervalS: number,
): string {
  const where = sensors.map((s) => {
    const sys = systems.find((x) => x.ss_id === s.ss_id)!;
    return `(${utcWindowSql(reader, sys, from, to)} AND sensor = ${lit(reader, s.sensor)})`;
  });
  return `SELECT ss_id, sensor, DIV(UNIX_SECONDS(timestamp), ${intervalS}) AS b,
  MIN_BY(value, timestamp) AS first, MAX_BY(value, timestamp) AS last, MIN(value) AS mn, MAX(value) AS mx
FROM ${reader.table('pv_readings')}
WHERE ${where.join(' OR ')}
GROUP BY ss_id, sensor, b`;
}

/**
 * The DuckDB connection an export's SQL runs in: the reader's own for the
 * DuckDB dialect (temporary tables beside the warehouse's), or for BigQuery
 * an in-memory DuckDB that the passes' rows are appended to.
 */
export async function openExportDb(reader: WarehouseReader): Promise<ExportDb> {
  if (reader.duckdb) {
    const conn = reader.duckdb;
    for (const m of DUCKDB_MACROS) await conn.run(m);
    return { conn, close: async () => undefined };
  }
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  await conn.run("SET TimeZone = 'UTC'");
  return {
    conn,
    close: async () => {
      conn.closeSync();
      instance.closeSync();
    },
  };
}

const KEY = [
  ['ss_id', 'BIGINT'],
  ['sensor', 'VARCHAR'],
  ['b', 'BIGINT'],
] as const;

/** Runs a pass into a temporary table of `db`: in place for DuckDB, through the rows for BigQuery. */
async function passInto(
  db: ExportDb,
  reader: WarehouseReader,
  table: string,
  sql: string,
  columns: ReadonlyArray<readonly [string, 'BIGINT' | 'VARCHAR' | 'DOUBLE']>,
): Promise<void> {
  if (reader.duckdb) await db.conn.run(`CREATE OR REPLACE TEMP TABLE ${table} AS ${sql}`);
  else await appendRows(db.conn, table, columns, await reader.query(sql));
}

/**
 * Runs the passes and leaves in `db`: `x_sum` (ss_id, sensor, b, n, total)
 * and `x_edge` (the bucket edges of the edge sensors); see {@link finishBuckets}.
 */
export async function runBucketPass(
  db: ExportDb,
  reader: WarehouseReader,
  systems: readonly SystemScope[],
  edges: readonly SensorRef[],
  from: string,
  to: string,
  intervalS: number,
): Promise<void> {
  await passInto(db, reader, 'x_sum', bucketSql(reader, systems, from, to, intervalS), [
    ...KEY,
    ['n', 'BIGINT'],
    ['total', 'DOUBLE'],
  ]);
  if (edges.length > 0) {
    await passInto(db, reader, 'x_edge', edgeSql(reader, systems, edges, from, to, intervalS), [
      ...KEY,
      ['first', 'DOUBLE'],
      ['last', 'DOUBLE'],
      ['mn', 'DOUBLE'],
      ['mx', 'DOUBLE'],
    ]);
  } else {
    await db.conn.run(
      'CREATE OR REPLACE TEMP TABLE x_edge (ss_id BIGINT, sensor VARCHAR, b BIGINT, first DOUBLE, last DOUBLE, mn DOUBLE, mx DOUBLE)',
    );
  }
}

/**
 * Makes `x_agg` (ss_id, sensor, b, n, total, last) of `x_sum`, with the last
 * reading of each bucket from `x_edge` only when some sensor is aggregated by
 * `last` (the join costs a pass over the buckets).
 */
export async function finishBuckets(db: ExportDb, lastNeeded: boolean): Promise<void> {
  if (!lastNeeded) {
    await db.conn.run('ALTER TABLE temp.x_sum RENAME TO x_agg');
    await db.conn.run('ALTER TABLE temp.x_agg ADD COLUMN last DOUBLE');
    return;
  }
  await db.conn.run(`CREATE OR REPLACE TEMP TABLE x_agg AS
    SELECT s.ss_id, s.sensor, s.b, s.n, s.total, e.last
    FROM x_sum s LEFT JOIN x_edge e USING (ss_id, sensor, b)`);
  await db.conn.run('DROP TABLE temp.x_sum');
}
