import type { DuckDBConnection } from '@duckdb/node-api';
import { BUCKET_S } from './buckets.js';

/**
 * Cadence and completeness. A sensor-day's cadence is estimated as the span
 * it covers (first to last 10-minute bucket with a reading) over the readings
 * in it, snapped to the nearest standard logger interval; the sensor's
 * `interval_s` is the estimate most of its readings agree with. A day then
 * expects 86,400 / interval_s readings on the UTC grid, and its completeness
 * is present / expected (at most 1).
 */

/** Logger intervals a cadence estimate snaps to, seconds. */
export const STANDARD_INTERVALS = [1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 300, 600, 900, 1200, 1800, 3600] as const;

/**
 * Creates `q_day`, the buckets summed per sensor-day (readings, sum, peak
 * 10-minute mean, first and last slot, threshold counts) that the day-level
 * checks read, `q_interval` (ss_id, sensor, interval_s) and `q_sensor_day`
 * (ss_id, sensor, d, present, expected, completeness): every sensor with a
 * reading, every day of its system's span (`q_span`), days without readings
 * included with present 0.
 */
export async function createCadenceTables(conn: DuckDBConnection): Promise<void> {
  await conn.run(`CREATE OR REPLACE TEMP TABLE q_day AS
    SELECT ss_id, sensor, d, sum(n) AS n, sum(s) AS s, max(s / n) AS peak, min(slot) AS first_slot,
           max(slot) AS last_slot, sum(n_lo) AS n_lo, sum(n_hi) AS n_hi, sum(n_over) AS n_over
    FROM q_buckets GROUP BY ALL`);
  await conn.run(`CREATE OR REPLACE TEMP TABLE q_interval AS
    WITH day AS (
      SELECT ss_id, sensor, d, n AS present, (last_slot - first_slot + 1) * ${BUCKET_S} AS span_s FROM q_day
    ), cad AS (SELECT unnest([${STANDARD_INTERVALS.join(', ')}]) AS c),
    snapped AS (
      SELECT ss_id, sensor, d, present, arg_min(c, abs(ln(span_s / present / c))) AS c
      FROM day, cad WHERE present >= 2 GROUP BY ALL
    ), weight AS (SELECT ss_id, sensor, c, sum(present) AS w FROM snapped GROUP BY ALL)
    SELECT s.ss_id, s.sensor, coalesce(arg_max(w.c, w.w), 86400)::BIGINT AS interval_s
    FROM (SELECT DISTINCT ss_id, sensor FROM q_day) s LEFT JOIN weight w USING (ss_id, sensor)
    GROUP BY ALL`);
  await conn.run(`CREATE OR REPLACE TEMP TABLE q_sensor_day AS
    WITH present AS (SELECT ss_id, sensor, d, n AS present FROM q_day)
    SELECT i.ss_id, i.sensor, g.d, coalesce(p.present, 0)::BIGINT AS present,
           (86400 // i.interval_s)::BIGINT AS expected,
           least(1.0, coalesce(p.present, 0) / (86400 // i.interval_s)) AS completeness
    FROM q_interval i JOIN q_span s USING (ss_id)
    CROSS JOIN LATERAL (SELECT unnest(range(s.first_d, s.last_d + 1)) AS d) g
    LEFT JOIN present p ON p.ss_id = i.ss_id AND p.sensor = i.sensor AND p.d = g.d`);
}
