import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { detectCounters } from '../../src/aggregation.js';

/** x_edge of 1-minute readings over `days` days, bucketed at `intervalS`, as the export's edge pass makes it. */
async function edges(series: (minute: number) => number, days: number, intervalS: number): Promise<Set<string>> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    await conn.run(`CREATE TEMP TABLE r AS SELECT 1::BIGINT AS ss_id, 'e' AS sensor, m, 0.0::DOUBLE AS value
                    FROM range(${days * 1440}) t(m)`);
    const values = Array.from({ length: days * 1440 }, (_, m) => series(m));
    await conn.run(`UPDATE r SET value = v.value FROM (SELECT unnest([${values.join(',')}]::DOUBLE[]) AS value,
                    unnest(range(${days * 1440})) AS m) v WHERE v.m = r.m`);
    await conn.run(`CREATE TEMP TABLE x_edge AS SELECT ss_id, sensor, (m * 60) // ${intervalS} AS b,
                    arg_min(value, m) AS first, arg_max(value, m) AS last, min(value) AS mn, max(value) AS mx
                    FROM r GROUP BY ALL`);
    return await detectCounters(conn, intervalS);
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

const daylight = (m: number) => Math.max(0, Math.sin(((m % 1440) / 1440 - 0.25) * 2 * Math.PI));

describe('cumulative counters, whatever the bucket width', () => {
  it('a daily-reset counter and a lifetime meter are counters at 1 m, 15 m and 1 h; energy per interval is not', async () => {
    let today = 0;
    const daily = (m: number) => {
      if (m % 1440 === 0) today = 0;
      today += daylight(m);
      return Math.round(today * 1000) / 1000;
    };
    let total = 0;
    const lifetime = (m: number) => {
      total += daylight(m);
      return Math.round(total * 1000) / 1000;
    };
    for (const interval of [60, 900, 3600]) {
      today = 0;
      total = 0;
      expect(await edges(daily, 5, interval), `daily counter at ${interval} s`).toEqual(new Set(['1\u0000e']));
      expect(await edges(lifetime, 5, interval), `lifetime meter at ${interval} s`).toEqual(new Set(['1\u0000e']));
      expect(await edges(daylight, 5, interval), `energy per interval at ${interval} s`).toEqual(new Set());
    }
  });
});
