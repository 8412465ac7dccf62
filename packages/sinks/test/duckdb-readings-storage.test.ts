import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import type { StagedManifest } from '@pv-pipeline/core';
import { ALL_TABLES, duckdbCreateTable, PV_READINGS } from '@pv-pipeline/schema';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DuckDbSink } from '../src/duckdb/duckdb-sink.js';

const T0 = Date.UTC(2020, 0, 1) * 1000; // µs
const MIN = 60_000_000;

/** Readings of a first-layout `pv_readings` table: every column, channels sharing a sensor name, NULL units. */
const OLD_ROWS = `
  (4, make_timestamp(${T0})::TIMESTAMPTZ, make_timestamp(${T0}), 'ac_power', 315, 'W', 1.5, 'k/a.parquet'),
  (4, make_timestamp(${T0 + MIN})::TIMESTAMPTZ, make_timestamp(${T0 + MIN}), 'ac_power', 315, 'W', 2.5, 'k/a.parquet'),
  (4, make_timestamp(${T0})::TIMESTAMPTZ, make_timestamp(${T0}), 'poa', 2001, NULL, 800.0, 'k/a.parquet'),
  (4, make_timestamp(${T0 + 2 * MIN})::TIMESTAMPTZ, make_timestamp(${T0 + 2 * MIN}), 'ac_power', 316, 'kW', 0.003, 'k/b.csv'),
  (9, make_timestamp(${T0})::TIMESTAMPTZ, make_timestamp(${T0 - 7 * 60 * MIN}), 'ac_power', 315, 'W', -0.0, 'k/c.parquet')`;

const SELECT_ALL = `SELECT ss_id, epoch_us("timestamp")::BIGINT AS t, epoch_us(measured_on)::BIGINT AS local, sensor,
  metric_id, units, "value", source_key FROM pv_readings ORDER BY ss_id, t, sensor, metric_id`;

async function rowsOf(file: string, sql: string): Promise<Record<string, unknown>[]> {
  const db = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  const c = await db.connect();
  try {
    await c.run("SET TimeZone = 'UTC'");
    return (await c.runAndReadAll(sql)).getRowObjectsJS();
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

const staged = async (dir: string, name: string, sql: string) => {
  const path = join(dir, `${name}.parquet`);
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  await c.run("SET TimeZone = 'UTC'");
  await c.run(`COPY (${sql}) TO '${path}' (FORMAT parquet)`);
  c.closeSync();
  db.closeSync();
  return path;
};
// the staged columns: two channels, one without units, three minutes each
const readings = (
  v: number,
) => `SELECT 4::INTEGER AS ss_id, make_timestamp(${T0} + i * ${MIN})::TIMESTAMPTZ AS timestamp,
    make_timestamp(${T0} + i * ${MIN}) AS measured_on, s.sensor, s.metric_id::INTEGER AS metric_id, s.units,
    (${v} + i)::DOUBLE AS value
  FROM range(3) t(i), (VALUES ('ac_power', 315, 'W'), ('poa', 2001, NULL)) s(sensor, metric_id, units)`;
// the same readings staged without text: `channel` is a position in the manifest's list (POA first, then W)
const indexedReadings = (v: number, ssId = 4) => `SELECT ${ssId}::INTEGER AS ss_id,
    make_timestamp(${T0} + i * ${MIN})::TIMESTAMPTZ AS timestamp, make_timestamp(${T0} + i * ${MIN}) AS measured_on,
    s.channel::INTEGER AS channel, (${v} + i + s.channel * 0.5)::DOUBLE AS value
  FROM range(3) t(i), (VALUES (1), (0)) s(channel)`;
const W = { sensor: 'ac_power', metric_id: 315, units: 'W' };
const POA = { sensor: 'poa', metric_id: 2001, units: null };
const manifest = (key: string, path: string, ssId: number, from: number, etag: string): StagedManifest => ({
  key,
  etag,
  ss_id: ssId,
  day: '2020-01-01',
  format: 'parquet',
  rows: 6,
  staged: path,
  bytes: 1,
  minTimestamp: String(T0 + from * MIN),
  maxTimestamp: String(T0 + (from + 2) * MIN),
  dropped: { missing: 0, sentinel: 0, non_finite: 0, duplicate: 0 },
  droppedBySensor: {},
  group: null,
  order: null,
});

describe('DuckDB readings storage: pv_readings is a view over rows of integers', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pv-readings-storage-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a database of the first layout moves into the storage tables on open, every row whole', async () => {
    const file = join(dir, 'old.duckdb');
    const db = await DuckDBInstance.create(file);
    const c = await db.connect();
    await c.run("SET TimeZone = 'UTC'");
    for (const t of ALL_TABLES) await c.run(duckdbCreateTable(t, { primaryKey: t !== PV_READINGS }));
    await c.run(`INSERT INTO pv_readings VALUES ${OLD_ROWS}`);
    c.closeSync();
    db.closeSync();
    const before = await rowsOf(file, SELECT_ALL);
    expect(before).toHaveLength(5);

    const sink = new DuckDbSink({ path: file });
    await sink.init();
    await sink.close();

    expect(await rowsOf(file, SELECT_ALL)).toEqual(before);
    expect(
      await rowsOf(
        file,
        `SELECT table_name, table_type FROM information_schema.tables
         WHERE table_name IN ('pv_readings', 'pv_reading_rows', 'pv_channels', 'pv_objects') ORDER BY 1`,
      ),
    ).toEqual([
      { table_name: 'pv_channels', table_type: 'BASE TABLE' },
      { table_name: 'pv_objects', table_type: 'BASE TABLE' },
      { table_name: 'pv_reading_rows', table_type: 'BASE TABLE' },
      { table_name: 'pv_readings', table_type: 'VIEW' },
    ]);
    // four channels (two share the name ac_power in system 4), three objects
    expect(await rowsOf(file, 'SELECT count(*)::INT AS n FROM pv_channels')).toEqual([{ n: 4 }]);
    expect(await rowsOf(file, 'SELECT count(*)::INT AS n FROM pv_objects')).toEqual([{ n: 3 }]);

    // opening it again changes nothing
    const again = new DuckDbSink({ path: file });
    await again.init();
    await again.close();
    expect(await rowsOf(file, SELECT_ALL)).toEqual(before);
  });

  it('a first-layout table written before a nullable column existed moves too, the column NULL', async () => {
    const file = join(dir, 'older.duckdb');
    const db = await DuckDBInstance.create(file);
    const c = await db.connect();
    const withoutUnits = { ...PV_READINGS, columns: PV_READINGS.columns.filter((col) => col.name !== 'units') };
    await c.run(duckdbCreateTable(withoutUnits, { primaryKey: false }));
    await c.run(
      `INSERT INTO pv_readings VALUES (4, make_timestamp(${T0})::TIMESTAMPTZ, make_timestamp(${T0}), 'ac_power', 315, 1.5, 'k/a')`,
    );
    c.closeSync();
    db.closeSync();
    const sink = new DuckDbSink({ path: file });
    await sink.init();
    await sink.close();
    expect(await rowsOf(file, SELECT_ALL)).toEqual([
      {
        ss_id: 4n,
        t: BigInt(T0),
        local: BigInt(T0),
        sensor: 'ac_power',
        metric_id: 315n,
        units: null,
        value: 1.5,
        source_key: 'k/a',
      },
    ]);
  });

  it('the stored rows hold no text; the view gives the schema columns in order, with their types', async () => {
    const file = join(dir, 'new.duckdb');
    const sink = new DuckDbSink({ path: file });
    await sink.init();
    await sink.close();
    const columns = await rowsOf(
      file,
      `SELECT table_name, column_name, data_type FROM information_schema.columns
       WHERE table_name IN ('pv_readings', 'pv_reading_rows') ORDER BY table_name, ordinal_position`,
    );
    expect(columns.filter((c) => c.table_name === 'pv_reading_rows').map((c) => [c.column_name, c.data_type])).toEqual([
      ['ss_id', 'BIGINT'],
      ['timestamp', 'TIMESTAMP WITH TIME ZONE'],
      ['measured_on', 'TIMESTAMP'],
      ['channel_id', 'INTEGER'],
      ['value', 'DOUBLE'],
      ['object_id', 'INTEGER'],
    ]);
    expect(columns.filter((c) => c.table_name === 'pv_readings').map((c) => c.column_name)).toEqual(
      PV_READINGS.columns.map((c) => c.name),
    );
  });

  it('commits number each channel and object once, and a changed object replaces only its own rows', async () => {
    const file = join(dir, 'pv.duckdb');
    const sink = new DuckDbSink({ path: file });
    await sink.init();
    try {
      const other = await staged(dir, 'other', readings(0).replace('4::INTEGER', '7::INTEGER'));
      await sink.commit(
        [manifest('k/a', await staged(dir, 'a1', readings(10)), 4, 0, 'e1'), manifest('k/o', other, 7, 0, 'e1')],
        'r1',
      );
      expect(await sink.commit([manifest('k/a', await staged(dir, 'a2', readings(20)), 4, 0, 'e2')], 'r2')).toEqual({
        rows: 6,
        replaced: 6,
      });
    } finally {
      await sink.close();
    }
    expect(
      await rowsOf(
        file,
        `SELECT ss_id, sensor, units, list("value" ORDER BY "timestamp") AS v, source_key FROM pv_readings
         GROUP BY ALL ORDER BY ss_id, sensor`,
      ),
    ).toEqual([
      { ss_id: 4n, sensor: 'ac_power', units: 'W', v: [20, 21, 22], source_key: 'k/a' },
      { ss_id: 4n, sensor: 'poa', units: null, v: [20, 21, 22], source_key: 'k/a' },
      { ss_id: 7n, sensor: 'ac_power', units: 'W', v: [0, 1, 2], source_key: 'k/o' },
      { ss_id: 7n, sensor: 'poa', units: null, v: [0, 1, 2], source_key: 'k/o' },
    ]);
    expect(
      await rowsOf(file, 'SELECT channel_id, ss_id, sensor, metric_id, units FROM pv_channels ORDER BY channel_id'),
    ).toEqual([
      { channel_id: 1, ss_id: 4n, sensor: 'ac_power', metric_id: 315n, units: 'W' },
      { channel_id: 2, ss_id: 4n, sensor: 'poa', metric_id: 2001n, units: null },
      { channel_id: 3, ss_id: 7n, sensor: 'ac_power', metric_id: 315n, units: 'W' },
      { channel_id: 4, ss_id: 7n, sensor: 'poa', metric_id: 2001n, units: null },
    ]);
    expect(await rowsOf(file, 'SELECT object_id, source_key FROM pv_objects ORDER BY object_id')).toEqual([
      { object_id: 1, source_key: 'k/a' },
      { object_id: 2, source_key: 'k/o' },
    ]);
  });

  it('numbers channels from the manifests when they list them; a channel a manifest misses fails the commit, nothing stored', async () => {
    const file = join(dir, 'listed.duckdb');
    const sink = new DuckDbSink({ path: file });
    await sink.init();
    try {
      const a = { ...manifest('k/a', await staged(dir, 'a', readings(1)), 4, 0, 'e1'), channels: [W, POA] };
      expect(await sink.commit([a], 'r1')).toEqual({ rows: 6, replaced: 0 });
      // system 8's poa is a channel no commit has numbered yet, and b's manifest does not list it
      const b = {
        ...manifest('k/b', await staged(dir, 'b', readings(5).replace('4::INTEGER', '8::INTEGER')), 8, 0, 'e1'),
        channels: [W],
      };
      await expect(sink.commit([b], 'r2')).rejects.toThrow(
        /staged files held 3 rows that could be stored, manifests say 6/,
      );
      // a list with no channel at all fails the same way
      await expect(sink.commit([{ ...b, channels: [] }], 'r3')).rejects.toThrow(
        /staged files held 0 rows that could be stored, manifests say 6/,
      );
    } finally {
      await sink.close();
    }
    expect(
      await rowsOf(
        file,
        'SELECT sensor, units, count(*)::INT AS n, min(source_key) AS k FROM pv_readings GROUP BY ALL ORDER BY 1',
      ),
    ).toEqual([
      { sensor: 'ac_power', units: 'W', n: 3, k: 'k/a' },
      { sensor: 'poa', units: null, n: 3, k: 'k/a' },
    ]);
    expect(await rowsOf(file, "SELECT count(*)::INT AS n FROM pv_ingest_ledger WHERE source_key = 'k/b'")).toEqual([
      { n: 0 },
    ]);
  });
  it('files staged without text store the same rows as with the names, mixed in a batch and when keys collide', async () => {
    // the same three commits into two databases: staged with the names only, and partly without text
    const commits = async (file: string, withoutText: boolean) => {
      const sink = new DuckDbSink({ path: file });
      await sink.init();
      const shifted = (sql: string, by: number) => sql.replaceAll(`${T0} + i`, `${T0 + by * MIN} + i`);
      const object = async (key: string, name: string, ssId: number, from: number, v: number, indexed: boolean) => {
        // values differ by channel (W +0.5, as position 1 of the list without text), so a mix-up shows
        const named = shifted(
          readings(v)
            .replace('4::INTEGER', `${ssId}::INTEGER`)
            .replace(`(${v} + i)::DOUBLE`, `(${v} + i + (s.sensor = 'ac_power')::INTEGER * 0.5)::DOUBLE`),
          from,
        );
        const m = { ...manifest(key, '', ssId, from, 'e1'), channels: indexed ? [POA, W] : [W, POA] };
        if (!indexed) return { ...m, staged: await staged(dir, `${name}-n`, named) };
        const path = await staged(dir, `${name}-i`, shifted(indexedReadings(v, ssId), from));
        return { ...m, staged: path, layout: 'channel_index' as const };
      };
      try {
        const results = [
          // straight path: one of each layout in one batch, two systems
          await sink.commit(
            [await object('k/a', 'a', 4, 0, 10, false), await object('k/b', 'b', 7, 0, 30, withoutText)],
            'r1',
          ),
          // colliding path: system 4 again, a minute later, replacing two of k/a's minutes
          await sink.commit([await object('k/c', 'c', 4, 1, 50, withoutText)], 'r2'),
          // colliding within one batch: both new objects meet, the later-listed wins
          await sink.commit(
            [await object('k/d', 'd', 7, 2, 70, withoutText), await object('k/e', 'e', 7, 3, 90, false)],
            'r3',
          ),
        ];
        return results;
      } finally {
        await sink.close();
      }
    };
    const named = join(dir, 'named.duckdb');
    const mixed = join(dir, 'mixed.duckdb');
    const namedResults = await commits(named, false);
    expect(await commits(mixed, true)).toEqual(namedResults);
    expect(namedResults).toEqual([
      { rows: 12, replaced: 0 },
      { rows: 6, replaced: 4 },
      { rows: 8, replaced: 2 },
    ]);
    const rows = await rowsOf(named, SELECT_ALL);
    expect(rows).toHaveLength(8 + 12);
    expect(await rowsOf(mixed, SELECT_ALL)).toEqual(rows);
    // whole rows of one minute both layouts wrote: k/c replaced k/a's second minute
    expect(rows.filter((r) => r.ss_id === 4n && r.t === BigInt(T0 + MIN))).toEqual([
      {
        ss_id: 4n,
        t: BigInt(T0 + MIN),
        local: BigInt(T0 + MIN),
        sensor: 'ac_power',
        metric_id: 315n,
        units: 'W',
        value: 50.5,
        source_key: 'k/c',
      },
      {
        ss_id: 4n,
        t: BigInt(T0 + MIN),
        local: BigInt(T0 + MIN),
        sensor: 'poa',
        metric_id: 2001n,
        units: null,
        value: 50,
        source_key: 'k/c',
      },
    ]);
    expect(await rowsOf(mixed, 'SELECT count(*)::INT AS n FROM pv_channels')).toEqual([{ n: 4 }]);
  });

  it('a file without text holding a position or a system its manifest does not list fails the commit, nothing stored', async () => {
    const file = join(dir, 'positions.duckdb');
    const sink = new DuckDbSink({ path: file });
    await sink.init();
    try {
      const path = await staged(dir, 'p', indexedReadings(1));
      const m = { ...manifest('k/p', path, 4, 0, 'e1'), layout: 'channel_index' as const };
      // position 1 is beyond a one-channel list
      await expect(sink.commit([{ ...m, channels: [POA] }], 'r1')).rejects.toThrow(
        /staged files held 3 rows that could be stored, manifests say 6/,
      );
      // rows of another system than the manifest's are not relabelled
      const other = await staged(dir, 'q', indexedReadings(1, 8));
      await expect(sink.commit([{ ...m, staged: other, channels: [POA, W] }], 'r2')).rejects.toThrow(
        /staged files held 0 rows that could be stored, manifests say 6/,
      );
      await expect(sink.commit([{ ...m, channels: [] }], 'r2')).rejects.toThrow(
        /k\/p: staged without text \(layout channel_index\) but its manifest lists no channel/,
      );
      expect(await sink.commit([{ ...m, channels: [POA, W] }], 'r3')).toEqual({ rows: 6, replaced: 0 });
    } finally {
      await sink.close();
    }
    expect(await rowsOf(file, 'SELECT DISTINCT run_id FROM pv_ingest_ledger')).toEqual([{ run_id: 'r3' }]);
    expect(
      await rowsOf(
        file,
        'SELECT sensor, units, list("value" ORDER BY "timestamp") AS v FROM pv_readings GROUP BY ALL ORDER BY 1',
      ),
    ).toEqual([
      { sensor: 'ac_power', units: 'W', v: [1.5, 2.5, 3.5] },
      { sensor: 'poa', units: null, v: [1, 2, 3] },
    ]);
  });
});
