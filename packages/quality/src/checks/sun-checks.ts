import type { DuckDBConnection } from '@duckdb/node-api';
import { IN_DAYLIGHT, IN_NIGHT, insertFlagDays, POWER_KINDS } from './flag-days.js';

/**
 * The checks that need the sun (systems with coordinates only), on whole
 * 10-minute buckets so that a bucket straddling a boundary is never judged:
 * - `negative_daylight`: power below −1 % of capacity (below 0 without one)
 *   with the sun above 10°;
 * - `night_generation`: power above 1 % of capacity with the sun below −5°
 *   (without a capacity: 10-minute means above 1 % of the sensor's largest);
 * - `stuck`: power, irradiance, temperature or current at one non-zero value
 *   for 2 h or more with the sun above 10° (a power plateau at the sensor's
 *   peak is clipping, not stuck).
 * Sensor-days whose units are suspect are left to `unit_suspect`, and days
 * whose clock is shifted to `time_shift` (power an hour late runs into the
 * night); so the time shift runs first.
 */
export async function runSunChecks(conn: DuckDBConnection): Promise<void> {
  // a sensor-day whose units are suspect, or a day whose clock is shifted, is explained already
  const trusted = `NOT EXISTS (SELECT 1 FROM q_flag_day f WHERE f.ss_id = b.ss_id AND f.d = b.d
    AND ((f.kind = 'unit_suspect' AND f.sensor = b.sensor) OR f.kind = 'time_shift'))`;
  await insertFlagDays(
    conn,
    'negative_daylight',
    `SELECT b.ss_id, b.sensor, b.d, sum(b.n_lo) AS n
     FROM q_buckets b JOIN q_sensor q USING (ss_id, sensor) JOIN q_sun z USING (ss_id, d)
     WHERE q.kind IN ${POWER_KINDS} AND ${IN_DAYLIGHT} AND ${trusted} GROUP BY ALL`,
  );
  await insertFlagDays(
    conn,
    'night_generation',
    `WITH peak AS (SELECT ss_id, sensor, max(peak) AS peak FROM q_day GROUP BY ALL)
     SELECT b.ss_id, b.sensor, b.d,
            sum(CASE WHEN q.capacity > 0 THEN b.n_hi WHEN b.s / b.n > 0.01 * p.peak THEN b.n ELSE 0 END) AS n
     FROM q_buckets b JOIN q_sensor q USING (ss_id, sensor) JOIN q_sun z USING (ss_id, d) JOIN peak p USING (ss_id, sensor)
     WHERE q.kind IN ${POWER_KINDS} AND ${IN_NIGHT} AND ${trusted} GROUP BY ALL`,
  );
  // runs of constant daylight buckets with one value; a run may skip empty
  // buckets up to twice the sensor's cadence
  await insertFlagDays(
    conn,
    'stuck',
    `WITH peak AS (SELECT ss_id, sensor, max(peak) AS peak FROM q_day GROUP BY ALL),
     flat AS (
       SELECT b.ss_id, b.sensor, b.d, b.slot, b.n, b.mn AS v,
              greatest(1, ceil(2 * i.interval_s / 600)) AS gap
       FROM q_buckets b JOIN q_sensor q USING (ss_id, sensor) JOIN q_sun z USING (ss_id, d)
         JOIN peak p USING (ss_id, sensor) JOIN q_interval i USING (ss_id, sensor)
       WHERE q.kind IN ('ac_power', 'dc_power', 'irradiance', 'ambient_temperature', 'module_temperature', 'temperature', 'current')
         AND ${IN_DAYLIGHT} AND b.mn = b.mx AND b.mn <> 0
         AND NOT (q.kind IN ${POWER_KINDS} AND b.mn >= 0.9 * p.peak) AND ${trusted}
     ), marked AS (
       SELECT *, CASE WHEN lag(v) OVER w = v AND slot - lag(slot) OVER w <= gap THEN 0 ELSE 1 END AS starts
       FROM flat WINDOW w AS (PARTITION BY ss_id, sensor, d ORDER BY slot)
     ), runs AS (
       SELECT *, sum(starts) OVER (PARTITION BY ss_id, sensor, d ORDER BY slot) AS run FROM marked
     ), long_runs AS (
       SELECT ss_id, sensor, d, sum(n) AS n FROM runs GROUP BY ss_id, sensor, d, run
       HAVING (max(slot) - min(slot) + 1) * 10 >= 120
     )
     SELECT ss_id, sensor, d, sum(n) AS n FROM long_runs GROUP BY ALL`,
  );
}
