import type { DuckDBConnection } from '@duckdb/node-api';

/**
 * `q_flag_day` collects what the day-level checks find: one row per system,
 * sensor, check and local day, with the readings it covers. Ranges, shares
 * and the daily table are made from it.
 */
export async function createFlagDayTable(conn: DuckDBConnection): Promise<void> {
  await conn.run(
    'CREATE OR REPLACE TEMP TABLE q_flag_day (ss_id BIGINT, sensor VARCHAR, kind VARCHAR, d BIGINT, n BIGINT)',
  );
}

/** Inserts the rows of a query with the columns (ss_id, sensor, d, n) under a kind. */
export async function insertFlagDays(conn: DuckDBConnection, kind: string, sql: string): Promise<void> {
  await conn.run(`INSERT INTO q_flag_day SELECT ss_id, sensor, '${kind}', d, n FROM (${sql}) WHERE n > 0`);
}

/** SQL: a bucket lies wholly in daylight (the sun above 10°), `b` the buckets and `z` the sun. */
export const IN_DAYLIGHT = 'b.slot * 10 >= z.high_start AND b.slot * 10 + 10 <= z.high_end';
/** SQL: a bucket lies wholly in the night (the sun below −5°). */
export const IN_NIGHT = '(b.slot * 10 + 10 <= z.dark_end OR b.slot * 10 >= z.dark_start)';
/** SQL: the sensor kinds that measure power. */
export const POWER_KINDS = "('ac_power', 'dc_power')";
