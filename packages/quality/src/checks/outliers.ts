import type { DuckDBConnection } from '@duckdb/node-api';
import { insertFlagDays, POWER_KINDS } from './flag-days.js';

/** Robust z-score above which a 10-minute mean is an outlier. */
export const OUTLIER_Z = 8;
/** Days of a time of day the norm needs. */
export const OUTLIER_MIN_DAYS = 14;

/**
 * `outlier`: a 10-minute mean whose robust z-score against the same time of
 * day on the other days (median and interquartile range over days, IQR / 1.349
 * as σ, σ at least 10 % of the sensor's p1–p99 spread) exceeds {@link OUTLIER_Z}. Power
 * and irradiance count upward only, and only above 1.1 × their p99: clouds,
 * outages and snow make low values normal. Needs {@link OUTLIER_MIN_DAYS} days of a slot (weather
 * makes a few days a poor norm); runs
 * after the other checks, and a sensor-day they flagged is not flagged again
 * as an outlier (the flag explains it).
 */
export async function runOutlierCheck(conn: DuckDBConnection): Promise<void> {
  await insertFlagDays(
    conn,
    'outlier',
    `WITH m AS MATERIALIZED (
       SELECT b.ss_id, b.sensor, b.d, b.slot, b.n, b.s / b.n AS m, q.kind
       FROM q_buckets b JOIN q_sensor q USING (ss_id, sensor)
       WHERE q.kind NOT IN ('energy', 'other')
     ), spread AS (
       SELECT ss_id, sensor, quantile_cont(m, [0.01, 0.99]) AS p FROM m GROUP BY ALL
     ), slot AS (
       SELECT ss_id, sensor, slot, quantile_cont(m, [0.25, 0.5, 0.75]) AS q, count(*) AS days FROM m GROUP BY ALL
     ), z AS (
       SELECT m.*, (m.m - slot.q[2]) / greatest((slot.q[3] - slot.q[1]) / 1.349, 0.1 * (spread.p[2] - spread.p[1]), 1e-9) AS z,
              spread.p[2] AS p99
       FROM m JOIN slot USING (ss_id, sensor, slot) JOIN spread USING (ss_id, sensor)
       WHERE slot.days >= ${OUTLIER_MIN_DAYS}
     )
     SELECT z.ss_id, z.sensor, z.d, sum(z.n) AS n FROM z
     WHERE CASE WHEN z.kind IN (${POWER_KINDS.slice(1, -1)}, 'irradiance') THEN z.z > ${OUTLIER_Z} AND z.m > 1.1 * z.p99
                ELSE abs(z.z) > ${OUTLIER_Z} END
       AND NOT EXISTS (SELECT 1 FROM q_flag_day f WHERE f.ss_id = z.ss_id AND f.sensor = z.sensor AND f.d = z.d)
     GROUP BY ALL`,
  );
}
