import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { StagedManifest } from '@pv-pipeline/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDbSink } from '../src/duckdb/duckdb-sink.js';

const T0 = Date.UTC(2020, 0, 1) * 1000; // µs
const MIN = 60_000_000;

/** Writes a staged file (the transform's schema) with `n` readings of sensor `s` from minute `from`, values `v + i`. */
async function stage(dir: string, name: string, ssId: number, from: number, n: number, v: number): Promise<string> {
  const file = join(dir, `${name}.parquet`);
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  await c.run("SET TimeZone = 'UTC'");
  await c.run(`COPY (SELECT ${ssId}::INTEGER AS ss_id, make_timestamp(${T0} + (${from} + i) * ${MIN})::TIMESTAMPTZ AS timestamp,
      make_timestamp(${T0} + (${from} + i) * ${MIN}) AS measured_on, 'ac_power' AS sensor, 315::INTEGER AS metric_id,
      'W' AS units, (${v} + i)::DOUBLE AS value FROM range(${n}) t(i)) TO '${file}' (FORMAT parquet)`);
  c.closeSync();
  db.closeSync();
  return file;
}

const manifest = (key: string, staged: string, ssId: number, from: number, n: number, etag = 'e1'): StagedManifest => ({
  key,
  etag,
  ss_id: ssId,
  day: '2020-01-01',
  format: 'parquet',
  rows: n,
  staged,
  bytes: 1,
  minTimestamp: String(T0 + from * MIN),
  maxTimestamp: String(T0 + (from + n - 1) * MIN),
  dropped: { missing: 0, sentinel: 0, non_finite: 0, duplicate: 0 },
  droppedBySensor: {},
  group: null,
  order: null,
});

describe('DuckDbSink.commit keeps (ss_id, timestamp, sensor) unique', () => {
  let dir: string;
  let sink: DuckDbSink;
  const rows = async (sql: string) => (await sink.connection.runAndReadAll(sql)).getRowObjectsJS();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pv-duckdb-sink-'));
    sink = new DuckDbSink({ path: join(dir, 'pv.duckdb') });
    await sink.init();
  });
  afterAll(async () => {
    await sink.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('inserts disjoint objects straight away and writes their ledger rows with time ranges', async () => {
    const a = manifest('a', await stage(dir, 'a', 4, 0, 10, 0), 4, 0, 10);
    const b = manifest('b', await stage(dir, 'b', 4, 10, 10, 100), 4, 10, 10);
    expect(await sink.commit([a, b], 'r1')).toEqual({ rows: 20, replaced: 0 });
    expect(await rows('SELECT count(*)::INT AS n FROM pv_readings')).toEqual([{ n: 20 }]);
    const ledger = await rows(
      `SELECT source_key, rows::INT AS rows, epoch_us(min_timestamp) = ${T0} AS starts FROM pv_ingest_ledger ORDER BY 1`,
    );
    expect(ledger).toEqual([
      { source_key: 'a', rows: 10, starts: true },
      { source_key: 'b', rows: 10, starts: false },
    ]);
  });

  it('two objects of one batch delivering the same key: one row, the later object wins', async () => {
    // c covers minutes 30..39, d covers 35..44: five keys in common
    const c = manifest('c', await stage(dir, 'c', 4, 30, 10, 1000), 4, 30, 10);
    const d = manifest('d', await stage(dir, 'd', 4, 35, 10, 2000), 4, 35, 10);
    const r = await sink.commit([c, d], 'r2');
    expect(r.rows).toBe(15);
    const at35 = await rows(
      `SELECT source_key, value FROM pv_readings WHERE timestamp = make_timestamp(${T0 + 35 * MIN})::TIMESTAMPTZ`,
    );
    expect(at35).toEqual([{ source_key: 'd', value: 2000 }]);
  });

  it('an object delivering keys already loaded from another object replaces those rows', async () => {
    const e = manifest('e', await stage(dir, 'e', 4, 5, 10, 5000), 4, 5, 10); // meets a (0..9) and b (10..19)
    const r = await sink.commit([e], 'r3');
    expect(r).toEqual({ rows: 10, replaced: 10 });
    expect(await rows('SELECT count(*)::INT AS n FROM pv_readings')).toEqual([{ n: 35 }]);
    const dup = await rows(
      'SELECT count(*)::INT AS n FROM (SELECT ss_id, timestamp, sensor FROM pv_readings GROUP BY ALL HAVING count(*) > 1)',
    );
    expect(dup).toEqual([{ n: 0 }]);
  });

  it('a changed object replaces exactly its own rows; re-committing the same version adds nothing', async () => {
    const a2 = manifest('a', await stage(dir, 'a2', 4, 0, 3, 7), 4, 0, 3, 'e2');
    const before = await rows(`SELECT count(*)::INT AS n FROM pv_readings WHERE source_key = 'a'`);
    expect(before).toEqual([{ n: 5 }]); // minutes 0..4 (5..9 went to e)
    expect(await sink.commit([a2], 'r4')).toEqual({ rows: 3, replaced: 5 });
    expect(await sink.commit([a2], 'r5')).toEqual({ rows: 3, replaced: 3 });
    expect(await rows(`SELECT count(*)::INT AS n FROM pv_readings WHERE source_key = 'a'`)).toEqual([{ n: 3 }]);
    expect(await rows(`SELECT etag FROM pv_ingest_ledger WHERE source_key = 'a'`)).toEqual([{ etag: 'e2' }]);
  });

  it('a staged file that does not hold what its manifest says fails the whole batch, leaving nothing', async () => {
    const f = manifest('f', await stage(dir, 'f', 5, 0, 4, 0), 5, 0, 5); // says 5, holds 4
    await expect(sink.commit([f], 'r6')).rejects.toThrow(
      /staged files held 4 rows that could be stored, manifests say 5/,
    );
    expect(await rows(`SELECT count(*)::INT AS n FROM pv_readings WHERE ss_id = 5`)).toEqual([{ n: 0 }]);
    expect(await rows(`SELECT count(*)::INT AS n FROM pv_ingest_ledger WHERE source_key = 'f'`)).toEqual([{ n: 0 }]);
  });
});

describe('DuckDbSink dimensions', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pv-duckdb-dims-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const sensor = (metricId: number, name: string, units: string) => ({
    ss_id: 10010,
    metric_id: metricId,
    sensor: name,
    common_name: null,
    raw_units: null,
    units,
    calc_scale: null,
    calc_offset: null,
    aggregation_type: null,
    source_type: 'inverters',
    standard_name: null,
    source_column: name,
    interval_s: null,
  });
  const sensors = async (file: string) => {
    const db = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
    const c = await db.connect();
    const rows = (await c.runAndReadAll('SELECT metric_id, sensor, units FROM pv_sensors ORDER BY sensor')).getRowsJS();
    c.closeSync();
    db.closeSync();
    return rows.map(([m, s, u]) => [Number(m), s, u]);
  };

  it('re-keys a pv_sensors table made when its key was (ss_id, metric_id), keeping its rows; sensors sharing a metric id then coexist', async () => {
    const file = join(dir, 'old.duckdb');
    const old = await DuckDBInstance.create(file);
    const c = await old.connect();
    await c.run(`CREATE TABLE pv_sensors (ss_id BIGINT NOT NULL, metric_id BIGINT NOT NULL, sensor VARCHAR NOT NULL,
      common_name VARCHAR, raw_units VARCHAR, units VARCHAR, calc_scale DOUBLE, calc_offset DOUBLE,
      aggregation_type VARCHAR, source_type VARCHAR, PRIMARY KEY (ss_id, metric_id))`);
    await c.run(`INSERT INTO pv_sensors VALUES (4, 315, 'ac_power', NULL, 'W', 'W', NULL, NULL, NULL, NULL)`);
    c.closeSync();
    old.closeSync();

    const sink = new DuckDbSink({ path: file });
    await sink.init();
    await sink.upsertSensors([
      sensor(52345, 'ac_power_inv_52345_daily_max', 'kW'),
      sensor(52345, 'ac_power_inv_52345_daily_mean', 'kW'),
      sensor(52345, 'ac_energy_inv_52345_daily_sum', 'kWh'),
      sensor(52345, 'ac_power_inv_52345_daily_max', 'W'), // given twice: the last wins
    ]);
    await sink.close();
    expect(await sensors(file)).toEqual([
      [52345, 'ac_energy_inv_52345_daily_sum', 'kWh'],
      [315, 'ac_power', 'W'],
      [52345, 'ac_power_inv_52345_daily_max', 'W'],
      [52345, 'ac_power_inv_52345_daily_mean', 'kW'],
    ]);
  });
});
