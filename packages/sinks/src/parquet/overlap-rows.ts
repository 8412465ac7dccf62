import { rm } from 'node:fs/promises';
import type { DuckDBConnection } from '@duckdb/node-api';
import { fsyncFile } from '@pv-pipeline/core';
import { sqlString } from '../sql-literal.js';

/**
 * Writes the rows of readings file `file` whose `(timestamp, sensor)` none of
 * the readings files `others` holds to `out` (sorted by timestamp and sensor,
 * ZSTD, fsync'd) and returns their count: how an object loses the readings
 * another object delivers again. Nothing is left at `out` on failure.
 */
export async function writeWithout(
  conn: DuckDBConnection,
  file: string,
  others: readonly string[],
  out: string,
): Promise<number> {
  try {
    const result = await conn.run(
      // hive_partitioning = false: the files sit in ss_id=/year=/month= folders, whose values are no columns of theirs
      `COPY (SELECT * FROM read_parquet(${sqlString(file)}, hive_partitioning = false) o
             WHERE NOT EXISTS (SELECT 1 FROM read_parquet([${others.map(sqlString).join(', ')}], hive_partitioning = false) n
                               WHERE n."timestamp" = o."timestamp" AND n.sensor = o.sensor)
             ORDER BY "timestamp", sensor)
       TO ${sqlString(out)} (FORMAT parquet, COMPRESSION zstd)`,
    );
    await fsyncFile(out);
    return Number(result.rowsChanged);
  } catch (err) {
    await rm(out, { force: true });
    throw err;
  }
}
