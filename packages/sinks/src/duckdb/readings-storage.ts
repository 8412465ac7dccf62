import type { DuckDBConnection } from '@duckdb/node-api';
import { PermanentError, type StagedManifest } from '@pv-pipeline/core';
import { duckdbType, PV_READINGS, quoteIdent } from '@pv-pipeline/schema';
import { sqlString } from '../sql-literal.js';
import { BATCH_CHANNELS } from './batch-tables.js';

/**
 * How a DuckDB database stores `pv_readings` without a string per row.
 *
 * Storing the three text columns of the fact table (`sensor`, `units`,
 * `source_key`) cost DuckDB about 10 of the 13 CPU seconds it needs to store
 * 20 M readings (`npm run bench:store`). So the rows hold integers, and two
 * small tables name them:
 *
 * - `pv_channels`: one row per (ss_id, sensor, metric_id, units) ever loaded,
 *   numbered by `channel_id`;
 * - `pv_objects`: one row per source object ever loaded, numbered by `object_id`;
 * - `pv_reading_rows`: the readings, `channel_id` and `object_id` in place of
 *   the four columns they name.
 *
 * `pv_readings` is a view over the three with the schema's columns in the
 * schema's order, so every reader (report, export, SQL by hand) sees the
 * same table as before. The sink writes the three tables; nothing else does.
 */
const DDL = [
  `CREATE TABLE IF NOT EXISTS pv_channels (
  channel_id INTEGER PRIMARY KEY,
  ss_id BIGINT NOT NULL,
  sensor VARCHAR NOT NULL,
  metric_id BIGINT NOT NULL,
  units VARCHAR
)`,
  `CREATE TABLE IF NOT EXISTS pv_objects (
  object_id INTEGER PRIMARY KEY,
  source_key VARCHAR NOT NULL UNIQUE
)`,
  `CREATE TABLE IF NOT EXISTS pv_reading_rows (
  ss_id BIGINT NOT NULL,
  "timestamp" TIMESTAMPTZ NOT NULL,
  measured_on TIMESTAMP NOT NULL,
  channel_id INTEGER NOT NULL,
  "value" DOUBLE NOT NULL,
  object_id INTEGER NOT NULL
)`,
];

/** The view that gives `pv_readings` its schema columns, in order. */
const VIEW = `CREATE OR REPLACE VIEW pv_readings AS
SELECT r.ss_id, r."timestamp", r.measured_on, c.sensor, c.metric_id, c.units, r."value", o.source_key
FROM pv_reading_rows r
JOIN pv_channels c ON c.channel_id = r.channel_id
JOIN pv_objects o ON o.object_id = r.object_id`;

/** What `pv_readings` is in a database: absent, the view over the storage tables, or a table of the first layout. */
async function readingsKind(conn: DuckDBConnection): Promise<'absent' | 'view' | 'table'> {
  const res = await conn.runAndReadAll(
    `SELECT table_type FROM information_schema.tables WHERE table_name = 'pv_readings' AND table_schema = current_schema()`,
  );
  const type = res.getRowsJS()[0]?.[0];
  return type === undefined ? 'absent' : type === 'VIEW' ? 'view' : 'table';
}

/**
 * Creates the storage tables and the view where absent. A database written
 * before this layout (`pv_readings` a table with the strings in every row) is
 * moved into it in the caller's transaction, every row kept: the test
 * `duckdb-readings-storage.test.ts` reads the same rows before and after.
 */
export async function ensureReadingsStorage(conn: DuckDBConnection, url: string): Promise<void> {
  const kind = await readingsKind(conn);
  for (const ddl of DDL) await conn.run(ddl);
  if (kind === 'view') return;
  if (kind === 'table') {
    // a table written before a nullable column existed gets it (NULL in the old rows)
    for (const c of PV_READINGS.columns.filter((c) => c.nullable)) {
      await conn.run(`ALTER TABLE pv_readings ADD COLUMN IF NOT EXISTS ${quoteIdent(c.name)} ${duckdbType(c.type)}`);
    }
    await conn.run(`INSERT INTO pv_channels
      SELECT row_number() OVER (ORDER BY ss_id, sensor, metric_id, units)::INTEGER, ss_id, sensor, metric_id, units
      FROM (SELECT DISTINCT ss_id, sensor, metric_id, units FROM pv_readings)`);
    await conn.run(`INSERT INTO pv_objects
      SELECT row_number() OVER (ORDER BY source_key)::INTEGER, source_key FROM (SELECT DISTINCT source_key FROM pv_readings)`);
    const had = await countOf(conn, 'SELECT count(*) FROM pv_readings');
    const moved = await countOf(
      conn,
      `INSERT INTO pv_reading_rows
       SELECT r.ss_id, r."timestamp", r.measured_on, c.channel_id, r."value", o.object_id
       FROM pv_readings r
       JOIN pv_channels c ON ${channelMatch('c', 'r')}
       JOIN pv_objects o ON o.source_key = r.source_key`,
    );
    if (moved !== had)
      throw new PermanentError(`${url}: moving pv_readings to its storage tables kept ${moved} of ${had} rows`);
    await conn.run('DROP TABLE pv_readings');
  }
  await conn.run(VIEW);
}

/** The join condition of a channel row `c` and a reading `r` that carries the channel's four columns. */
export function channelMatch(c: string, r: string): string {
  return `${c}.ss_id = ${r}.ss_id AND ${c}.sensor = ${r}.sensor AND ${c}.metric_id = ${r}.metric_id AND ${c}.units IS NOT DISTINCT FROM ${r}.units`;
}

/**
 * Numbers the channels of a batch's staged files that `pv_channels` does not
 * hold yet: from their manifests' lists ({@link BATCH_CHANNELS}, written by
 * writeBatchTables first), and for manifests of older workers (no list, the
 * names in the files) from one scan of those files' channel columns.
 */
export async function registerChannels(conn: DuckDBConnection, files: readonly StagedManifest[]): Promise<void> {
  const unlisted = files.filter((m) => m.channels === undefined && m.layout !== 'channel_index');
  const sources = [
    `SELECT ss_id, sensor, metric_id, units FROM ${BATCH_CHANNELS}`,
    ...(unlisted.length > 0
      ? [
          `SELECT CAST(ss_id AS BIGINT) AS ss_id, CAST(sensor AS VARCHAR) AS sensor, CAST(metric_id AS BIGINT) AS metric_id,
              CAST(units AS VARCHAR) AS units
           FROM read_parquet([${unlisted.map((m) => sqlString(m.staged!)).join(', ')}])`,
        ]
      : []),
  ];
  // lists with no channel at all number nothing (the insert's row check then names the fault)
  await conn.run(`INSERT INTO pv_channels
    SELECT (SELECT coalesce(max(channel_id), 0) FROM pv_channels) + row_number() OVER (ORDER BY ss_id, sensor, metric_id, units),
           ss_id, sensor, metric_id, units
    FROM (SELECT DISTINCT * FROM (${sources.join(' UNION ALL ')})) s
    WHERE NOT EXISTS (SELECT 1 FROM pv_channels c WHERE ${channelMatch('c', 's')})`);
}

/** The `object_id` of each source key, numbering the keys `pv_objects` does not hold yet. */
export async function registerObjects(conn: DuckDBConnection, keys: readonly string[]): Promise<Map<string, number>> {
  if (keys.length === 0) return new Map();
  const list = keys.map(sqlString).join(', ');
  await conn.run(`INSERT INTO pv_objects
    SELECT (SELECT coalesce(max(object_id), 0) FROM pv_objects) + row_number() OVER (ORDER BY k), k
    FROM (SELECT DISTINCT k FROM (VALUES ${keys.map((k) => `(${sqlString(k)})`).join(', ')}) v(k)) n
    WHERE k NOT IN (SELECT source_key FROM pv_objects)`);
  const res = await conn.runAndReadAll(`SELECT source_key, object_id FROM pv_objects WHERE source_key IN (${list})`);
  return new Map(res.getRowsJS().map(([k, id]) => [String(k), Number(id)]));
}

/** The first value of the first row a statement returns, as a number (a count, or the rows a DML statement changed). */
export async function countOf(conn: DuckDBConnection, sql: string): Promise<number> {
  const r = await conn.runAndReadAll(sql);
  return Number(r.getRows()[0]?.[0] ?? 0);
}
