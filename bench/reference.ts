import { readdirSync, rmSync } from 'node:fs';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { duckdbCreateTable, PV_READINGS, quoteIdent } from '@pv-pipeline/schema';
import { lit } from './generate-mirror.js';

/** Options of {@link runReference}. */
export interface ReferenceOptions {
  /** Absolute mirror root (the folder holding `csv/` and `parquet/`). */
  root: string;
  /** Fresh database file (deleted first). */
  dbPath: string;
  /** DuckDB threads. The benchmark uses 1. */
  threads?: number;
}

/** What the reference loaded, and how long each statement took. */
export interface ReferenceResult {
  readings: number;
  /** Seconds per step: setup (dimensions), insert (scan + transform + dedup + insert), close (checkpoint). */
  steps: Record<string, number>;
  memoryLimit: string;
}

/** The temp tables both references join: `zones` (ss_id, tz) from the systems index, `dict` from the metrics files. */
async function createDimensionTables(conn: DuckDBConnection, root: string): Promise<void> {
  await conn.run(`CREATE TEMP TABLE zones AS
      SELECT CAST(system_id AS BIGINT) AS ss_id, first(trim(timezone_or_utc_offset)) AS tz
      FROM read_csv(${lit(`${root}/csv/systems_20250729.csv`)}, all_varchar = true, header = true)
      WHERE regexp_full_match(system_id, '[0-9]+')
      GROUP BY ALL`);
  await conn.run(`CREATE TEMP TABLE dict AS
      SELECT CAST(system_id AS BIGINT) AS ss_id, CAST(metric_id AS BIGINT) AS metric_id,
             trim(sensor_name) AS sensor, nullif(trim(units), '') AS units
      FROM read_parquet(${lit(`${root}/parquet/metrics/metrics__system_*__part000.parquet`)})`);
}

const COLS = PV_READINGS.columns.map((c) => quoteIdent(c.name)).join(', ');

/**
 * Runs one reference on one thread in a fresh database: `pv_readings` and the dimension
 * temp tables made ("setup"), the INSERT that `insertSql(root)` gives ("insert"), the
 * rows counted ("count"), the database closed ("close"); seconds per step.
 */
async function runReferenceInsert(o: ReferenceOptions, insertSql: (root: string) => string): Promise<ReferenceResult> {
  for (const suffix of ['', '.wal']) rmSync(`${o.dbPath}${suffix}`, { force: true });
  const steps: Record<string, number> = {};
  let t = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    steps[name] = (now - t) / 1000;
    t = now;
  };
  const db = await DuckDBInstance.create(o.dbPath, { threads: String(o.threads ?? 1) });
  const conn = await db.connect();
  let readings = 0;
  let memoryLimit = '';
  try {
    await conn.run("SET TimeZone = 'UTC'");
    memoryLimit = String((await conn.runAndReadAll("SELECT current_setting('memory_limit')")).getRowsJS()[0]?.[0]);
    await conn.run(duckdbCreateTable(PV_READINGS, { primaryKey: false }));
    const root = o.root.replace(/\/+$/, '');
    await createDimensionTables(conn, root);
    lap('setup');
    await conn.run(insertSql(root));
    lap('insert');
    readings = Number((await conn.runAndReadAll('SELECT count(*) FROM pv_readings')).getRowsJS()[0]?.[0] ?? 0);
    lap('count');
  } finally {
    conn.closeSync();
    db.closeSync();
    lap('close');
  }
  return { readings, steps, memoryLimit };
}

/**
 * The reference: plain DuckDB SQL on one thread doing what the pipeline does.
 * Read every daily Parquet file (`system_id` from the hive path, file name and row
 * number kept), join the metrics dictionary (sensor_name, units; blank → NULL),
 * drop missing values (NULL, NaN, -999, -7999, -9999, -99999), UTC =
 * `coalesce(utc_measured_on, measured_on localized in the system's zone)` where a bare
 * number N is UTC−N all year and anything else goes through ICU `timezone()`, keep the
 * last row in file order per (ss_id, timestamp, sensor), insert into `pv_readings`.
 */
export function runReference(o: ReferenceOptions): Promise<ReferenceResult> {
  return runReferenceInsert(o, (root) => {
    return `INSERT INTO pv_readings (${COLS})
      SELECT ${COLS} FROM (
        SELECT CAST(r.system_id AS BIGINT) AS ss_id,
               coalesce(CAST(r.utc_measured_on AS TIMESTAMPTZ),
                 CASE WHEN regexp_full_match(z.tz, '[+-]?[0-9]+([.][0-9]+)?')
                      THEN CAST(r.measured_on + to_minutes(CAST(round(CAST(z.tz AS DOUBLE) * 60) AS BIGINT)) AS TIMESTAMPTZ)
                      ELSE timezone(z.tz, r.measured_on) END) AS "timestamp",
               r.measured_on, d.sensor, CAST(r.metric_id AS BIGINT) AS metric_id, d.units, r.value,
               substr(r.filename, ${root.length + 2}) AS source_key, r.file_row_number
        FROM read_parquet(${lit(`${root}/parquet/pvdata/system_id=*/year=*/month=*/day=*/*.parquet`)},
                          hive_partitioning = true, filename = true, file_row_number = true) r
        JOIN dict d ON d.ss_id = r.system_id AND d.metric_id = r.metric_id
        LEFT JOIN zones z ON z.ss_id = r.system_id
        WHERE r.value IS NOT NULL AND NOT isnan(r.value) AND r.value NOT IN (-999, -7999, -9999, -99999)
      )
      QUALIFY row_number() OVER (PARTITION BY ss_id, "timestamp", sensor ORDER BY source_key DESC, file_row_number DESC) = 1`;
  });
}

/**
 * The daily CSV reference: the same rules in plain DuckDB SQL on one thread, from the
 * wide CSV objects (`csv/pvdata/…`). Per system (its files share a header): `read_csv`
 * of every day, UNPIVOT of the `<sensor>__<metric_id>` columns, metric_id from the
 * column name; then as {@link runReference}: join the dictionary, drop missing values,
 * localize `measured_on` in the system's zone (a CSV has no UTC column), keep the last
 * reading per key in file order, insert into `pv_readings`.
 */
export function runCsvReference(o: ReferenceOptions): Promise<ReferenceResult> {
  return runReferenceInsert(o, (root) => {
    const systems = readdirSync(`${root}/csv/pvdata`)
      .map((d) => /^system_id=(\d+)$/.exec(d)?.[1])
      .filter((id): id is string => id !== undefined);
    const long = systems
      .map(
        (id) => `SELECT ${id} AS ss_id, measured_on, CAST(regexp_extract(col, '__(\\d+)$', 1) AS BIGINT) AS metric_id,
                  v AS value, filename, rn
          FROM (UNPIVOT (SELECT * EXCLUDE (system_id), row_number() OVER () AS rn
                         FROM read_csv(${lit(`${root}/csv/pvdata/system_id=${id}/year=*/month=*/day=*/*.csv`)},
                                       header = true, filename = true, hive_partitioning = false,
                                       types = {'measured_on': 'TIMESTAMP'}))
                ON COLUMNS(* EXCLUDE (measured_on, filename, rn)) INTO NAME col VALUE v)`,
      )
      .join('\n        UNION ALL\n        ');
    return `INSERT INTO pv_readings (${COLS})
      SELECT ${COLS} FROM (
        SELECT r.ss_id,
               CASE WHEN regexp_full_match(z.tz, '[+-]?[0-9]+([.][0-9]+)?')
                    THEN CAST(r.measured_on + to_minutes(CAST(round(CAST(z.tz AS DOUBLE) * 60) AS BIGINT)) AS TIMESTAMPTZ)
                    ELSE timezone(z.tz, r.measured_on) END AS "timestamp",
               r.measured_on, d.sensor, r.metric_id, d.units, CAST(r.value AS DOUBLE) AS value,
               substr(r.filename, ${root.length + 2}) AS source_key, r.rn
        FROM (${long}) r
        JOIN dict d ON d.ss_id = r.ss_id AND d.metric_id = r.metric_id
        LEFT JOIN zones z ON z.ss_id = r.ss_id
        WHERE r.value IS NOT NULL AND NOT isnan(r.value) AND r.value NOT IN (-999, -7999, -9999, -99999)
      )
      QUALIFY row_number() OVER (PARTITION BY ss_id, "timestamp", sensor ORDER BY source_key DESC, rn DESC) = 1`;
  });
}

/**
 * The floor: DuckDB copying the same daily Parquet files into a table of its
 * own as they are (`CREATE TABLE … AS SELECT * FROM read_parquet(…)`), no
 * rules, no join, no dedup. No transform can cost less CPU than reading and
 * storing the rows; the pipeline's CPU is compared with this (issue: ≤ 3×).
 */
export async function runRawCopy(o: ReferenceOptions): Promise<{ rows: number }> {
  for (const suffix of ['', '.wal']) rmSync(`${o.dbPath}${suffix}`, { force: true });
  const db = await DuckDBInstance.create(o.dbPath, { threads: String(o.threads ?? 1) });
  const conn = await db.connect();
  try {
    const root = o.root.replace(/\/+$/, '');
    await conn.run(
      `CREATE TABLE raw AS SELECT * FROM read_parquet(${lit(`${root}/parquet/pvdata/system_id=*/year=*/month=*/day=*/*.parquet`)})`,
    );
    return { rows: Number((await conn.runAndReadAll('SELECT count(*) FROM raw')).getRowsJS()[0]?.[0] ?? 0) };
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}

/**
 * The storage floor: DuckDB storing the rows the pipeline loaded, as the sink stores them, into
 * a table of its own (`CREATE TABLE … AS SELECT * FROM pv_reading_rows`, 1 thread: the
 * readings with their channel and object numbered, see the sink's readings-storage.ts). No
 * loader of these rows into DuckDB can spend less CPU than this.
 */
export async function runStoreCopy(pipelineDb: string, dbPath: string): Promise<{ rows: number }> {
  for (const suffix of ['', '.wal']) rmSync(`${dbPath}${suffix}`, { force: true });
  const db = await DuckDBInstance.create(dbPath, { threads: '1' });
  const conn = await db.connect();
  try {
    await conn.run(`ATTACH ${lit(pipelineDb)} AS loaded (READ_ONLY)`);
    await conn.run('CREATE TABLE stored AS SELECT * FROM loaded.pv_reading_rows');
    return { rows: Number((await conn.runAndReadAll('SELECT count(*) FROM stored')).getRowsJS()[0]?.[0] ?? 0) };
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}
