import type { DuckDBConnection } from '@duckdb/node-api';
import { insertFlagDays, POWER_KINDS } from './flag-days.js';

/**
 * The checks on values alone, no sun needed:
 * - `unit_suspect`: power whose day peak (largest 10-minute mean) is above
 *   20 × capacity (W labelled kW), or whose largest 10-minute mean over the
 *   whole range is below capacity / 200 (kW labelled W); an ambient
 *   temperature whose daily mean is above 45, or a module temperature's above
 *   65 (°F labelled °C);
 * - `over_capacity`: AC power above 1.2 × DC capacity (not on a sensor
 *   whose units are suspect: the unit is the error there);
 * - `out_of_range`: irradiance, temperature, voltage or frequency outside
 *   physical limits.
 */
export async function runValueChecks(conn: DuckDBConnection): Promise<void> {
  await insertFlagDays(
    conn,
    'unit_suspect',
    `WITH sensor_peak AS (SELECT ss_id, sensor, max(peak) AS peak FROM q_day GROUP BY ALL)
     SELECT day.ss_id, day.sensor, day.d, day.n
     FROM q_day day JOIN q_sensor q USING (ss_id, sensor) JOIN sensor_peak p USING (ss_id, sensor)
     WHERE (q.kind IN ${POWER_KINDS} AND q.capacity > 0
             AND (day.peak > 20 * q.capacity OR (p.peak > 0 AND p.peak < q.capacity / 200)))
        OR (q.kind = 'ambient_temperature' AND lower(coalesce(q.units, '')) <> 'f' AND day.s / day.n > 45)
        OR (q.kind = 'module_temperature' AND lower(coalesce(q.units, '')) <> 'f' AND day.s / day.n > 65)`,
  );
  await insertFlagDays(
    conn,
    'over_capacity',
    `SELECT b.ss_id, b.sensor, b.d, b.n_over AS n FROM q_day b
     WHERE NOT EXISTS (SELECT 1 FROM q_flag_day f WHERE f.kind = 'unit_suspect' AND f.ss_id = b.ss_id AND f.sensor = b.sensor)`,
  );
  await insertFlagDays(
    conn,
    'out_of_range',
    `SELECT b.ss_id, b.sensor, b.d, b.n_lo + b.n_hi AS n FROM q_day b JOIN q_sensor q USING (ss_id, sensor)
     WHERE q.kind NOT IN ${POWER_KINDS}`,
  );
}
