import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { BadInputError, derivedId, type StagedManifest } from '@pv-pipeline/core';
import type { SensorEntry, SystemRow } from '@pv-pipeline/schema';
import { duckdbType, PV_READINGS } from '@pv-pipeline/schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openParquetSink, ParquetDatasetSink } from '../src/parquet/parquet-sink.js';
import { ReadingsFileWriter } from '../src/parquet/readings-file.js';

/** One staged reading: UTC instant, sensor, metric id, units, value. */
type Reading = [string, string, number, string | null, number];

let work: string;
let root: string;
let db: DuckDBInstance;
let conn: DuckDBConnection;
let sink: ParquetDatasetSink;
let stagedSeq = 0;

const lit = (s: string | null) => (s === null ? 'NULL' : `'${s.replaceAll("'", "''")}'`);

/** Writes a staged file with the staged schema and returns its manifest. */
async function stage(
  key: string,
  etag: string,
  ssId: number,
  day: string,
  readings: Reading[],
): Promise<StagedManifest> {
  const base = { key, etag, ss_id: ssId, day, format: 'parquet' as const, rows: readings.length };
  const dropped = { missing: 0, sentinel: 0, non_finite: 0, duplicate: 0 };
  if (readings.length === 0) {
    return {
      ...base,
      staged: null,
      bytes: 0,
      minTimestamp: null,
      maxTimestamp: null,
      dropped,
      droppedBySensor: {},
      group: null,
      order: null,
    };
  }
  const file = path.join(work, 'staged', `s${++stagedSeq}.parquet`);
  const values = readings
    .map(
      ([ts, sensor, metric, units, value]) =>
        `(${ssId}::INTEGER, TIMESTAMPTZ ${lit(ts)}, (TIMESTAMPTZ ${lit(ts)} - INTERVAL 7 HOUR)::TIMESTAMP, ${lit(sensor)}, ${metric}::INTEGER, ${lit(units)}, ${value}::DOUBLE)`,
    )
    .join(', ');
  await conn.run(
    `COPY (SELECT * FROM (VALUES ${values}) t(ss_id, "timestamp", measured_on, sensor, metric_id, units, "value"))
     TO ${lit(file)} (FORMAT parquet)`,
  );
  const size = (await stat(file)).size;
  return {
    ...base,
    staged: file,
    bytes: size,
    minTimestamp: '0',
    maxTimestamp: '0',
    dropped,
    droppedBySensor: {},
    group: null,
    order: null,
  };
}

async function query(sql: string): Promise<Record<string, unknown>[]> {
  const r = await conn.runAndReadAll(sql);
  return r.getRowObjectsJS() as Record<string, unknown>[];
}

const readingsGlob = () => lit(path.join(root, 'pv_readings', '**', '*.parquet'));
const dataset = () => `read_parquet(${readingsGlob()}, hive_partitioning = true)`;

async function allFiles(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String);
}

const system = (ssId: number, name: string, capacity: number | null): SystemRow => ({
  ss_id: ssId,
  public_name: name,
  site_id: 10 + ssId,
  site_location: 'Golden, CO',
  latitude: 39.74,
  longitude: -105.17,
  elevation: 1800,
  av_pressure: null,
  av_temp: 10.5,
  climate_type: 'Dfb',
  mount_azimuth: 180,
  mount_tilt: 40,
  orientations: 1,
  tracking: 'fixed',
  mount_type: 'ground',
  dc_capacity_kw: capacity,
  area_m2: null,
  timezone: '-7',
  started_on: '2010-01-01T07:00:00.000Z',
  ended_on: null,
  qa_status: 'pass',
  qa_issue: null,
  available_sensor_channels: 12,
});

const sensor = (ssId: number, metricId: number, name: string, units: string | null): SensorEntry => ({
  ss_id: ssId,
  metric_id: metricId,
  sensor: name,
  common_name: 'AC power',
  raw_units: units,
  units,
  calc_scale: 1,
  calc_offset: 0,
  aggregation_type: 'avg',
  source_type: 'inverters',
  standard_name: null,
  source_column: `${name}__${metricId}`,
  interval_s: null,
});

// Keys as in the PVDAQ layout.
const KEY_A = 'parquet/pvdata/system_id=4/year=2020/month=1/day=23/system_4__date_2020_01_23.parquet';
const KEY_B = 'parquet/pvdata/system_id=4/year=2020/month=2/day=1/system_4__date_2020_02_01.parquet';
const KEY_C = 'csv/pvdata/system_id=10/year=2019/month=12/day=31/system_10__date_2019_12_31.csv';

let mA: StagedManifest;
let mB: StagedManifest;
let mC: StagedManifest;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'pv-parquet-sink-'));
  root = path.join(work, 'dataset');
  await mkdir(path.join(work, 'staged'));
  db = await DuckDBInstance.create(':memory:');
  conn = await db.connect();
  await conn.run(`SET TimeZone = 'UTC'`);
  sink = new ParquetDatasetSink({ root, threads: 2 });
  await sink.init();
  // Deliberately unsorted, with a NULL unit.
  mA = await stage(KEY_A, 'etag-a1', 4, '2020-01-23', [
    ['2020-01-23 12:15:00+00', 'ac_power', 1, 'W', 1500],
    ['2020-01-23 12:00:00+00', 'ac_power', 1, 'W', 1000],
    ['2020-01-23 12:00:00+00', 'ambient_temp', 2, null, 3.5],
  ]);
  mB = await stage(KEY_B, 'etag-b1', 4, '2020-02-01', [['2020-02-01 18:00:00+00', 'ac_power', 1, 'W', 2000]]);
  mC = await stage(KEY_C, 'etag-c1', 10, '2019-12-31', [
    ['2019-12-31 20:00:00+00', 'dc_power', 7, 'kW', 4.25],
    ['2019-12-31 21:00:00+00', 'dc_power', 7, 'kW', 4.5],
  ]);
});

afterAll(async () => {
  await sink?.close();
  conn?.closeSync();
  db?.closeSync();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('ParquetDatasetSink', () => {
  it('commits objects of two systems as one hive-partitioned dataset with the schema types', async () => {
    const res = await sink.commit([mA, mB, mC], 'run-1');
    expect(res).toEqual({ rows: 6, replaced: 0 });

    const files = (await allFiles(path.join(root, 'pv_readings'))).filter((f) => f.endsWith('.parquet')).sort();
    expect(files).toEqual(
      [
        `ss_id=10/year=2019/month=12/part-${derivedId(KEY_C)}.parquet`,
        `ss_id=4/year=2020/month=1/part-${derivedId(KEY_A)}.parquet`,
        `ss_id=4/year=2020/month=2/part-${derivedId(KEY_B)}.parquet`,
      ].sort(),
    );

    // One dataset: the schema's columns (ss_id once), then the path's year/month (DuckDB orders those by name).
    const cols = (await query(`DESCRIBE SELECT * FROM ${dataset()}`)).map((c) => [c.column_name, c.column_type]);
    const describeType = (t: string) => (t === 'TIMESTAMPTZ' ? 'TIMESTAMP WITH TIME ZONE' : t);
    const n = PV_READINGS.columns.length;
    expect(cols.slice(0, n)).toEqual(PV_READINGS.columns.map((c) => [c.name, describeType(duckdbType(c.type))]));
    expect(cols.slice(n).sort()).toEqual([
      ['month', 'BIGINT'],
      ['year', 'BIGINT'],
    ]);

    // Physical types: timestamp UTC-adjusted, measured_on local.
    const fileA = path.join(root, 'pv_readings', 'ss_id=4', 'year=2020', 'month=1', `part-${derivedId(KEY_A)}.parquet`);
    const schema = await query(`SELECT name, logical_type FROM parquet_schema(${lit(fileA)})`);
    const logical = Object.fromEntries(schema.map((r) => [r.name, String(r.logical_type)]));
    expect(logical.timestamp).toContain('isAdjustedToUTC=1');
    expect(logical.measured_on).toContain('isAdjustedToUTC=0');
    const codecs = await query(`SELECT DISTINCT compression FROM parquet_metadata(${lit(fileA)})`);
    expect(codecs.map((r) => r.compression)).toEqual(['ZSTD']);

    const rows = await query(
      `SELECT ss_id, "timestamp"::VARCHAR AS ts, measured_on::VARCHAR AS local, sensor, metric_id, units, "value", source_key, "year", "month"
       FROM ${dataset()} ORDER BY ss_id, "timestamp", sensor`,
    );
    expect(rows).toEqual([
      {
        ss_id: 4n,
        ts: '2020-01-23 12:00:00+00',
        local: '2020-01-23 05:00:00',
        sensor: 'ac_power',
        metric_id: 1n,
        units: 'W',
        value: 1000,
        source_key: KEY_A,
        year: 2020n,
        month: 1n,
      },
      expect.objectContaining({ ts: '2020-01-23 12:00:00+00', sensor: 'ambient_temp', units: null, source_key: KEY_A }),
      expect.objectContaining({ ts: '2020-01-23 12:15:00+00', sensor: 'ac_power', value: 1500, source_key: KEY_A }),
      expect.objectContaining({ ss_id: 4n, month: 2n, value: 2000, source_key: KEY_B }),
      expect.objectContaining({ ss_id: 10n, year: 2019n, month: 12n, value: 4.25, source_key: KEY_C }),
      expect.objectContaining({ ss_id: 10n, value: 4.5, source_key: KEY_C }),
    ]);

    // Each file is sorted by timestamp, sensor as written.
    const inFile = await query(`SELECT "timestamp"::VARCHAR AS ts, sensor FROM read_parquet(${lit(fileA)})`);
    expect(inFile).toEqual([
      { ts: '2020-01-23 12:00:00+00', sensor: 'ac_power' },
      { ts: '2020-01-23 12:00:00+00', sensor: 'ambient_temp' },
      { ts: '2020-01-23 12:15:00+00', sensor: 'ac_power' },
    ]);
    expect((await allFiles(root)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('re-committing the same manifests rewrites the files without duplicating rows', async () => {
    const res = await sink.commit([mA, mB, mC], 'run-2');
    expect(res).toEqual({ rows: 6, replaced: 6 });
    const [{ n }] = (await query(`SELECT count(*) AS n FROM ${dataset()}`)) as [{ n: bigint }];
    expect(n).toBe(6n);
    const keys = await query(
      `SELECT count(*) AS n FROM (SELECT DISTINCT ss_id, "timestamp", sensor FROM ${dataset()})`,
    );
    expect(keys[0]!.n).toBe(6n);
  });

  it('a changed object replaces exactly its own rows', async () => {
    const mA2 = await stage(KEY_A, 'etag-a2', 4, '2020-01-23', [
      ['2020-01-23 13:00:00+00', 'ac_power', 1, 'W', 42],
      ['2020-01-23 14:00:00+00', 'ac_power', 1, 'W', 43],
    ]);
    const res = await sink.commit([mA2], 'run-3');
    expect(res).toEqual({ rows: 2, replaced: 3 });
    const bySource = await query(
      `SELECT source_key, count(*) AS n, sum("value") AS total FROM ${dataset()} GROUP BY source_key ORDER BY source_key`,
    );
    expect(bySource).toEqual([
      { source_key: KEY_C, n: 2n, total: 8.75 },
      { source_key: KEY_A, n: 2n, total: 85 },
      { source_key: KEY_B, n: 1n, total: 2000 },
    ]);
  });

  it('ledgerEtags returns the latest etag per key and honours the filter', async () => {
    const all = await sink.ledgerEtags({ ssIds: 'all', from: '2000-01-01', to: '2030-12-31' });
    expect(Object.fromEntries(all)).toEqual({ [KEY_A]: 'etag-a2', [KEY_B]: 'etag-b1', [KEY_C]: 'etag-c1' });

    const sys4 = await sink.ledgerEtags({ ssIds: [4], from: '2000-01-01', to: '2030-12-31' });
    expect([...sys4.keys()].sort()).toEqual([KEY_A, KEY_B].sort());

    const jan = await sink.ledgerEtags({ ssIds: [4, 10], from: '2020-01-01', to: '2020-01-31' });
    expect(Object.fromEntries(jan)).toEqual({ [KEY_A]: 'etag-a2' });

    expect((await sink.ledgerEtags({ ssIds: [], from: '2000-01-01', to: '2030-12-31' })).size).toBe(0);
    expect((await sink.ledgerEtags({ ssIds: [99], from: '2000-01-01', to: '2030-12-31' })).size).toBe(0);

    // One ledger file per committed batch; a fresh root has none and an empty ledger.
    const ledgers = await readdir(path.join(root, 'pv_ingest_ledger'));
    expect(ledgers.filter((f) => /^ledger-[0-9a-f]{32}\.parquet$/.test(f))).toHaveLength(3);
    const empty = new ParquetDatasetSink({ root: path.join(work, 'empty') });
    await empty.init();
    expect((await empty.ledgerEtags({ ssIds: 'all', from: '2000-01-01', to: '2030-12-31' })).size).toBe(0);
    await empty.close();
  });

  it('a manifest with 0 rows deletes its object file and records the new etag', async () => {
    const mB0 = await stage(KEY_B, 'etag-b2', 4, '2020-02-01', []);
    expect(await sink.commit([mB0], 'run-4')).toEqual({ rows: 0, replaced: 1 });
    const keys = await query(`SELECT DISTINCT source_key FROM ${dataset()} ORDER BY 1`);
    expect(keys.map((r) => r.source_key)).toEqual([KEY_C, KEY_A]);
    const etags = await sink.ledgerEtags({ ssIds: [4], from: '2020-02-01', to: '2020-02-01' });
    expect(etags.get(KEY_B)).toBe('etag-b2');
  });

  it('an unusable staged file fails the batch and publishes nothing of it', async () => {
    const before = await query(`SELECT source_key, count(*) AS n FROM ${dataset()} GROUP BY 1 ORDER BY 1`);
    const mB3 = await stage(KEY_B, 'etag-b3', 4, '2020-02-01', [['2020-02-01 18:00:00+00', 'ac_power', 1, 'W', 7]]);
    const liar = { ...(await stage(KEY_C, 'etag-c2', 10, '2019-12-31', [])), rows: 1, staged: mA.staged }; // ss_id 4 rows
    await expect(sink.commit([mB3, liar], 'run-5')).rejects.toSatisfy(
      (e) => e instanceof BadInputError && e.input === KEY_C && /ss_id 4 differs/.test(e.reason),
    );
    expect(await query(`SELECT source_key, count(*) AS n FROM ${dataset()} GROUP BY 1 ORDER BY 1`)).toEqual(before);
    expect((await allFiles(root)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect((await sink.ledgerEtags({ ssIds: 'all', from: '2000-01-01', to: '2030-12-31' })).get(KEY_B)).toBe('etag-b2');
  });

  it('refuses files staged without text (layout channel_index, for a DuckDB sink), publishing nothing', async () => {
    const before = await query(`SELECT source_key, count(*) AS n FROM ${dataset()} GROUP BY 1 ORDER BY 1`);
    const mB4 = await stage(KEY_B, 'etag-b4', 4, '2020-02-01', [['2020-02-01 18:00:00+00', 'ac_power', 1, 'W', 9]]);
    await expect(sink.commit([{ ...mB4, layout: 'channel_index' }], 'run-6')).rejects.toThrow(
      new RegExp(`${KEY_B} was staged without text \\(layout channel_index\\), which only a DuckDB sink reads`),
    );
    expect(await query(`SELECT source_key, count(*) AS n FROM ${dataset()} GROUP BY 1 ORDER BY 1`)).toEqual(before);
    expect((await sink.ledgerEtags({ ssIds: 'all', from: '2000-01-01', to: '2030-12-31' })).get(KEY_B)).toBe('etag-b2');
  });

  it('upsertSystems / upsertSensors keep one row per key with the newest values', async () => {
    await sink.upsertSystems([system(4, 'Old name', 5), system(10, 'Ten', 2.5)]);
    await sink.upsertSystems([system(4, 'New name', 7.5)]);
    const file = lit(path.join(root, 'pv_systems', 'pv_systems.parquet'));
    const rows = await query(
      `SELECT ss_id, public_name, dc_capacity_kw, started_on::VARCHAR AS started, ended_on FROM read_parquet(${file}) ORDER BY ss_id`,
    );
    expect(rows).toEqual([
      { ss_id: 4n, public_name: 'New name', dc_capacity_kw: 7.5, started: '2010-01-01 07:00:00+00', ended_on: null },
      { ss_id: 10n, public_name: 'Ten', dc_capacity_kw: 2.5, started: '2010-01-01 07:00:00+00', ended_on: null },
    ]);
    const types = await query(`DESCRIBE SELECT ss_id, site_id, latitude, started_on FROM read_parquet(${file})`);
    expect(types.map((t) => t.column_type)).toEqual(['BIGINT', 'BIGINT', 'DOUBLE', 'TIMESTAMP WITH TIME ZONE']);

    await sink.upsertSensors([sensor(4, 1, 'ac_power', 'W'), sensor(4, 2, 'ambient_temp', null)]);
    await sink.upsertSensors([sensor(4, 2, 'ambient_temp', 'degC'), sensor(10, 7, 'dc_power', 'kW')]);
    const sensors = await query(
      `SELECT ss_id, metric_id, sensor, units FROM read_parquet(${lit(path.join(root, 'pv_sensors', 'pv_sensors.parquet'))})`,
    );
    expect(sensors).toEqual([
      { ss_id: 4n, metric_id: 1n, sensor: 'ac_power', units: 'W' },
      { ss_id: 4n, metric_id: 2n, sensor: 'ambient_temp', units: 'degC' },
      { ss_id: 10n, metric_id: 7n, sensor: 'dc_power', units: 'kW' },
    ]);
    expect((await allFiles(root)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('init removes stale temp files left by a crash', async () => {
    const stale = path.join(root, 'pv_readings', 'ss_id=4', 'year=2020', 'month=1', 'part-x.parquet.123-1.tmp');
    await writeFile(stale, 'half a file');
    const again = new ParquetDatasetSink({ root });
    await again.init();
    await again.close();
    expect((await allFiles(root)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const [{ n }] = (await query(`SELECT count(*) AS n FROM ${dataset()}`)) as [{ n: bigint }];
    expect(n).toBe(4n);
  });

  it('rejects a root that is a file', async () => {
    const file = path.join(work, 'not-a-dir');
    await writeFile(file, 'x');
    const bad = new ParquetDatasetSink({ root: file });
    await expect(bad.init()).rejects.toSatisfy((e) => e instanceof BadInputError && e.input === '--sink');
    await bad.close();
  });

  it('two objects delivering the same keys: the later wins, across batches and within one, and no key is kept twice', async () => {
    const own = new ParquetDatasetSink({ root: path.join(work, 'overlap-root'), threads: 1 });
    await own.init();
    /** A staged object with its true time range (the overlap search uses it). */
    const ranged = async (key: string, etag: string, day: string, readings: Reading[]) => {
      const m = await stage(key, etag, 9, day, readings);
      const ms = readings.map(([ts]) => Date.parse(ts.replace(' ', 'T').replace('+00', 'Z')));
      return { ...m, minTimestamp: String(Math.min(...ms) * 1000), maxTimestamp: String(Math.max(...ms) * 1000) };
    };
    const at = (hh: string): string => `2021-05-01 ${hh}:00:00+00`;
    const pq = 'parquet/pvdata/system_id=9/year=2021/month=5/day=1/system_9__date_2021_05_01.parquet';
    const csv = 'csv/pvdata/system_id=9/year=2021/month=5/day=1/system_9__date_2021_05_01.csv';
    const facts = async () =>
      (
        await query(
          `SELECT strftime("timestamp", '%H') AS h, "value" AS v, source_key AS k
           FROM read_parquet(${lit(path.join(work, 'overlap-root', 'pv_readings', '**', '*.parquet'))}) ORDER BY h`,
        )
      ).map((r) => `${r.h}=${r.v}${String(r.k).startsWith('csv') ? 'c' : 'p'}`);
    try {
      const a = await ranged(pq, 'pa1', '2021-05-01', [
        [at('10'), 'p', 1, 'W', 1],
        [at('11'), 'p', 1, 'W', 2],
        [at('12'), 'p', 1, 'W', 3],
      ]);
      expect(await own.commit([a], 'r1')).toEqual({ rows: 3, replaced: 0 });
      // the CSV of the same day, delivered later: its keys win, the Parquet file keeps the rest
      const b = await ranged(csv, 'cb1', '2021-05-01', [
        [at('11'), 'p', 1, 'W', 20],
        [at('12'), 'p', 1, 'W', 30],
        [at('13'), 'p', 1, 'W', 40],
      ]);
      expect(await own.commit([b], 'r2')).toEqual({ rows: 3, replaced: 2 });
      expect(await facts()).toEqual(['10=1p', '11=20c', '12=30c', '13=40c']);
      // both in one batch (new versions): the later in the batch wins
      const a2 = await ranged(pq, 'pa2', '2021-05-01', [
        [at('10'), 'p', 1, 'W', 100],
        [at('13'), 'p', 1, 'W', 400],
      ]);
      const b2 = await ranged(csv, 'cb2', '2021-05-01', [
        [at('12'), 'p', 1, 'W', 300],
        [at('13'), 'p', 1, 'W', 401],
      ]);
      await own.commit([a2, b2], 'r3');
      expect(await facts()).toEqual(['10=100p', '12=300c', '13=401c']);
      // the Parquet object delivering every key of the CSV one: the CSV file goes
      const a3 = await ranged(pq, 'pa3', '2021-05-01', [
        [at('12'), 'p', 1, 'W', 3000],
        [at('13'), 'p', 1, 'W', 4000],
      ]);
      expect(await own.commit([a3], 'r4')).toEqual({ rows: 2, replaced: 3 });
      expect(await facts()).toEqual(['12=3000p', '13=4000p']);
    } finally {
      await own.close();
    }
  });

  it('a readings file a worker wrote (layout pv_readings) is moved into place: the same file, the same rows', async () => {
    const writer = new ReadingsFileWriter();
    const plainRoot = path.join(work, 'plain-dataset');
    const movedRoot = path.join(work, 'moved-dataset');
    const plain = new ParquetDatasetSink({ root: plainRoot });
    const moved = new ParquetDatasetSink({ root: movedRoot });
    try {
      await plain.init();
      await moved.init();
      const m = await stage(KEY_A, 'etag-w1', 4, '2020-01-23', [
        ['2020-01-23 12:15:00+00', 'ac_power', 1, 'W', 1500],
        ['2020-01-23 12:00:00+00', 'ambient_temp', 2, null, 3.5],
        ['2020-01-23 12:00:00+00', 'ac_power', 1, 'W', 1000],
      ]);
      const finished = path.join(work, 'staged', 'worker-written.parquet');
      expect(await writer.write(m, m.staged!, finished)).toBe(3);
      const workerManifest: StagedManifest = { ...m, staged: finished, layout: 'pv_readings' };
      expect(await plain.commit([m], 'run-w')).toEqual({ rows: 3, replaced: 0 });
      expect(await moved.commit([workerManifest], 'run-w')).toEqual({ rows: 3, replaced: 0 });
      const rows = (dir: string) =>
        query(
          `SELECT * FROM read_parquet(${lit(path.join(dir, 'pv_readings', '**', '*.parquet'))}, hive_partitioning = true)`,
        );
      const expected = await rows(plainRoot);
      expect(expected).toHaveLength(3);
      expect(await rows(movedRoot)).toEqual(expected);
      const file = `pv_readings/ss_id=4/year=2020/month=1/part-${derivedId(KEY_A)}.parquet`;
      expect((await readFile(path.join(movedRoot, file))).equals(await readFile(finished))).toBe(true);
      // a manifest that disagrees with the file is refused, naming the object; nothing is published
      await expect(moved.commit([{ ...workerManifest, etag: 'etag-w2', rows: 4 }], 'run-w2')).rejects.toThrow(
        new BadInputError(KEY_A, `staged file ${finished} has 3 rows, its manifest says 4`),
      );
      // a staged file that is not a readings file (a worker of another version) is refused too
      await expect(moved.commit([{ ...m, etag: 'etag-w3', layout: 'pv_readings' }], 'run-w3')).rejects.toThrow(
        /has the columns ss_id, timestamp, measured_on, sensor, metric_id, units, value, not pv_readings'/,
      );
      expect(
        Object.fromEntries(await moved.ledgerEtags({ ssIds: 'all', from: '2000-01-01', to: '2030-12-31' })),
      ).toEqual({
        [KEY_A]: 'etag-w1',
      });
    } finally {
      await writer.close();
      await plain.close();
      await moved.close();
    }
  });

  it('a batch of worker-written files is checked whole: a bad one among good ones fails it, naming that object', async () => {
    const writer = new ReadingsFileWriter();
    const root = path.join(work, 'batch-checked');
    const sink = new ParquetDatasetSink({ root });
    try {
      await sink.init();
      const placed: StagedManifest[] = [];
      for (const [i, key] of [KEY_A, KEY_B, KEY_C].entries()) {
        const day = ['2020-01-23', '2020-02-01', '2019-12-31'][i]!;
        const m = await stage(key, `etag-${i}`, key === KEY_C ? 10 : 4, day, [
          [`${day} 12:00:00+00`, 'ac_power', 1, 'W', 1000 + i],
          [`${day} 12:15:00+00`, 'ac_power', 1, 'W', 2000 + i],
        ]);
        const finished = path.join(work, 'staged', `batch-${i}.parquet`);
        expect(await writer.write(m, m.staged!, finished)).toBe(2);
        placed.push({ ...m, staged: finished, layout: 'pv_readings' });
      }
      const files = () => readdir(path.join(root, 'pv_readings'), { recursive: true });
      const filesBefore = await files();
      // not a Parquet file at all: the batch query fails, each file is then read on its own
      const garbage = path.join(work, 'staged', 'batch-garbage.parquet');
      await writeFile(garbage, 'not parquet');
      await expect(sink.commit([placed[0]!, { ...placed[1]!, staged: garbage }, placed[2]!], 'run-1')).rejects.toThrow(
        new RegExp(`^${KEY_B.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: staged file ${garbage}: `),
      );
      // a readable file whose rows disagree with its manifest
      await expect(sink.commit([placed[0]!, placed[1]!, { ...placed[2]!, rows: 3 }], 'run-2')).rejects.toThrow(
        new BadInputError(KEY_C, `staged file ${placed[2]!.staged} has 2 rows, its manifest says 3`),
      );
      // nothing of either batch was published, and no temp file is left
      expect(await files()).toEqual(filesBefore);
      expect(await sink.ledgerEtags({ ssIds: 'all', from: '2000-01-01', to: '2030-12-31' })).toEqual(new Map());
      // the good batch commits whole
      expect(await sink.commit(placed, 'run-3')).toEqual({ rows: 6, replaced: 0 });
      const loaded = await query(
        `SELECT ss_id, source_key, value FROM read_parquet(${lit(path.join(root, 'pv_readings', '**', '*.parquet'))}, hive_partitioning = true) ORDER BY value`,
      );
      expect(loaded).toEqual([
        { ss_id: 4n, source_key: KEY_A, value: 1000 },
        { ss_id: 4n, source_key: KEY_B, value: 1001 },
        { ss_id: 10n, source_key: KEY_C, value: 1002 },
        { ss_id: 4n, source_key: KEY_A, value: 2000 },
        { ss_id: 4n, source_key: KEY_B, value: 2001 },
        { ss_id: 10n, source_key: KEY_C, value: 2002 },
      ]);
    } finally {
      await writer.close();
      await sink.close();
    }
  });

  it('a ledger row stamped ahead (a loader whose clock ran fast) does not outlive a later commit', async () => {
    const dir = path.join(work, 'clock-ahead');
    const ahead = new ParquetDatasetSink({ root: dir });
    await ahead.init();
    try {
      await ahead.commit(
        [await stage(KEY_B, 'etag-b1', 4, '2020-02-01', [['2020-02-01 18:00:00+00', 'ac_power', 1, 'W', 1]])],
        'run-1',
      );
      const ledger = path.join(dir, 'pv_ingest_ledger');
      const [first] = (await readdir(ledger)).filter((f) => f.endsWith('.parquet'));
      await conn.run(
        `COPY (SELECT * REPLACE ('etag-ahead' AS etag, loaded_at + INTERVAL 1 DAY AS loaded_at) FROM read_parquet(${lit(path.join(ledger, first!))}))
         TO ${lit(path.join(ledger, 'ledger-from-a-fast-clock.parquet'))} (FORMAT parquet)`,
      );
      const range = { ssIds: [4], from: '2020-02-01', to: '2020-02-01' };
      expect((await ahead.ledgerEtags(range)).get(KEY_B)).toBe('etag-ahead');
      await ahead.commit(
        [await stage(KEY_B, 'etag-b2', 4, '2020-02-01', [['2020-02-01 18:00:00+00', 'ac_power', 1, 'W', 2]])],
        'run-2',
      );
      expect((await ahead.ledgerEtags(range)).get(KEY_B)).toBe('etag-b2');
    } finally {
      await ahead.close();
    }
  });

  it('openParquetSink parses parquet:// URLs', () => {
    expect(openParquetSink('parquet:///data/pv set').root).toBe('/data/pv set');
    expect(openParquetSink('parquet:///data/pv%20set').root).toBe('/data/pv set');
    expect(openParquetSink('parquet://./out/ds').root).toBe(path.resolve('out/ds'));
    expect(openParquetSink('parquet:///data/x').url).toBe('parquet:///data/x');
    expect(openParquetSink('parquet:///data/x?memory_limit=64MB&threads=1').root).toBe('/data/x');
    for (const bad of [
      'parquet://',
      'duckdb:///x',
      'parquet:/x',
      '/abs/dir',
      'parquet:///a?b=1',
      'parquet:///%zz',
      'parquet:///a?threads=0',
      'parquet:///a?memory_limit=lots',
    ]) {
      expect(() => openParquetSink(bad), bad).toThrow(BadInputError);
    }
  });

  it('rewrites an object larger than its memory limit by spilling the sort to ROOT/.spill', async () => {
    const big = path.join(work, 'big-root');
    const small = openParquetSink(`parquet://${big}?memory_limit=64MB&threads=1`);
    await small.init();
    const file = path.join(work, 'staged', 'big.parquet');
    const n = 1_500_000;
    // rows in reverse time order, so that the sink's sort has real work to do
    await conn.run(
      `COPY (SELECT 7::INTEGER AS ss_id, make_timestamp(1600000000000000 - i * 1000000)::TIMESTAMPTZ AS "timestamp",
         make_timestamp(1600000000000000 - i * 1000000) AS measured_on, 's' || (i % 4) AS sensor, (i % 4)::INTEGER AS metric_id,
         'W' AS units, i::DOUBLE AS "value" FROM range(${n}) t(i)) TO ${lit(file)} (FORMAT parquet)`,
    );
    const m: StagedManifest = {
      key: 'big-object',
      etag: 'e',
      ss_id: 7,
      day: '2020-09-13',
      format: 'parquet',
      rows: n,
      staged: file,
      bytes: 1,
      minTimestamp: null,
      maxTimestamp: null,
      dropped: { missing: 0, sentinel: 0, non_finite: 0, duplicate: 0 },
      droppedBySensor: {},
      group: null,
      order: null,
    };
    try {
      expect(await small.commit([m], 'run-big')).toEqual({ rows: n, replaced: 0 });
    } finally {
      await small.close();
    }
    const out = lit(path.join(big, 'pv_readings', '**', '*.parquet'));
    const [r] = await query(`SELECT count(*)::INTEGER AS n, sum("value")::BIGINT AS s,
      bool_and(ok) AS sorted FROM (SELECT "value", "timestamp" >= lag("timestamp", 1, "timestamp") OVER () AS ok FROM read_parquet(${out}))`);
    expect(r).toEqual({ n, s: BigInt((n * (n - 1)) / 2), sorted: true });
  });
});
