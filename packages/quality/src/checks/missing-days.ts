import type { DuckDBConnection } from '@duckdb/node-api';

/**
 * `missing_days`: days between a system's first and last day with data that
 * have no daily object with readings (the ledger's object days, local
 * calendar dates, given in `objectDays`), or, for a system loaded from
 * whole-period files (no object days), on which no sensor has a single
 * reading. Recorded under the sensor `*`, with no readings.
 */
export async function runMissingDaysCheck(
  conn: DuckDBConnection,
  objectDays: ReadonlyMap<number, ReadonlySet<number>>,
): Promise<void> {
  const spans = (await conn.runAndReadAll('SELECT ss_id, first_d, last_d FROM q_span')).getRows();
  const missing: Array<[number, number]> = [];
  for (const [id, first, last] of spans) {
    const days = objectDays.get(Number(id));
    if (!days) continue;
    for (let d = Number(first); d <= Number(last); d++) if (!days.has(d)) missing.push([Number(id), d]);
  }
  for (let i = 0; i < missing.length; i += 500) {
    const part = missing.slice(i, i + 500);
    await conn.run(
      `INSERT INTO q_flag_day VALUES ${part.map(([id, d]) => `(${id}, '*', 'missing_days', ${d}, 0)`).join(', ')}`,
    );
  }
  const withObjects = [...objectDays.keys()];
  await conn.run(`INSERT INTO q_flag_day
    SELECT ss_id, '*', 'missing_days', d, 0 FROM q_sensor_day
    ${withObjects.length > 0 ? `WHERE ss_id NOT IN (${withObjects.join(', ')})` : ''}
    GROUP BY ss_id, d HAVING sum(present) = 0`);
}
