import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Logger } from '@pv-pipeline/core';
import { FileObjectStore, SystemCatalog } from '@pv-pipeline/pvdaq';
import type { SensorEntry, SystemRow } from '@pv-pipeline/schema';
import { DuckDbSink } from '@pv-pipeline/sinks';
import { refreshDimensions } from '@pv-pipeline/stages';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { testRedisUrl } from '../../../test/support/test-redis.js';
import { DimensionRefresher, WrittenDimensions } from '../src/dimension-refresher.js';
import { createRedisConnection } from '../src/redis-connection.js';
import { RunStore } from '../src/run-store.js';

const SAMPLES = fileURLToPath(new URL('../../../samples/pvdaq', import.meta.url));
const quiet = { warn: () => undefined } as unknown as Logger;
const request = { systems: [4], from: '2020-01-01', to: '2020-01-31', format: 'parquet' as const };

/** A real DuckDB sink that counts the dimension rows it is sent, call by call. */
function countingSink(path: string) {
  const sink = new DuckDbSink({ path });
  const calls: Array<{ table: 'systems' | 'sensors'; rows: number }> = [];
  let failNext = false;
  let refusedSystem: number | null = null;
  const dimensions = {
    upsertSystems: async (rows: readonly SystemRow[]) => {
      calls.push({ table: 'systems', rows: rows.length });
      if (failNext) {
        failNext = false;
        throw new Error('the warehouse is away');
      }
      await sink.upsertSystems(rows);
    },
    upsertSensors: async (rows: readonly SensorEntry[]) => {
      calls.push({ table: 'sensors', rows: rows.length });
      if (rows.some((r) => r.ss_id === refusedSystem)) throw new Error(`a sensor row of ${refusedSystem} is refused`);
      await sink.upsertSensors(rows);
    },
  };
  return {
    sink,
    dimensions,
    calls,
    failOnce: () => (failNext = true),
    refuseSensorsOf: (id: number) => (refusedSystem = id),
  };
}

/** Every row of a dimension table of a DuckDB file, in key order. */
async function tableRows(file: string, table: string, order: string): Promise<unknown[]> {
  const db = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  const conn = await db.connect();
  try {
    return (await conn.runAndReadAll(`SELECT * FROM ${table} ORDER BY ${order}`)).getRowObjectsJS();
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}

/** A serial lane that is busy (a commit) until `free` is called: jobs arriving meanwhile wait together. */
function busyLane() {
  let free!: () => void;
  let tail: Promise<unknown> = new Promise<void>((r) => (free = r));
  const lane = <R>(fn: () => Promise<R>): Promise<R> => {
    const p = tail.then(fn);
    tail = p.catch(() => undefined);
    return p;
  };
  return { lane, free: () => free() };
}

describe('DimensionRefresher (real DuckDB sink, real Redis, the sample catalog)', () => {
  const work = mkdtempSync(join(tmpdir(), 'pv-dims-'));
  const prefix = `{pvtest-${randomBytes(4).toString('hex')}}`;
  const redis = createRedisConnection(testRedisUrl(), { blocking: false });
  const runs = new RunStore(redis, prefix);
  /** A refresher over a counting sink and the sample catalog, on the test's own serial lane. */
  const refresherOver = (
    counted: ReturnType<typeof countingSink>,
    catalog: SystemCatalog,
    lane: <R>(fn: () => Promise<R>) => Promise<R>,
  ) => new DimensionRefresher({ sink: counted.dimensions, catalog: async () => catalog, runs, logger: quiet, lane });
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    rmSync(work, { recursive: true, force: true });
  });

  it('refreshes the jobs that wait together in one write per table, each run with its own warnings', async () => {
    const catalog = await SystemCatalog.load(new FileObjectStore(SAMPLES));
    const counted = countingSink(join(work, 'cluster.duckdb'));
    await counted.sink.init();
    for (const id of ['a', 'b', 'c']) await runs.create(id, request);
    // the lane is busy (a commit) while three runs' jobs arrive
    const { lane, free } = busyLane();
    const refresher = refresherOver(counted, catalog, lane);
    const jobs = [refresher.refresh('a', [4]), refresher.refresh('b', [50]), refresher.refresh('c', [4, 4242])];
    free();
    const results = await Promise.all(jobs);
    const sensorsOf = async (id: number) => (await catalog.sensors(id)).length;
    expect(results).toEqual([
      { systems: catalog.systems().length, sensors: await sensorsOf(4) },
      { systems: catalog.systems().length, sensors: await sensorsOf(50) },
      { systems: catalog.systems().length, sensors: await sensorsOf(4) },
    ]);
    expect(counted.calls).toEqual([
      { table: 'systems', rows: catalog.systems().length },
      { table: 'sensors', rows: (await sensorsOf(4)) + (await sensorsOf(50)) },
    ]);
    const noChannels = /^system 4242: no channels/;
    expect((await runs.get('a'))!.warnings.some((w) => noChannels.test(w))).toBe(false);
    expect((await runs.get('b'))!.warnings.some((w) => noChannels.test(w))).toBe(false);
    expect((await runs.get('c'))!.warnings.some((w) => noChannels.test(w))).toBe(true);

    // unchanged rows are not sent again; a system not written before is
    counted.calls.length = 0;
    await refresher.refresh('a', [4, 50]);
    expect(counted.calls).toEqual([]);
    await refresher.refresh('b', [51]);
    expect(counted.calls).toEqual([{ table: 'sensors', rows: await sensorsOf(51) }]);
    await counted.sink.close();

    // the same tables, whole rows, as refreshing each system on its own writes them
    const inline = new DuckDbSink({ path: join(work, 'inline.duckdb') });
    await inline.init();
    for (const id of [4, 50, 51, 4242]) await refreshDimensions(inline, catalog, [id], quiet);
    await inline.close();
    for (const [table, order] of [
      ['pv_systems', 'ss_id'],
      ['pv_sensors', 'ss_id, sensor'],
    ] as const) {
      const got = await tableRows(join(work, 'cluster.duckdb'), table, order);
      expect(got.length).toBeGreaterThan(0);
      expect(got).toEqual(await tableRows(join(work, 'inline.duckdb'), table, order));
    }
  });

  it('a failed write is not remembered: the next job writes the rows again', async () => {
    const catalog = await SystemCatalog.load(new FileObjectStore(SAMPLES));
    const counted = countingSink(join(work, 'failing.duckdb'));
    await counted.sink.init();
    await runs.create('d', request);
    const refresher = refresherOver(counted, catalog, (fn) => fn());
    counted.failOnce();
    await expect(refresher.refresh('d', [4])).rejects.toThrow('the warehouse is away');
    await refresher.refresh('d', [4]);
    expect(counted.calls.map((c) => c.table)).toEqual(['systems', 'systems', 'sensors']);
    await counted.sink.close();
    expect(await tableRows(join(work, 'failing.duckdb'), 'pv_sensors', 'sensor')).toHaveLength(
      (await catalog.sensors(4)).length,
    );
  });

  it("one job's refused rows fail that job alone: the others waiting with it are refreshed each on its own", async () => {
    const catalog = await SystemCatalog.load(new FileObjectStore(SAMPLES));
    const counted = countingSink(join(work, 'refusing.duckdb'));
    await counted.sink.init();
    for (const id of ['e', 'f']) await runs.create(id, request);
    counted.refuseSensorsOf(50);
    const { lane, free } = busyLane();
    const refresher = refresherOver(counted, catalog, lane);
    const good = refresher.refresh('e', [4]);
    const bad = refresher.refresh('f', [50]);
    free();
    await expect(bad).rejects.toThrow('a sensor row of 50 is refused');
    expect(await good).toEqual({ systems: catalog.systems().length, sensors: (await catalog.sensors(4)).length });
    await counted.sink.close();
    const stored = (await tableRows(join(work, 'refusing.duckdb'), 'pv_sensors', 'ss_id, sensor')) as Array<{
      ss_id: number;
    }>;
    expect(new Set(stored.map((r) => Number(r.ss_id)))).toEqual(new Set([4]));
  });

  it('a row written longer ago than the max age is written again (a table reset behind the loader heals)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const sent: number[] = [];
      const sink = {
        upsertSystems: async (rows: readonly SystemRow[]) => void sent.push(rows.length),
        upsertSensors: async () => undefined,
      };
      const written = new WrittenDimensions(60_000).over(sink);
      const row = { ss_id: 4 } as SystemRow;
      await written.upsertSystems([row]);
      vi.advanceTimersByTime(59_000);
      await written.upsertSystems([row]);
      vi.advanceTimersByTime(2_000);
      await written.upsertSystems([row]);
      await written.upsertSystems([{ ...row, public_name: 'renamed' } as SystemRow]);
      expect(sent).toEqual([1, 1, 1]);
    } finally {
      vi.useRealTimers();
    }
  });
});
