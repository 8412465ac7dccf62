import { rm } from 'node:fs/promises';
import type { DuckDBConnection } from '@duckdb/node-api';
import { sqlString } from '../sql-literal.js';
import { fsyncFile } from './durable-files.js';

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
      `COPY (SELECT * FROM read_parquet(${sqlString(file)}) o
             WHERE NOT EXISTS (SELECT 1 FROM read_parquet([${others.map(sqlString).join(', ')}]) n
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
