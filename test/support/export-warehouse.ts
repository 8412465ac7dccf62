import { writeFileSync } from 'node:fs';
import { openSink } from '@pv-pipeline/sinks';
import { exec } from './duckdb.js';

/**
 * A warehouse of synthetic readings with known values, for the ML export's
 * tests: every reading is a function of its instant, so a test can compute
 * each bucket's mean, last and sum by itself.
 *
 * - System 10 (America/Denver, located, 5 kW): 1-minute `ac_power` (W),
 *   `ac_energy_meter` (Wh, a cumulative counter), `ac_energy_interval` (Wh
 *   per minute, rises and falls) and 5-minute `poa_irradiance`; the days
 *   around both 2021 DST changes; `ac_power` has no readings 2021-03-13
 *   17:00–17:59 UTC (a gap), and reads 0 at night (a value, not a gap).
 * - System 20 (UTC−5 fixed, no location, no capacity): 15-minute `ac_power`
 *   on 2021-03-13..15.
 * - Systems 30 and 40 (America/Denver, 3 kW): 15-minute `ac_power` on
 *   2021-03-13..15, for splits by system.
 */
export interface SyntheticReading {
  ss_id: number;
  /** Epoch seconds. */
  t: number;
  sensor: string;
  value: number;
}

const DAY = 86_400;
const day = (iso: string) => Date.parse(`${iso}T00:00:00Z`) / 1000;

/** The days of system 10 (UTC days; its local days are 6–7 hours behind). */
export const SYSTEM10_DAYS = ['2021-03-13', '2021-03-14', '2021-03-15', '2021-11-06', '2021-11-07', '2021-11-08'];
/** The three days of the other systems. */
export const SHORT_DAYS = ['2021-03-13', '2021-03-14', '2021-03-15'];

/** AC power in W at an instant: 0 outside 13:00–24:00 UTC (Denver's day), a sawtooth by day. */
export const acPower = (t: number): number => {
  const h = (t % DAY) / 3600;
  return h < 13 ? 0 : ((t / 60) % 17) * 100 + 50;
};

/** The readings of the warehouse, in time order per system and sensor. */
export function syntheticReadings(extraDay?: string): SyntheticReading[] {
  const out: SyntheticReading[] = [];
  const gap = [day('2021-03-13') + 17 * 3600, day('2021-03-13') + 18 * 3600];
  let meter = 1000;
  for (const d of extraDay ? [...SYSTEM10_DAYS, extraDay] : SYSTEM10_DAYS) {
    for (let t = day(d); t < day(d) + DAY; t += 60) {
      if (t < gap[0]! || t >= gap[1]!) out.push({ ss_id: 10, t, sensor: 'ac_power', value: acPower(t) });
      meter += acPower(t) / 60;
      out.push({ ss_id: 10, t, sensor: 'ac_energy_meter', value: Math.round(meter * 1000) / 1000 });
      out.push({ ss_id: 10, t, sensor: 'ac_energy_interval', value: (t / 60) % 5 });
      if (t % 300 === 0) out.push({ ss_id: 10, t, sensor: 'poa_irradiance', value: ((t / 300) % 11) * 10 });
    }
  }
  for (const ss_id of [20, 30, 40]) {
    for (const d of SHORT_DAYS) {
      for (let t = day(d); t < day(d) + DAY; t += 900)
        out.push({ ss_id, t, sensor: 'ac_power', value: ss_id + (t % 3600) / 60 });
    }
  }
  return out;
}

const SENSORS: Array<[number, number, string, string, string]> = [
  [10, 1, 'ac_power', 'W', 'AC power'],
  [10, 2, 'ac_energy_meter', 'Wh', 'AC energy'],
  [10, 3, 'ac_energy_interval', 'Wh', 'AC energy'],
  [10, 4, 'poa_irradiance', 'W/m^2', 'Irradiance POA'],
  [20, 1, 'ac_power', 'W', 'AC power'],
  [30, 1, 'ac_power', 'W', 'AC power'],
  [40, 1, 'ac_power', 'W', 'AC power'],
];

/**
 * Writes the warehouse into a DuckDB file through the sink (its tables), then
 * the rows: readings, systems, sensors, and one ledger row per system-day.
 * With `extraDay`, system 10 also has that day (a later load: a new object).
 */
export async function writeExportWarehouse(file: string, scratch: string, extraDay?: string): Promise<void> {
  const sink = openSink(`duckdb://${file}`);
  await sink.init();
  await sink.close();
  const readings = syntheticReadings(extraDay);
  const csv = `${scratch}/readings.csv`;
  writeFileSync(
    csv,
    `ss_id,t,sensor,value\n${readings.map((r) => `${r.ss_id},${r.t},${r.sensor},${r.value}`).join('\n')}\n`,
  );
  const units = SENSORS.map(([id, m, s, u]) => `(${id}, ${m}, '${s}', '${u}')`).join(', ');
  await exec(
    file,
    "SET TimeZone = 'UTC'",
    'DELETE FROM pv_reading_rows',
    'DELETE FROM pv_channels',
    'DELETE FROM pv_objects',
    'DELETE FROM pv_ingest_ledger',
    'DELETE FROM pv_systems',
    'DELETE FROM pv_sensors',
    // pv_readings is a view over the sink's storage tables (readings-storage.ts): fill those
    `CREATE TEMP TABLE synthetic AS
     SELECT r.ss_id, to_timestamp(r.t) AS timestamp, to_timestamp(r.t)::TIMESTAMP AS measured_on, r.sensor,
            u.metric_id, u.units, r.value,
            'pvdata/system_id=' || r.ss_id || '/' || strftime(to_timestamp(r.t), '%Y-%m-%d') || '.csv' AS source_key
     FROM read_csv('${csv}', header = true, columns = {'ss_id': 'BIGINT', 't': 'BIGINT', 'sensor': 'VARCHAR', 'value': 'DOUBLE'}) r
     JOIN (VALUES ${units}) u(ss_id, metric_id, sensor, units) USING (ss_id, sensor)`,
    `INSERT INTO pv_channels SELECT row_number() OVER (), * FROM (SELECT DISTINCT ss_id, sensor, metric_id, units FROM synthetic)`,
    'INSERT INTO pv_objects SELECT row_number() OVER (), * FROM (SELECT DISTINCT source_key FROM synthetic)',
    `INSERT INTO pv_reading_rows SELECT s.ss_id, s.timestamp, s.measured_on, c.channel_id, s.value, o.object_id
     FROM synthetic s JOIN pv_channels c USING (ss_id, sensor, metric_id) JOIN pv_objects o USING (source_key)`,
    `INSERT INTO pv_ingest_ledger BY NAME
     SELECT source_key, 'etag-' || source_key AS etag, ss_id, min(timestamp)::DATE AS day, count(*) AS "rows",
            'run-1' AS run_id, TIMESTAMPTZ '2026-01-01 00:00:00+00' AS loaded_at,
            min(timestamp) AS min_timestamp, max(timestamp) AS max_timestamp
     FROM pv_readings GROUP BY source_key, ss_id`,
    `INSERT INTO pv_systems BY NAME SELECT * FROM (VALUES
       (10, 'ten', 39.74, -105.18, 1800.0, 5.0, 'America/Denver'),
       (20, 'twenty', NULL, NULL, NULL, NULL, '-5'),
       (30, 'thirty', 39.74, -105.18, 1800.0, 3.0, 'America/Denver'),
       (40, 'forty', 39.74, -105.18, 1800.0, 3.0, 'America/Denver')
     ) v(ss_id, public_name, latitude, longitude, elevation, dc_capacity_kw, timezone)`,
    `INSERT INTO pv_sensors BY NAME SELECT * FROM (VALUES ${SENSORS.map(
      ([id, m, s, u, c]) => `(${id}, ${m}, '${s}', '${u}', '${c}')`,
    ).join(', ')}) v(ss_id, metric_id, sensor, units, common_name)`,
  );
}
