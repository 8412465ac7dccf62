import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, SAMPLE_MIRROR, sampleParquetObjects } from '../support/cli.js';
import { exec, query } from '../support/duckdb.js';

/**
 * Ground truth computed independently of the pipeline, by DuckDB SQL over the
 * mirror's Parquet files: drop NaN/null/sentinels, UTC from utc_measured_on or
 * (system 4, whose UTC column is null) measured_on at fixed UTC−7, keep the
 * last duplicate in file order.
 */
function groundTruthSql(mirror: string): string {
  return `
    WITH raw AS (
      SELECT CAST(system_id AS BIGINT) AS ss_id, measured_on, utc_measured_on, metric_id, value, filename, file_row_number
      FROM read_parquet('${mirror}/parquet/pvdata/*/*/*/*/*.parquet', hive_partitioning = true, filename = true, file_row_number = true)
    ), present AS (
      SELECT *, coalesce(utc_measured_on, measured_on + INTERVAL 7 HOUR) AS ts FROM raw
      WHERE value IS NOT NULL AND NOT isnan(value) AND value NOT IN (-999, -7999, -9999, -99999)
    ), dedup AS (
      SELECT * FROM present
      QUALIFY row_number() OVER (PARTITION BY ss_id, ts, metric_id ORDER BY file_row_number DESC) = 1
    )
    SELECT ss_id, metric_id, count(*) AS n, round(sum(value), 6) AS s FROM dedup GROUP BY ALL ORDER BY ALL`;
}

const PER_METRIC = `SELECT ss_id, metric_id, count(*) AS n, round(sum(value), 6) AS s FROM pv_readings GROUP BY ALL ORDER BY ALL`;
const DUPLICATE_KEYS = `SELECT count(*) AS n FROM (SELECT ss_id, timestamp, sensor FROM pv_readings GROUP BY ALL HAVING count(*) > 1)`;
const RANGE = ['--from', '2010-01-01', '--to', '2025-12-31'];

describe('pv-pipeline run on the sample mirror → DuckDB', () => {
  let work: string;
  let db: string;
  let truth: Array<Record<string, unknown>>;
  let objectCount: number;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'pv-e2e-'));
    db = join(work, 'pv.duckdb');
    truth = await query(null, groundTruthSql(SAMPLE_MIRROR));
    objectCount = sampleParquetObjects();
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('loads every reading once, with dictionary units and UTC times', async () => {
    const r = await runCli([
      'run',
      '--source',
      `file://${SAMPLE_MIRROR}`,
      ...RANGE,
      '--sink',
      `duckdb://${db}`,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.counts).toMatchObject({ planned: objectCount, loaded: objectCount, skipped: 0, failed: 0 });
    expect(await query(db, PER_METRIC)).toEqual(truth);
    const total = truth.reduce((a, t) => a + Number(t.n), 0);
    expect(summary.counts.readings).toBe(total);
    expect((await query(db, DUPLICATE_KEYS))[0]!.n).toBe(0);

    // units and sensor names come from the dictionary
    const mismatched = await query(
      db,
      `SELECT count(*) AS n FROM pv_readings r JOIN pv_sensors s USING (ss_id, metric_id)
       WHERE r.units IS DISTINCT FROM s.units OR r.sensor <> s.sensor`,
    );
    expect(mismatched[0]!.n).toBe(0);
    const units = await query(db, `SELECT DISTINCT ss_id, sensor, units FROM pv_readings WHERE ss_id = 4`);
    expect(units).toEqual([{ ss_id: 4, sensor: 'module_temp_1', units: 'C' }]);

    // system 4: fixed UTC−7 (no DST in June); system 50: America/Denver (MDT in mid-March 2022)
    const at = async (ss: number, local: string) =>
      (
        await query(
          db,
          `SELECT strftime(timestamp, '%Y-%m-%d %H:%M') AS utc FROM pv_readings WHERE ss_id = ${ss} AND measured_on = TIMESTAMP '${local}' LIMIT 1`,
        )
      )[0]?.utc;
    expect(await at(4, '2015-06-02 12:00:00')).toBe('2015-06-02 19:00');
    expect(await at(50, '2022-03-18 12:00:00')).toBe('2022-03-18 18:00');
    expect(await at(50, '2011-11-07 12:00:00')).toBe('2011-11-07 19:00');

    // dimensions: one typed row per system; the duplicate orientation rows of 1332 merged
    const systems = await query(
      db,
      `SELECT ss_id, orientations, typeof(latitude) AS t FROM pv_systems WHERE ss_id IN (4, 1332) ORDER BY 1`,
    );
    expect(systems).toEqual([
      { ss_id: 4, orientations: 1, t: 'DOUBLE' },
      { ss_id: 1332, orientations: 2, t: 'DOUBLE' },
    ]);
    const ledger = await query(db, `SELECT count(*) AS n, sum(rows) AS r FROM pv_ingest_ledger`);
    expect(ledger).toEqual([{ n: objectCount, r: total }]);
  });

  it('re-running the range loads nothing', async () => {
    const r = await runCli([
      'run',
      '--source',
      `file://${SAMPLE_MIRROR}`,
      ...RANGE,
      '--sink',
      `duckdb://${db}`,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).counts).toMatchObject({ loaded: 0, skipped: objectCount, readings: 0 });
    expect(await query(db, PER_METRIC)).toEqual(truth);
  });

  it('the quality report over the real samples finds what is wrong in them', async () => {
    const out = join(work, 'quality');
    const r = await runCli(['report', '--sink', `duckdb://${db}`, '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout) as {
      systems: Array<{
        ss_id: number;
        flags: Array<{ kind: string; sensor: string; from: string; to: string; shift_minutes?: number }>;
      }>;
    };
    const flags = (id: number) => json.systems.find((s) => s.ss_id === id)!.flags;
    // RSF II's excerpt: power (and irradiance) about two hours after the sun, every day
    expect(flags(1283)).toEqual([
      {
        kind: 'time_shift',
        sensor: 'ac_power_kw',
        from: '2022-01-02',
        to: '2022-01-05',
        share: 0.8,
        shift_minutes: 116,
      },
    ]);
    // SERF West's data-logger temperature reaches 5,623.6 °C
    expect(flags(51).map((f) => [f.kind, f.sensor, f.from, f.to])).toEqual([
      ['out_of_range', 'das_temperature', '2022-01-02', '2022-01-05'],
    ]);
    expect(flags(4)).toEqual([]);
  });

  it("the README's daily energy, from the export of the samples, uses the true cadence and local days", async () => {
    const out = join(work, 'training');
    const r = await runCli([
      'export',
      '--sink',
      `duckdb://${db}`,
      '--out',
      out,
      '--interval',
      '1h',
      '--valid',
      '0',
      '--test',
      '0',
    ]);
    expect(r.code, r.stderr).toBe(0);
    // the query of the README's "Example queries", on this export
    const daily = await query(
      null,
      `SELECT ss_id, CAST(timestamp_local AS DATE) AS day, round(sum(ac_power) / 1000, 2) AS kwh,
              count(*) FILTER (WHERE ac_power__n > 0) AS hours
       FROM read_parquet('${out}/data/*/*/*.parquet', hive_partitioning = true)
       WHERE ac_power__n > 0 GROUP BY ALL ORDER BY ALL`,
    );
    const day = daily.find((d) => d.ss_id === 50 && new Date(d.day as Date).toISOString().startsWith('2022-03-19'))!;
    expect([day.kwh, day.hours]).toEqual([35.55, 24]);
  });

  it('a changed object replaces exactly its own rows', async () => {
    const mirror = join(work, 'mirror');
    cpSync(SAMPLE_MIRROR, mirror, { recursive: true });
    const changedDb = join(work, 'changed.duckdb');
    const key = 'parquet/pvdata/system_id=4/year=2015/month=6/day=3/system_4__date_2015_06_03.snappy.000.parquet';
    let r = await runCli([
      'run',
      '--source',
      `file://${mirror}`,
      ...RANGE,
      '--sink',
      `duckdb://${changedDb}`,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const before = await query(
      changedDb,
      `SELECT count(*) AS n, sum(value) AS s FROM pv_readings WHERE source_key = '${key}'`,
    );
    // rewrite the object: every value doubled, one reading gone
    await exec(
      null,
      `COPY (SELECT measured_on, utc_measured_on, metric_id, value * 2 AS value FROM read_parquet('${mirror}/${key}')
             WHERE measured_on <> TIMESTAMP '2015-06-03 12:00:00') TO '${mirror}/${key}' (FORMAT parquet)`,
    );
    r = await runCli(['run', '--source', `file://${mirror}`, ...RANGE, '--sink', `duckdb://${changedDb}`, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).counts).toMatchObject({ loaded: 1, skipped: objectCount - 1 });
    const after = await query(
      changedDb,
      `SELECT count(*) AS n, sum(value) AS s FROM pv_readings WHERE source_key = '${key}'`,
    );
    expect(after[0]!.n).toBe(Number(before[0]!.n) - 1);
    expect(await query(changedDb, PER_METRIC)).toEqual(await query(null, groundTruthSql(mirror)));
    expect((await query(changedDb, DUPLICATE_KEYS))[0]!.n).toBe(0);
  });

  it('the Parquet dataset sink holds the same rows, readable as one hive-partitioned dataset', async () => {
    const dir = join(work, 'dataset');
    const r = await runCli([
      'run',
      '--source',
      `file://${SAMPLE_MIRROR}`,
      ...RANGE,
      '--sink',
      `parquet://${dir}`,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const dataset = `read_parquet('${dir}/pv_readings/**/*.parquet', hive_partitioning = true)`;
    expect(await query(null, PER_METRIC.replace('pv_readings', dataset))).toEqual(truth);
    const again = await runCli([
      'run',
      '--source',
      `file://${SAMPLE_MIRROR}`,
      ...RANGE,
      '--sink',
      `parquet://${dir}`,
      '--json',
    ]);
    expect(JSON.parse(again.stdout).counts).toMatchObject({ loaded: 0, skipped: objectCount });
    expect(await query(null, PER_METRIC.replace('pv_readings', dataset))).toEqual(truth);
  });

  it('the Parquet dataset sink, loaded from both archive formats, keeps each reading once, as DuckDB does', async () => {
    const dir = join(work, 'dataset-both');
    const both = join(work, 'both.duckdb');
    for (const format of ['parquet', 'csv']) {
      for (const sink of [`parquet://${dir}`, `duckdb://${both}`]) {
        const r = await runCli([
          'run',
          '--source',
          `file://${SAMPLE_MIRROR}`,
          '--format',
          format,
          ...RANGE,
          '--sink',
          sink,
        ]);
        expect(r.code, `${format} → ${sink}: ${r.stderr}`).toBe(0);
      }
    }
    const dataset = `read_parquet('${dir}/pv_readings/**/*.parquet', hive_partitioning = true)`;
    expect((await query(null, DUPLICATE_KEYS.replace('pv_readings', dataset)))[0]!.n).toBe(0);
    // the CSV objects came last: where both formats hold a reading, the CSV one is kept in both sinks
    const facts = `SELECT ss_id, timestamp, sensor, value, source_key FROM pv_readings ORDER BY ALL`;
    expect(await query(null, facts.replace('pv_readings', dataset))).toEqual(await query(both, facts));
  });

  it('CSV and Parquet give the same facts, the repeated fall-back hour included (every column of every row)', async () => {
    const csvDb = join(work, 'csv.duckdb');
    const r = await runCli([
      'run',
      '--source',
      `file://${SAMPLE_MIRROR}`,
      '--format',
      'csv',
      ...RANGE,
      '--sink',
      `duckdb://${csvDb}`,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const diff = await query(
      null,
      `ATTACH '${db}' AS p (READ_ONLY); ATTACH '${csvDb}' AS c (READ_ONLY);
       SELECT 'parquet only' AS side, * FROM (
         SELECT ss_id, timestamp, measured_on, sensor, metric_id, units, value FROM p.pv_readings
         EXCEPT ALL SELECT ss_id, timestamp, measured_on, sensor, metric_id, units, value FROM c.pv_readings)
       UNION ALL
       SELECT 'csv only', * FROM (
         SELECT ss_id, timestamp, measured_on, sensor, metric_id, units, value FROM c.pv_readings
         EXCEPT ALL SELECT ss_id, timestamp, measured_on, sensor, metric_id, units, value FROM p.pv_readings)
       ORDER BY ALL`,
    );
    // The CSV has no UTC column: its repeated 01:00–01:45 of 2011-11-06 (America/Denver) is placed by the
    // fall-back rule, first in MDT then in MST, exactly where the Parquet's utc_measured_on puts it.
    expect(diff).toEqual([]);
    const fallBack = await query(
      null,
      `ATTACH '${csvDb}' AS c (READ_ONLY);
       SELECT strftime(timestamp, '%H:%M') AS utc, strftime(measured_on, '%H:%M') AS local FROM c.pv_readings
       WHERE ss_id = 50 AND measured_on BETWEEN '2011-11-06 01:00' AND '2011-11-06 01:59' ORDER BY timestamp`,
    );
    expect(fallBack.map((r) => `${r.local}=${r.utc}`)).toEqual([
      '01:00=07:00',
      '01:15=07:15',
      '01:30=07:30',
      '01:45=07:45',
      '01:00=08:00',
      '01:15=08:15',
      '01:30=08:30',
      '01:45=08:45',
    ]);
  });
});
