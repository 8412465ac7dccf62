import type { DuckDBConnection } from '@duckdb/node-api';
import { type SystemScope, sunPosition } from '@pv-pipeline/quality/warehouse';
import type { SunSeries } from './sun-positions.js';

/** A located system and the buckets of its grid. */
export interface SunSpan {
  sys: SystemScope;
  first: number;
  last: number;
}

/**
 * Fills `x_sun` (ss_id, b, zenith, azimuth) with the sun's position at the
 * centre of every bucket of `intervalS` of each span, seen from the system,
 * by NREL's SPA (the quality report's implementation): from `ahead` where
 * it was computed there (see SunPositions).
 */
export async function appendSun(
  conn: DuckDBConnection,
  spans: readonly SunSpan[],
  intervalS: number,
  ahead: readonly SunSeries[] = [],
): Promise<void> {
  await conn.run('CREATE OR REPLACE TEMP TABLE x_sun (ss_id BIGINT, b BIGINT, zenith DOUBLE, azimuth DOUBLE)');
  const appender = await conn.createAppender('x_sun', 'main', 'temp');
  for (const { sys, first, last } of spans) {
    const site = { latitude: sys.latitude!, longitude: sys.longitude!, elevation: sys.elevation ?? 0 };
    const id = BigInt(sys.ss_id);
    const pre = ahead.find((s) => s.ss_id === sys.ss_id);
    for (let b = first; b <= last; b++) {
      const i = pre ? b - pre.first : -1;
      // computed ahead when the span was known; here otherwise
      const p =
        pre && i >= 0 && i < pre.zenith.length
          ? { zenith: pre.zenith[i]!, azimuth: pre.azimuth[i]! }
          : sunPosition(site, (b * intervalS + intervalS / 2) * 1000);
      appender.appendBigInt(id);
      appender.appendBigInt(BigInt(b));
      appender.appendDouble(p.zenith);
      appender.appendDouble(p.azimuth);
      appender.endRow();
    }
  }
  appender.closeSync();
}
