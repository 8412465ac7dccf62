import type { DuckDBConnection } from '@duckdb/node-api';
import { dayOf } from './buckets.js';
import type { ReportScope } from './scope.js';
import { sunDay } from './solar.js';

/**
 * The small tables the checks join the buckets with, in the check
 * connection: `q_sensor` (what each sensor is and its thresholds), `q_span`
 * (each system's first and last day with data) and `q_sun` (sunrise, solar
 * noon, sunset and the twilight bounds of every system-day, from NREL SPA;
 * systems without coordinates have none).
 */

async function insertRows(conn: DuckDBConnection, table: string, rows: readonly (readonly unknown[])[]): Promise<void> {
  const lit = (v: unknown) =>
    v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v))
      ? 'NULL'
      : typeof v === 'number'
        ? String(v)
        : typeof v === 'boolean'
          ? String(v)
          : `'${String(v).replaceAll("'", "''")}'`;
  for (let i = 0; i < rows.length; i += 500) {
    const part = rows.slice(i, i + 500);
    await conn.run(`INSERT INTO ${table} VALUES ${part.map((r) => `(${r.map(lit).join(', ')})`).join(', ')}`);
  }
}

/** Creates `q_sensor` from the scope. */
export async function createSensorTable(conn: DuckDBConnection, scope: ReportScope): Promise<void> {
  await conn.run(`CREATE OR REPLACE TEMP TABLE q_sensor (
    ss_id BIGINT, sensor VARCHAR, kind VARCHAR, units VARCHAR, capacity DOUBLE, has_sun BOOLEAN)`);
  await insertRows(
    conn,
    'q_sensor',
    scope.systems.flatMap((sys) =>
      sys.sensors.map((s) => [
        sys.ss_id,
        s.sensor,
        s.kind,
        s.units,
        s.capacity,
        sys.latitude !== null && sys.longitude !== null,
      ]),
    ),
  );
}

/** Creates `q_span`: each system's first and last local day with a reading (from the buckets). */
export async function createSpanTable(conn: DuckDBConnection): Promise<Map<number, { first: number; last: number }>> {
  await conn.run(
    'CREATE OR REPLACE TEMP TABLE q_span AS SELECT ss_id, min(d) AS first_d, max(d) AS last_d FROM q_buckets GROUP BY ss_id',
  );
  const rows = (await conn.runAndReadAll('SELECT ss_id, first_d, last_d FROM q_span')).getRows();
  return new Map(rows.map(([id, f, l]) => [Number(id), { first: Number(f), last: Number(l) }]));
}

/** Creates `q_sun` for the systems with coordinates over their spans; minutes of the local standard day. */
export async function createSunTable(
  conn: DuckDBConnection,
  scope: ReportScope,
  spans: ReadonlyMap<number, { first: number; last: number }>,
): Promise<void> {
  await conn.run(`CREATE OR REPLACE TEMP TABLE q_sun (
    ss_id BIGINT, d BIGINT, sunrise DOUBLE, sunset DOUBLE, noon DOUBLE,
    dark_end DOUBLE, dark_start DOUBLE, high_start DOUBLE, high_end DOUBLE)`);
  const rows: unknown[][] = [];
  for (const sys of scope.systems) {
    const span = spans.get(sys.ss_id);
    if (!span || sys.latitude === null || sys.longitude === null) continue;
    const site = { latitude: sys.latitude, longitude: sys.longitude, elevation: sys.elevation ?? 0 };
    for (let d = span.first; d <= span.last; d++) {
      const s = sunDay(site, dayOf(d), sys.offsetMinutes);
      rows.push([sys.ss_id, d, s.sunrise, s.sunset, s.noon, s.darkEnd, s.darkStart, s.highStart, s.highEnd]);
    }
  }
  await insertRows(conn, 'q_sun', rows);
}
