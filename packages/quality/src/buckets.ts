import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type { WarehouseReader, WarehouseRow } from '@pv-pipeline/sinks';
import type { ReportScope } from './scope.js';

/**
 * The pass over `pv_readings`, in the warehouse's engine: 10-minute UTC
 * buckets per system and sensor (readings, sum, min, max), one GROUP BY with
 * no join. The buckets land in a DuckDB connection as `q_buckets`, keyed by
 * the local standard-time day and 10-minute slot of the day, with each
 * sensor's threshold counts (readings below its low and above its high
 * threshold, above 1.2 × capacity). Those counts need the readings again, but
 * only for the few buckets whose min or max crosses a threshold: a second,
 * narrow query over the sensors and times concerned, run only when there are
 * any. Everything after works on the buckets, a tenth of the readings at
 * 1-minute cadence.
 *
 * Local slots are UTC buckets shifted by the zone's standard offset: exact
 * for offsets in whole 10 minutes (every zone but a few of Asia and the
 * Pacific, e.g. UTC+5:45, where a slot is then off by 5 minutes).
 */

/** Bucket width, seconds. */
export const BUCKET_S = 600;
/** Buckets per day. */
export const SLOTS = 86_400 / BUCKET_S;

/** A threshold that is never crossed (a sensor without one). */
const NEVER = 1e300;

/** Epoch day of `YYYY-MM-DD`. */
export const epochDay = (day: string): number => Date.parse(`${day}T00:00:00Z`) / 86_400_000;
/** `YYYY-MM-DD` of an epoch day. */
export const dayOf = (d: number): string => new Date(d * 86_400_000).toISOString().slice(0, 10);

function literal(dialect: WarehouseReader['dialect'], v: string | number): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toExponential();
  return dialect === 'bigquery'
    ? `'${v.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`
    : `'${v.replaceAll("'", "''")}'`;
}

/** The UTC window of a report (its first local day's start to its last's end, over every zone), epoch seconds. */
function utcWindow(scope: ReportScope): { lo: number; hi: number } {
  const offsets = scope.systems.map((s) => s.offsetMinutes * 60);
  return {
    lo: epochDay(scope.from) * 86_400 - Math.max(...offsets),
    hi: (epochDay(scope.to) + 1) * 86_400 - Math.min(...offsets),
  };
}

const timestampLiteral = (reader: WarehouseReader, seconds: number) =>
  `${reader.dialect === 'duckdb' ? 'TIMESTAMPTZ' : 'TIMESTAMP'} '${new Date(seconds * 1000)
    .toISOString()
    .replace('T', ' ')
    .replace('Z', '+00')}'`;

/**
 * The first pass in the reader's dialect, in the SQL both engines share
 * (`UNIX_SECONDS` and `DIV`; DuckDB gets them as macros): UTC buckets of the
 * systems in scope over the report's window.
 */
export function bucketQuery(reader: WarehouseReader, scope: ReportScope): string {
  const { lo, hi } = utcWindow(scope);
  return `SELECT ss_id, sensor, DIV(UNIX_SECONDS(timestamp), ${BUCKET_S}) AS ub,
  COUNT(*) AS n, SUM(value) AS s, MIN(value) AS mn, MAX(value) AS mx
FROM ${reader.table('pv_readings')}
WHERE ss_id IN (${scope.systems.map((s) => s.ss_id).join(', ')})
  AND timestamp >= ${timestampLiteral(reader, lo)} AND timestamp < ${timestampLiteral(reader, hi)}
GROUP BY ss_id, sensor, ub`;
}

/** A sensor's thresholds in its own units, as the bucket tables use them. */
interface Thresholds {
  ss_id: number;
  sensor: string;
  offS: number;
  /** Power: −1 % of capacity (0 without one); others: the physical minimum. */
  lo: number;
  /** Power: 1 % of capacity, for the night (0 without one); others: the physical maximum. */
  hi: number;
  /** AC power: 1.2 × capacity. */
  over: number;
}

function thresholdsOf(scope: ReportScope): Thresholds[] {
  return scope.systems.flatMap((sys) =>
    sys.sensors.map((s) => {
      const power = s.kind === 'ac_power' || s.kind === 'dc_power';
      return {
        ss_id: sys.ss_id,
        sensor: s.sensor,
        offS: sys.offsetMinutes * 60,
        lo: power ? (s.capacity === null ? 0 : -0.01 * s.capacity) : (s.limits?.[0] ?? -NEVER),
        hi: power ? s.nightThreshold : (s.limits?.[1] ?? NEVER),
        over: s.overThreshold ?? NEVER,
      };
    }),
  );
}

/**
 * The second pass: for the sensors with a bucket whose min or max crosses a
 * threshold, the readings past each threshold per UTC bucket, over the time
 * those buckets span.
 */
export function crossingQuery(
  reader: WarehouseReader,
  crossings: ReadonlyArray<Thresholds & { first: number; last: number }>,
): string {
  const lit = (v: string | number) => literal(reader.dialect, v);
  const p = crossings.map(
    (c) =>
      `SELECT ${lit(c.ss_id)} AS ss_id, ${lit(c.sensor)} AS sensor, ${lit(c.lo)} AS lo, ${lit(c.hi)} AS hi, ` +
      `${lit(c.over)} AS over, ${timestampLiteral(reader, c.first * BUCKET_S)} AS t0, ` +
      `${timestampLiteral(reader, (c.last + 1) * BUCKET_S)} AS t1`,
  );
  return `WITH p AS (
  ${p.join('\n  UNION ALL ')}
)
SELECT x.ss_id, x.sensor, DIV(UNIX_SECONDS(x.timestamp), ${BUCKET_S}) AS ub,
  COUNTIF(x.value < p.lo) AS n_lo, COUNTIF(x.value > p.hi) AS n_hi, COUNTIF(x.value > p.over) AS n_over
FROM ${reader.table('pv_readings')} x JOIN p ON x.ss_id = p.ss_id AND x.sensor = p.sensor
WHERE x.timestamp >= p.t0 AND x.timestamp < p.t1 AND (x.value < p.lo OR x.value > p.hi OR x.value > p.over)
GROUP BY x.ss_id, x.sensor, ub`;
}

/** The GoogleSQL functions the passes use that DuckDB lacks, as temporary macros. */
export const DUCKDB_MACROS = [
  'CREATE OR REPLACE TEMP MACRO unix_seconds(t) AS CAST(epoch_us(t) // 1000000 AS BIGINT)',
  'CREATE OR REPLACE TEMP MACRO div(a, b) AS (a // b)',
];

/** Where the checks run: a DuckDB connection holding `q_buckets`, and how to let it go. */
export interface CheckDb {
  conn: DuckDBConnection;
  close(): Promise<void>;
}

/** Appends warehouse rows to a temporary table of BIGINT, VARCHAR and DOUBLE columns (created, or replaced). */
export async function appendRows(
  conn: DuckDBConnection,
  table: string,
  columns: ReadonlyArray<readonly [string, 'BIGINT' | 'VARCHAR' | 'DOUBLE']>,
  rows: readonly WarehouseRow[],
): Promise<void> {
  await conn.run(`CREATE OR REPLACE TEMP TABLE ${table} (${columns.map(([n, t]) => `${n} ${t}`).join(', ')})`);
  const appender = await conn.createAppender(table, 'main', 'temp');
  for (const row of rows) {
    for (const [name, type] of columns) {
      const v = row[name];
      if (v === null || v === undefined) appender.appendNull();
      else if (type === 'VARCHAR') appender.appendVarchar(String(v));
      else if (type === 'BIGINT') appender.appendBigInt(BigInt(Math.round(Number(v))));
      else appender.appendDouble(Number(v));
    }
    appender.endRow();
  }
  appender.closeSync();
}

/**
 * Runs the passes and leaves `q_buckets` (ss_id, sensor, d, slot, n, s, mn,
 * mx, n_lo, n_hi, n_over) in a DuckDB connection: the reader's own for the
 * DuckDB dialect (temporary tables), or, for BigQuery, an in-memory DuckDB
 * the rows of the passes are appended to.
 */
export async function loadBuckets(reader: WarehouseReader, scope: ReportScope): Promise<CheckDb> {
  let db: CheckDb;
  if (reader.duckdb) {
    const conn = reader.duckdb;
    for (const m of DUCKDB_MACROS) await conn.run(m);
    await conn.run(`CREATE OR REPLACE TEMP TABLE q_utc AS ${bucketQuery(reader, scope)}`);
    db = { conn, close: async () => conn.run('DROP TABLE IF EXISTS temp.q_buckets').then(() => undefined) };
  } else {
    const rows = await reader.query(bucketQuery(reader, scope));
    const instance = await DuckDBInstance.create(':memory:');
    const conn = await instance.connect();
    const columns = [
      ['ss_id', 'BIGINT'],
      ['sensor', 'VARCHAR'],
      ['ub', 'BIGINT'],
      ['n', 'BIGINT'],
      ['s', 'DOUBLE'],
      ['mn', 'DOUBLE'],
      ['mx', 'DOUBLE'],
    ] as const;
    await appendRows(conn, 'q_utc', columns, rows);
    db = {
      conn,
      close: async () => {
        conn.closeSync();
        instance.closeSync();
      },
    };
  }
  try {
    await localBuckets(db.conn, reader, scope);
    return db;
  } catch (err) {
    await db.close();
    throw err;
  }
}

/** From `q_utc` to `q_buckets`: local days and slots, the sensors in scope, the threshold counts. */
async function localBuckets(conn: DuckDBConnection, reader: WarehouseReader, scope: ReportScope): Promise<void> {
  const thresholds = thresholdsOf(scope);
  await conn.run(
    'CREATE OR REPLACE TEMP TABLE q_threshold (ss_id BIGINT, sensor VARCHAR, off_s BIGINT, lo DOUBLE, hi DOUBLE, over DOUBLE)',
  );
  const appender = await conn.createAppender('q_threshold', 'main', 'temp');
  for (const t of thresholds) {
    appender.appendBigInt(BigInt(t.ss_id));
    appender.appendVarchar(t.sensor);
    appender.appendBigInt(BigInt(t.offS));
    appender.appendDouble(t.lo);
    appender.appendDouble(t.hi);
    appender.appendDouble(t.over);
    appender.endRow();
  }
  appender.closeSync();
  const first = epochDay(scope.from);
  const last = epochDay(scope.to);
  await conn.run(`CREATE OR REPLACE TEMP TABLE q_buckets AS
    SELECT u.ss_id, u.sensor, u.ub, (u.ub * ${BUCKET_S} + t.off_s) // 86400 AS d,
           ((u.ub * ${BUCKET_S} + t.off_s) % 86400) // ${BUCKET_S} AS slot,
           u.n, u.s, u.mn, u.mx, 0::BIGINT AS n_lo, 0::BIGINT AS n_hi, 0::BIGINT AS n_over
    FROM q_utc u JOIN q_threshold t USING (ss_id, sensor)
    WHERE (u.ub * ${BUCKET_S} + t.off_s) // 86400 BETWEEN ${first} AND ${last}`);
  await conn.run('DROP TABLE temp.q_utc');
  // the sensors with a bucket past a threshold, and the time those buckets span
  const res = await conn.runAndReadAll(`
    SELECT b.ss_id, b.sensor, min(b.ub) AS first, max(b.ub) AS last
    FROM q_buckets b JOIN q_threshold t USING (ss_id, sensor)
    WHERE b.mn < t.lo OR b.mx > t.hi OR b.mx > t.over
    GROUP BY b.ss_id, b.sensor`);
  const span = new Map(
    (res.getRowObjectsJS() as Array<Record<string, unknown>>).map((r) => [
      JSON.stringify([Number(r.ss_id), String(r.sensor)]),
      { first: Number(r.first), last: Number(r.last) },
    ]),
  );
  const crossings = thresholds.flatMap((t) => {
    const s = span.get(JSON.stringify([t.ss_id, t.sensor]));
    return s ? [{ ...t, ...s }] : [];
  });
  if (crossings.length === 0) return;
  const sql = crossingQuery(reader, crossings);
  if (reader.duckdb) await conn.run(`CREATE OR REPLACE TEMP TABLE q_cross AS ${sql}`);
  else {
    await appendRows(
      conn,
      'q_cross',
      [
        ['ss_id', 'BIGINT'],
        ['sensor', 'VARCHAR'],
        ['ub', 'BIGINT'],
        ['n_lo', 'BIGINT'],
        ['n_hi', 'BIGINT'],
        ['n_over', 'BIGINT'],
      ],
      await reader.query(sql),
    );
  }
  await conn.run(`UPDATE q_buckets b SET n_lo = c.n_lo, n_hi = c.n_hi, n_over = c.n_over
    FROM q_cross c WHERE c.ss_id = b.ss_id AND c.sensor = b.sensor AND c.ub = b.ub`);
  await conn.run('DROP TABLE temp.q_cross');
}
