import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { SYSTEMS_INDEX_COLUMNS } from '@pv-pipeline/pvdaq';

/**
 * A synthetic PVDAQ mirror in the real layout (daily Parquet, metrics
 * dictionaries, the systems index) for the quality report's detection test:
 * physically plausible systems (sun from declination, hour angle and the
 * equation of time; a south-facing array at 25° tilt; clear and cloudy days
 * from a hash), each with one known defect injected, plus a clean control and
 * one without coordinates. {@link EXPECTED_FLAGS} lists what the report must
 * find, and nothing else.
 */

/** The local days generated (inclusive). */
export const FIRST_DAY = '2023-03-01';
export const LAST_DAY = '2023-04-30';

/** A defect injected into one system. */
export type Defect =
  | 'clock_ahead_april' // the logger's clock 1 h ahead for April (utc_measured_on NULL, so UTC comes from it)
  | 'stuck_poa' // plane-of-array irradiance stuck at one value for a whole day
  | 'watts_as_kw' // AC power logged in W but the dictionary says kW
  | 'night_generation' // 500 W of "generation" in three nights
  | 'missing_week' // no daily file for seven days
  | 'over_capacity' // midday power 1.6 × its normal for three days
  | 'irradiance_x10' // the irradiance channel ten times too large
  | 'none';

/** One synthetic system. */
export interface QualitySystem {
  id: number;
  defect: Defect;
  zone: 'America/Denver' | '-7';
  /** Minutes between readings. */
  cadence: number;
  /** Coordinates in the systems index (one system has none). */
  coordinates: boolean;
  /** Readings the control system carries for ingest to drop: -999 sentinels and NaN, in ac_power. */
  dropped?: { sentinel: number; missing: number };
}

export const QUALITY_SYSTEMS: readonly QualitySystem[] = [
  { id: 9101, defect: 'clock_ahead_april', zone: 'America/Denver', cadence: 5, coordinates: true },
  { id: 9102, defect: 'stuck_poa', zone: '-7', cadence: 5, coordinates: true },
  { id: 9103, defect: 'watts_as_kw', zone: 'America/Denver', cadence: 5, coordinates: true },
  { id: 9104, defect: 'night_generation', zone: '-7', cadence: 5, coordinates: true },
  { id: 9105, defect: 'missing_week', zone: 'America/Denver', cadence: 15, coordinates: true },
  { id: 9106, defect: 'over_capacity', zone: '-7', cadence: 5, coordinates: true },
  { id: 9107, defect: 'irradiance_x10', zone: 'America/Denver', cadence: 5, coordinates: true },
  {
    id: 9108,
    defect: 'none',
    zone: 'America/Denver',
    cadence: 1,
    coordinates: true,
    dropped: { sentinel: 12, missing: 5 },
  },
  { id: 9109, defect: 'none', zone: '-7', cadence: 5, coordinates: false },
];

/** A flag the report must raise: kind, sensor and inclusive local days. */
export interface ExpectedFlag {
  ss_id: number;
  kind: string;
  sensor: string;
  from: string;
  to: string;
  shift_minutes?: number;
}

export const EXPECTED_FLAGS: readonly ExpectedFlag[] = [
  { ss_id: 9101, kind: 'time_shift', sensor: 'ac_power', from: '2023-04-01', to: '2023-04-30', shift_minutes: 60 },
  { ss_id: 9102, kind: 'stuck', sensor: 'poa_irradiance', from: '2023-03-20', to: '2023-03-20' },
  { ss_id: 9103, kind: 'unit_suspect', sensor: 'ac_power', from: FIRST_DAY, to: LAST_DAY },
  { ss_id: 9104, kind: 'night_generation', sensor: 'ac_power', from: '2023-03-15', to: '2023-03-17' },
  { ss_id: 9105, kind: 'missing_days', sensor: '*', from: '2023-04-10', to: '2023-04-16' },
  { ss_id: 9106, kind: 'over_capacity', sensor: 'ac_power', from: '2023-04-05', to: '2023-04-07' },
  { ss_id: 9107, kind: 'out_of_range', sensor: 'poa_irradiance', from: FIRST_DAY, to: LAST_DAY },
];

/** DC capacity of every system, kW. */
export const CAPACITY_KW = 5;
const LATITUDE = 39.74;
const LONGITUDE = -105.18;
const TILT = 25;

/** The channels: sensor, common name, units in the dictionary, metric id offset. */
const CHANNELS = [
  { k: 0, sensor: 'ac_power', common: 'AC power', units: 'W' },
  { k: 1, sensor: 'poa_irradiance', common: 'Irradiance POA', units: 'W/m^2' },
  { k: 2, sensor: 'ambient_temp', common: 'Temperature ambient', units: 'C' },
  { k: 3, sensor: 'module_temp', common: 'Temperature module', units: 'C' },
] as const;

export const metricIdOf = (sys: QualitySystem, k: number) => sys.id * 10 + k;

const lit = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** The readings of one system, as a DuckDB query with columns (local, utc, metric_id, value, file_day). */
function readingsSql(sys: QualitySystem): string {
  const local = sys.zone === '-7' ? 'utc - INTERVAL 7 HOUR' : `timezone('America/Denver', timezone('UTC', utc))`;
  const d = 'CAST(local AS DATE)';
  const minute = 'hour(local) * 60 + minute(local)';
  const acExpr = {
    over_capacity: `CASE WHEN ${d} BETWEEN DATE '2023-04-05' AND DATE '2023-04-07' THEN ac * 1.6 ELSE ac END`,
    night_generation: `CASE WHEN ${d} BETWEEN DATE '2023-03-15' AND DATE '2023-03-17' AND ${minute} BETWEEN 60 AND 240 THEN 500.0 ELSE ac END`,
  }[sys.defect as string];
  const poaExpr = {
    stuck_poa: `CASE WHEN ${d} = DATE '2023-03-20' THEN 512.3 ELSE poa END`,
    irradiance_x10: 'poa * 10',
  }[sys.defect as string];
  return `
    WITH t AS (
      SELECT ts AS utc FROM range(TIMESTAMP '2023-03-01 00:00:00', TIMESTAMP '2023-05-01 12:00:00', INTERVAL ${sys.cadence} MINUTE) r(ts)
    ), geo AS (
      SELECT utc, ${local} AS local,
             radians(23.45 * sin(radians(360.0 / 365 * (284 + dayofyear(utc))))) AS decl,
             radians(360.0 * (dayofyear(utc) - 81) / 364) AS b
      FROM t
    ), sun AS (
      SELECT *, radians(((hour(utc) * 60 + minute(utc) + 4 * ${LONGITUDE}
                + 9.87 * sin(2 * b) - 7.53 * cos(b) - 1.5 * sin(b)) / 60.0 - 12) * 15) AS omega
      FROM geo
    ), sky AS (
      SELECT *,
        sin(radians(${LATITUDE})) * sin(decl) + cos(radians(${LATITUDE})) * cos(decl) * cos(omega) AS cosz,
        sin(decl) * sin(radians(${LATITUDE - TILT})) + cos(decl) * cos(radians(${LATITUDE - TILT})) * cos(omega) AS cosaoi,
        CASE WHEN hash(${sys.id}, ${d}) % 10 < 7 THEN 0.97 ELSE 0.35 + 0.4 * (hash(${sys.id}, ${d}, 1) % 1000) / 1000.0 END AS k,
        (hash(${sys.id}, utc) % 1000) / 1000.0 AS u
      FROM sun
    ), phys AS (
      SELECT *,
        CASE WHEN cosz > 0 THEN k * (1000 * greatest(0, cosaoi) + 110 * cosz) * (0.93 + 0.07 * u) ELSE 0 END AS poa
      FROM sky
    ), vals AS (
      SELECT *, CASE WHEN cosz > 0 THEN ${CAPACITY_KW * 1000} * 0.85 * poa / 1000 ELSE -5.0 END AS ac,
             4 + 8 * greatest(0, cosz) + (dayofyear(utc) - 60) / 8.0 + 1.5 * u AS amb
      FROM phys
    ), shaped AS (
      SELECT utc, local, ${d} AS ld, cosz,
             ${acExpr ?? 'ac'} AS ac, ${poaExpr ?? 'poa'} AS poa, amb, amb + 0.028 * poa + u AS modt
      FROM vals
    ), logged AS (
      SELECT *, ${
        sys.defect === 'clock_ahead_april'
          ? "CASE WHEN ld BETWEEN DATE '2023-04-01' AND DATE '2023-04-30' THEN local + INTERVAL 60 MINUTE ELSE local END"
          : 'local'
      } AS written
      FROM shaped WHERE ld BETWEEN DATE '${FIRST_DAY}' AND DATE '${LAST_DAY}'
    )
    SELECT written AS measured_on, ${sys.defect === 'clock_ahead_april' ? 'CAST(NULL AS TIMESTAMP)' : 'utc'} AS utc_measured_on,
           m.metric_id, m.value, CAST(written AS DATE) AS file_day
    FROM logged, LATERAL (VALUES
      (${metricIdOf(sys, 0)}, round(ac, 3)), (${metricIdOf(sys, 1)}, round(poa, 2)),
      (${metricIdOf(sys, 2)}, round(amb, 2)), (${metricIdOf(sys, 3)}, round(modt, 2))
    ) m(metric_id, value)
    WHERE CAST(written AS DATE) BETWEEN DATE '${FIRST_DAY}' AND DATE '${LAST_DAY}'`;
}

function dictionarySql(sys: QualitySystem): string {
  const rows = CHANNELS.map((c) => {
    const units = sys.defect === 'watts_as_kw' && c.sensor === 'ac_power' ? 'kW' : c.units;
    return `(${sys.id}, ${metricIdOf(sys, c.k)}, ${lit(c.sensor)}, ${lit(c.common)}, ${lit(units)}, ${lit(units)}, 1.0, 0.0, '', 'avg', ${lit(
      c.k === 0 ? 'Inverters' : 'other instruments',
    )}, 1, '', ${lit(c.sensor)})`;
  });
  return `
    SELECT CAST(system_id AS INTEGER) AS system_id, CAST(metric_id AS INTEGER) AS metric_id, sensor_name, common_name,
           raw_units, units, CAST(calc_scale AS DOUBLE) AS calc_scale, CAST(calc_offset AS DOUBLE) AS calc_offset,
           calc_details, aggregation_type, source_type, CAST(source_id AS INTEGER) AS source_id, comments, standard_name
    FROM (VALUES ${rows.join(', ')}) t(system_id, metric_id, sensor_name, common_name, raw_units, units, calc_scale,
      calc_offset, calc_details, aggregation_type, source_type, source_id, comments, standard_name)`;
}

function systemsCsv(): string {
  const header = SYSTEMS_INDEX_COLUMNS.join(',');
  const lines = QUALITY_SYSTEMS.map((s) => {
    const cells: Record<string, string> = {
      system_id: String(s.id),
      system_public_name: `Quality test ${s.id} (${s.defect})`,
      site_location: '"Golden, CO"',
      timezone_or_utc_offset: s.zone,
      latitude: s.coordinates ? String(LATITUDE) : '',
      longitude: s.coordinates ? String(LONGITUDE) : '',
      elevation_m: '1795',
      dc_capacity_kW: String(CAPACITY_KW),
      tracking: 'fixed',
      type: 'ground',
      azimuth: '180',
      tilt: String(TILT),
      available_sensor_channels: String(CHANNELS.length),
      qa_status: 'pass',
    };
    return SYSTEMS_INDEX_COLUMNS.map((c) => cells[c] ?? '').join(',');
  });
  return `${header}\n${lines.join('\n')}\n`;
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/** Writes the mirror into `dir` (a fresh directory). */
export async function writeQualityMirror(dir: string): Promise<void> {
  mkdirSync(join(dir, 'csv'), { recursive: true });
  writeFileSync(join(dir, 'csv', 'systems_20250729.csv'), systemsCsv());
  const db = await DuckDBInstance.create(':memory:', { threads: '2' });
  const conn = await db.connect();
  try {
    await conn.run("SET TimeZone = 'UTC'");
    for (const sys of QUALITY_SYSTEMS) {
      const metrics = join(dir, 'parquet', 'metrics', `metrics__system_${sys.id}__part000.parquet`);
      mkdirSync(dirname(metrics), { recursive: true });
      await conn.run(`COPY (${dictionarySql(sys)}) TO ${lit(metrics)} (FORMAT parquet)`);
      await conn.run(`CREATE OR REPLACE TEMP TABLE g AS ${readingsSql(sys)}`);
      if (sys.dropped) {
        // ac_power readings ingest must drop: -999 sentinels and NaN, on the first night
        const ac = metricIdOf(sys, 0);
        await conn.run(`UPDATE g SET value = -999 WHERE metric_id = ${ac} AND measured_on IN (
          SELECT measured_on FROM g WHERE metric_id = ${ac} ORDER BY measured_on LIMIT ${sys.dropped.sentinel})`);
        await conn.run(`UPDATE g SET value = 'NaN'::DOUBLE WHERE metric_id = ${ac} AND measured_on IN (
          SELECT measured_on FROM g WHERE metric_id = ${ac} ORDER BY measured_on
          LIMIT ${sys.dropped.missing} OFFSET ${sys.dropped.sentinel})`);
      }
      const days = (await conn.runAndReadAll('SELECT DISTINCT CAST(file_day AS VARCHAR) FROM g ORDER BY 1')).getRows();
      for (const [day] of days) {
        const [y, m, dd] = String(day).split('-').map(Number) as [number, number, number];
        if (sys.defect === 'missing_week' && String(day) >= '2023-04-10' && String(day) <= '2023-04-16') continue;
        const key = `parquet/pvdata/system_id=${sys.id}/year=${y}/month=${m}/day=${dd}/system_${sys.id}__date_${y}_${pad2(m)}_${pad2(dd)}.snappy.000.parquet`;
        mkdirSync(dirname(join(dir, key)), { recursive: true });
        await conn.run(
          `COPY (SELECT CAST(measured_on AS TIMESTAMP) AS measured_on, CAST(utc_measured_on AS TIMESTAMP) AS utc_measured_on,
                        CAST(metric_id AS INTEGER) AS metric_id, CAST(value AS DOUBLE) AS value
                 FROM g WHERE file_day = DATE '${day}' ORDER BY measured_on, metric_id)
           TO ${lit(join(dir, key))} (FORMAT parquet, COMPRESSION snappy)`,
        );
      }
    }
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}
