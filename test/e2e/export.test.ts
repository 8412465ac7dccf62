import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExportManifest } from '@pv-pipeline/datasets';
import { sunPosition } from '@pv-pipeline/quality';
import { duckdbCreateTable, PV_QUALITY_DAILY } from '@pv-pipeline/schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BigQueryFake, startBigQueryFake } from '../support/bigquery-fake/index.js';
import { runCli, SAMPLE_MIRROR } from '../support/cli.js';
import { exec, query } from '../support/duckdb.js';
import { syntheticReadings, writeExportWarehouse } from '../support/export-warehouse.js';

/**
 * `pv-pipeline export` on a warehouse of synthetic readings whose every value
 * is known: bucket means, lasts and sums exactly, gaps as null with a count
 * of 0 and nights as values, both DST changes, the splits and their embargo,
 * identical hashes on a second export, an incremental re-export, every sink
 * alike, and bad input refused with nothing written.
 */

const HOUR = 3600;
/** System 10 at 1 h, all in train. */
const SYSTEM_10_HOURLY = ['--interval', '1h', '--systems', '10', '--valid', '0', '--test', '0'];
const manifestOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ExportManifest;
const rowsOf = (dir: string, where = 'true', cols = '*') =>
  query(
    null,
    `SELECT ${cols} FROM read_parquet('${dir}/data/*/*/*.parquet', hive_partitioning = true) WHERE ${where} ORDER BY ss_id, timestamp`,
  );

describe('pv-pipeline export: ML-ready training sets', () => {
  let work: string;
  let db: string;
  const exportCli = (out: string, ...args: string[]) =>
    runCli(['export', '--sink', `duckdb://${db}`, '--out', out, ...args], { timeoutMs: 300_000 });

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'pv-export-'));
    db = join(work, 'warehouse.duckdb');
    await writeExportWarehouse(db, work);
  }, 300_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('resamples exactly: means, lasts of counters, sums of interval energy; gaps null with __n = 0, nights as values', async () => {
    const out = join(work, 'exact');
    const r = await exportCli(out, '--interval', '15m', '--systems', '10', '--valid', '0', '--test', '0');
    expect(r.code, r.stderr).toBe(0);
    const m = manifestOf(out);
    expect(m.sensors.map((s) => [s.sensor, s.aggregation, s.chosen_by])).toEqual([
      ['ac_energy_interval', 'sum', 'kind'],
      ['ac_energy_meter', 'last', 'counter'],
      ['ac_power', 'mean', 'kind'],
      ['poa_irradiance', 'mean', 'kind'],
    ]);
    // the expected value of every bucket, from the readings themselves
    const b = new Map<number, Record<string, { n: number; sum: number; last: number }>>();
    for (const x of syntheticReadings().filter((x) => x.ss_id === 10)) {
      const t = Math.floor(x.t / 900) * 900;
      const row = b.get(t) ?? {};
      const c = row[x.sensor] ?? { n: 0, sum: 0, last: 0 };
      row[x.sensor] = { n: c.n + 1, sum: c.sum + x.value, last: x.value };
      b.set(t, row);
    }
    const times = [...b.keys()];
    const [first, last] = [Math.min(...times), Math.max(...times)];
    const expected = [];
    for (let t = first; t <= last; t += 900) {
      const row = b.get(t) ?? {};
      const v = (s: string, f: (c: { n: number; sum: number; last: number }) => number) => (row[s] ? f(row[s]) : null);
      expected.push({
        t,
        ac_power: v('ac_power', (c) => c.sum / c.n),
        ac_power__n: row.ac_power?.n ?? 0,
        ac_energy_meter: v('ac_energy_meter', (c) => c.last),
        ac_energy_meter__n: row.ac_energy_meter?.n ?? 0,
        ac_energy_interval: v('ac_energy_interval', (c) => c.sum),
        ac_energy_interval__n: row.ac_energy_interval?.n ?? 0,
        poa_irradiance: v('poa_irradiance', (c) => c.sum / c.n),
        poa_irradiance__n: row.poa_irradiance?.n ?? 0,
        ac_power_norm: v('ac_power', (c) => c.sum / c.n / 5000),
      });
    }
    const got = await rowsOf(
      out,
      'true',
      'epoch(timestamp)::BIGINT AS t, ac_power, ac_power__n, ac_energy_meter, ac_energy_meter__n, ac_energy_interval, ac_energy_interval__n, poa_irradiance, poa_irradiance__n, ac_power_norm',
    );
    expect(got.length).toBe(expected.length);
    expect(got).toEqual(expected);
    // the gap: 17:00–17:59 UTC on 2021-03-13 has no ac_power (null, 0) while the other sensors read on
    const gap = got.filter(
      (g) =>
        Number(g.t) >= Date.parse('2021-03-13T17:00:00Z') / 1000 &&
        Number(g.t) < Date.parse('2021-03-13T18:00:00Z') / 1000,
    );
    expect(gap.map((g) => [g.ac_power, g.ac_power__n, g.ac_energy_meter__n])).toEqual(Array(4).fill([null, 0, 15]));
    // a night bucket is a value (0 W from 15 readings), not a gap
    const night = got.find((g) => g.t === Date.parse('2021-03-14T08:00:00Z') / 1000)!;
    expect([night.ac_power, night.ac_power__n]).toEqual([0, 15]);
    // between the March and November days: rows with every count 0, never a zero value
    const between = got.filter((g) => g.t === Date.parse('2021-06-01T12:00:00Z') / 1000);
    expect(between).toEqual([
      {
        t: Date.parse('2021-06-01T12:00:00Z') / 1000,
        ac_power: null,
        ac_power__n: 0,
        ac_energy_meter: null,
        ac_energy_meter__n: 0,
        ac_energy_interval: null,
        ac_energy_interval__n: 0,
        poa_irradiance: null,
        poa_irradiance__n: 0,
        ac_power_norm: null,
      },
    ]);
    // units in the file's metadata, the manifest and sensors.parquet
    const kv = await query(
      null,
      `SELECT value::VARCHAR AS v FROM parquet_kv_metadata('${out}/data/split=train/ss_id=10/part-0.parquet') WHERE key::VARCHAR = 'pv_pipeline:units'`,
    );
    expect(JSON.parse(String(kv[0]!.v).replaceAll('\\x22', '"'))).toEqual({
      ac_energy_interval: 'Wh',
      ac_energy_meter: 'Wh',
      ac_power: 'W',
      poa_irradiance: 'W/m^2',
    });
    expect(
      await query(null, `SELECT sensor, units, aggregation FROM '${out}/sensors.parquet' ORDER BY sensor`),
    ).toEqual([
      { sensor: 'ac_energy_interval', units: 'Wh', aggregation: 'sum' },
      { sensor: 'ac_energy_meter', units: 'Wh', aggregation: 'last' },
      { sensor: 'ac_power', units: 'W', aggregation: 'mean' },
      { sensor: 'poa_irradiance', units: 'W/m^2', aggregation: 'mean' },
    ]);
  });

  it('keeps UTC buckets contiguous across both DST changes while the local column follows the clock', async () => {
    const out = join(work, 'dst');
    const r = await exportCli(out, ...SYSTEM_10_HOURLY);
    expect(r.code, r.stderr).toBe(0);
    const rows = await rowsOf(
      out,
      'true',
      "epoch(timestamp)::BIGINT AS t, strftime(timestamp_local, '%Y-%m-%d %H:%M') AS local, solar_zenith, solar_elevation, is_day, tod_sin",
    );
    for (let i = 1; i < rows.length; i++) expect(Number(rows[i]!.t) - Number(rows[i - 1]!.t)).toBe(HOUR);
    const around = (iso: string) =>
      rows
        .filter((x) => Math.abs(Number(x.t) - Date.parse(iso) / 1000) <= HOUR)
        .map((x) => [new Date(Number(x.t) * 1000).toISOString().slice(11, 16), x.local]);
    expect(around('2021-03-14T09:00:00Z')).toEqual([
      ['08:00', '2021-03-14 01:00'],
      ['09:00', '2021-03-14 03:00'],
      ['10:00', '2021-03-14 04:00'],
    ]);
    expect(around('2021-11-07T08:00:00Z')).toEqual([
      ['07:00', '2021-11-07 01:00'],
      ['08:00', '2021-11-07 01:00'],
      ['09:00', '2021-11-07 02:00'],
    ]);
    // solar position by SPA at the bucket centre; day when the sun is up; time of day from the local clock
    const noon = rows.find((x) => Number(x.t) === Date.parse('2021-03-15T19:00:00Z') / 1000)!;
    const sun = sunPosition(
      { latitude: 39.74, longitude: -105.18, elevation: 1800 },
      Date.parse('2021-03-15T19:30:00Z'),
    );
    expect(noon.solar_zenith).toBeCloseTo(sun.zenith, 9);
    expect(noon.is_day).toBe(true);
    expect(noon.tod_sin).toBeCloseTo(Math.sin((2 * Math.PI * 13) / 24), 12);
    expect(rows.every((x) => x.is_day === Number(x.solar_elevation) > 0)).toBe(true);
  });

  it('splits in time with an embargo: every bucket in exactly one split or the embargo, blocks apart by it', async () => {
    const out = join(work, 'time');
    const r = await exportCli(out, '--interval', '15m', '--valid', '0.2', '--test', '0.2', '--embargo', '1d');
    expect(r.code, r.stderr).toBe(0);
    const m = manifestOf(out);
    const rows = await rowsOf(out, 'true', 'ss_id, epoch(timestamp)::BIGINT AS t, split');
    const keys = rows.map((x) => `${x.ss_id}:${x.t}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const s of m.systems) {
      const grid = (Date.parse(s.last!) - Date.parse(s.first!)) / 900_000 + 1;
      expect(s.rows.train + s.rows.valid + s.rows.test + s.embargo_rows).toBe(grid);
    }
    const span = (split: string) => {
      const ts = rows.filter((x) => x.split === split).map((x) => Number(x.t));
      return [Math.min(...ts), Math.max(...ts)];
    };
    const [train, valid, test] = [span('train'), span('valid'), span('test')];
    expect(valid[0]! - (train[1]! + 900)).toBeGreaterThanOrEqual(86_400);
    expect(test[0]! - (valid[1]! + 900)).toBeGreaterThanOrEqual(86_400);
    expect(m.rows).toEqual({
      train: rows.filter((x) => x.split === 'train').length,
      valid: rows.filter((x) => x.split === 'valid').length,
      test: rows.filter((x) => x.split === 'test').length,
    });
  });

  it('splits by system (no system in two splits) and both ways (test systems held out, the rest in time)', async () => {
    const bySystem = join(work, 'system');
    const r = await exportCli(
      bySystem,
      '--interval',
      '1h',
      '--split',
      'system',
      '--valid',
      '0.25',
      '--test',
      '0.25',
      '--seed',
      's1',
    );
    expect(r.code, r.stderr).toBe(0);
    const dirs = (out: string, split: string) =>
      existsSync(join(out, 'data', `split=${split}`)) ? readdirSync(join(out, 'data', `split=${split}`)).sort() : [];
    const [train, valid, test] = ['train', 'valid', 'test'].map((s) => dirs(bySystem, s));
    expect([train!.length, valid!.length, test!.length]).toEqual([2, 1, 1]);
    expect(new Set([...train!, ...valid!, ...test!]).size).toBe(4);
    const m = manifestOf(bySystem);
    expect(Object.keys(m.split.systems).sort()).toEqual(['10', '20', '30', '40']);

    const both = join(work, 'both');
    const r2 = await exportCli(
      both,
      '--interval',
      '1h',
      '--split',
      'both',
      '--valid',
      '0.2',
      '--test',
      '0.25',
      '--seed',
      's1',
    );
    expect(r2.code, r2.stderr).toBe(0);
    const heldOut = dirs(both, 'test');
    expect(heldOut).toHaveLength(1);
    expect(dirs(both, 'train')).not.toContain(heldOut[0]);
    expect(dirs(both, 'valid')).not.toContain(heldOut[0]);
    const mb = manifestOf(both);
    const held = mb.systems.find((s) => `ss_id=${s.ss_id}` === heldOut[0])!;
    expect(held.rows.train + held.rows.valid + held.embargo_rows).toBe(0);
  });

  it('is deterministic and incremental: equal hashes on a second export; only changed systems are rewritten', async () => {
    const args = [
      '--interval',
      '15m',
      '--split',
      'system',
      '--valid',
      '0.25',
      '--test',
      '0.25',
      '--from',
      '2021-03-12',
      '--to',
      '2021-11-30',
    ];
    const a = join(work, 'det-a');
    const b = join(work, 'det-b');
    expect((await exportCli(a, ...args)).code).toBe(0);
    expect((await exportCli(b, ...args)).code).toBe(0);
    expect(manifestOf(b).files).toEqual(manifestOf(a).files);
    expect(readFileSync(join(b, 'manifest.json'), 'utf8')).toBe(readFileSync(join(a, 'manifest.json'), 'utf8'));
    // again into the same directory: nothing changed, every system kept
    const again = await exportCli(a, ...args);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('0 system(s) written, 4 unchanged and kept (10, 20, 30, 40)');
    // a new day of system 10 loaded: only system 10 is written again
    const db2 = join(work, 'warehouse-2.duckdb');
    mkdirSync(join(work, 'scratch-2'));
    await writeExportWarehouse(db2, join(work, 'scratch-2'), '2021-11-09');
    const next = await runCli(['export', '--sink', `duckdb://${db2}`, '--out', a, ...args], { timeoutMs: 300_000 });
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).toContain('1 system(s) written, 3 unchanged and kept (20, 30, 40)');
    const changed = manifestOf(a).files.filter((f) => !manifestOf(b).files.some((g) => g.sha256 === f.sha256));
    expect(changed.map((f) => f.path).filter((p) => p.startsWith('data/'))).toEqual(
      manifestOf(a)
        .files.filter((f) => f.path.includes('ss_id=10/'))
        .map((f) => f.path),
    );
  });

  it('drops flagged sensor-days with --drop-flagged and normalises only where the capacity is trusted', async () => {
    const db3 = join(work, 'flagged.duckdb');
    mkdirSync(join(work, 'scratch-3'));
    await writeExportWarehouse(db3, join(work, 'scratch-3'));
    const sink = `duckdb://${db3}`;
    const exportOf = (out: string, ...args: string[]) => runCli(['export', '--sink', sink, '--out', out, ...args]);
    const refused = await exportOf(join(work, 'f0'), '--interval', '1h', '--drop-flagged');
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toMatch(
      /^pv-pipeline export: --drop-flagged: .* has no pv_quality_daily: run pv-pipeline report/,
    );
    expect(existsSync(join(work, 'f0'))).toBe(false);
    await exec(
      db3,
      duckdbCreateTable(PV_QUALITY_DAILY, { primaryKey: true }),
      `INSERT INTO pv_quality_daily VALUES
        (10, 'ac_power', DATE '2021-03-14', 60, 1440, 1440, 1, 'stuck', TIMESTAMPTZ '2026-01-01 00:00:00+00'),
        (10, 'ac_power', DATE '2021-03-15', 60, 1440, 1440, 1, 'over_capacity', TIMESTAMPTZ '2026-01-01 00:00:00+00')`,
    );
    const out = join(work, 'f1');
    const r = await exportOf(out, ...SYSTEM_10_HOURLY, '--drop-flagged');
    expect(r.code, r.stderr).toBe(0);
    // local standard-time days of Denver: UTC−7
    const day = (d: string) =>
      rowsOf(
        out,
        `timestamp >= TIMESTAMPTZ '${d} 07:00:00+00' AND timestamp < TIMESTAMPTZ '${d} 07:00:00+00' + INTERVAL 1 DAY`,
        'ac_power, ac_power__n, poa_irradiance__n, ac_power_norm',
      );
    const stuck = await day('2021-03-14');
    expect(stuck).toHaveLength(24);
    expect(stuck.every((x) => x.ac_power === null && x.ac_power__n === 0 && x.poa_irradiance__n === 12)).toBe(true);
    const over = await day('2021-03-15');
    // over capacity is a flag too: dropped with --drop-flagged
    expect(over.every((x) => x.ac_power === null && x.ac_power_norm === null)).toBe(true);
    // without --drop-flagged the readings stay, but the normalised power is withheld on the over-capacity day only
    const kept = join(work, 'f2');
    expect((await exportOf(kept, ...SYSTEM_10_HOURLY)).code).toBe(0);
    const keptOver = await rowsOf(
      kept,
      "timestamp >= TIMESTAMPTZ '2021-03-15 07:00:00+00' AND timestamp < TIMESTAMPTZ '2021-03-16 00:00:00+00'",
      'ac_power, ac_power_norm',
    );
    expect(keptOver.every((x) => x.ac_power !== null && x.ac_power_norm === null)).toBe(true);
    const keptStuck = await rowsOf(
      kept,
      "timestamp >= TIMESTAMPTZ '2021-03-14 07:00:00+00' AND timestamp < TIMESTAMPTZ '2021-03-15 07:00:00+00'",
      'ac_power, ac_power_norm',
    );
    expect(keptStuck.every((x) => x.ac_power_norm === Number(x.ac_power) / 5000)).toBe(true);
  });

  it('writes Arrow IPC files with units in the field metadata', async () => {
    const out = join(work, 'arrow');
    const r = await exportCli(out, ...SYSTEM_10_HOURLY, '--format', 'arrow');
    expect(r.code, r.stderr).toBe(0);
    const arrow = await import('apache-arrow');
    const table = arrow.tableFromIPC(readFileSync(join(out, 'data/split=train/ss_id=10/part-0.arrow')));
    const field = table.schema.fields.find((f) => f.name === 'ac_power')!;
    expect(Object.fromEntries(field.metadata)).toEqual({ unit: 'W', aggregation: 'mean' });
    const parquetRows = await rowsOf(join(work, 'dst'), 'true', 'ac_power');
    expect(table.getChild('ac_power')!.toArray().length).toBe(parquetRows.length);
    expect(readFileSync(join(out, 'README.md'), 'utf8')).toContain('path: data/split=train/*/*.arrow');
  });

  it('refuses bad input with one clear line and exit 1, leaving what is there as it was', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--interval', '7m'], /--interval: "7m" is not one of 1m, 5m, 15m, 1h/],
      [['--interval', '1h', '--agg', 'nosuch=mean'], /--agg: no sensor "nosuch" in the systems exported/],
      [['--interval', '1h', '--split', 'system', '--systems', '10'], /--split: 1 system\(s\) cannot fill train/],
      [['--interval', '1h', '--systems', '99'], /--systems: no readings of system 99/],
      [['--interval', '1h', '--valid', '0.6', '--test', '0.5'], /leave nothing to train on/],
      [['--interval', '1h', '--embargo', 'soon'], /--embargo: "soon" is not a duration/],
    ];
    for (const [args, message] of cases) {
      const out = join(work, 'bad');
      const r = await exportCli(out, ...args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(message);
      expect(existsSync(out)).toBe(false);
    }
    const notExport = join(work, 'not-an-export');
    mkdirSync(notExport);
    writeFileSync(join(notExport, 'notes.txt'), 'mine');
    const r = await exportCli(notExport, '--interval', '1h');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--out: .* exists and is not a pv-pipeline export/);
    expect(readdirSync(notExport)).toEqual(['notes.txt']);
    expect(readdirSync(work).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});

describe('pv-pipeline export reads every sink alike', () => {
  let work: string;
  let fake: BigQueryFake;
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'pv-export-sinks-'));
    fake = await startBigQueryFake();
  });
  afterAll(async () => {
    await fake?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('a Parquet dataset and BigQuery give the rows DuckDB gives', async () => {
    const sinks = [
      `duckdb://${join(work, 'w.duckdb')}`,
      `parquet://${join(work, 'dataset')}`,
      'bigquery://export-project/warehouse',
    ];
    const outs: string[] = [];
    for (const sink of sinks) {
      const endpoint = sink.startsWith('bigquery') ? ['--bigquery-endpoint', fake.url] : [];
      const run = await runCli(
        [
          'run',
          '--source',
          `file://${SAMPLE_MIRROR}`,
          '--systems',
          '4,1283',
          '--format',
          'csv',
          '--from',
          '2010-01-01',
          '--to',
          '2025-12-31',
          '--sink',
          sink,
          ...endpoint,
        ],
        { timeoutMs: 300_000 },
      );
      expect(run.code, run.stderr).toBe(0);
      const out = join(work, `export-${outs.length}`);
      const r = await runCli(
        ['export', '--sink', sink, '--out', out, '--interval', '15m', '--valid', '0', '--test', '0', ...endpoint],
        {
          timeoutMs: 300_000,
        },
      );
      expect(r.code, r.stderr).toBe(0);
      outs.push(out);
    }
    const [duck, parquet, big] = await Promise.all(
      outs.map((o) =>
        rowsOf(
          o,
          'true',
          "* EXCLUDE (timestamp, timestamp_local), epoch(timestamp) AS t, strftime(timestamp_local, '%c') AS local",
        ),
      ),
    );
    expect(duck!.length).toBeGreaterThan(0);
    expect(parquet).toEqual(duck);
    expect(big).toEqual(duck);
  });
});
