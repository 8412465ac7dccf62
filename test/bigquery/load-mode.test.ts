import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALL_TABLES, bigQuerySchema, PV_READINGS } from '@pv-pipeline/schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BigQueryFake, startBigQueryFake } from '../support/bigquery-fake/index.js';
import { duplicateKeysSql, perSensorSql } from '../support/bigquery-fake/test-helpers.js';
import { runCli, SAMPLE_MIRROR, sampleParquetObjects } from '../support/cli.js';
import { exec, query } from '../support/duckdb.js';

const RANGE = ['--from', '2010-01-01', '--to', '2025-12-31'];
const CHANGED_KEY = 'parquet/pvdata/system_id=4/year=2015/month=6/day=3/system_4__date_2015_06_03.snappy.000.parquet';

describe('pv-pipeline run --sink bigquery:// (load mode) on the sample mirror', () => {
  let fake: BigQueryFake;
  let work: string;
  let duckdbFile: string;
  let objectCount: number;
  const bq = (dataset: string, mirror = SAMPLE_MIRROR) =>
    runCli([
      'run',
      '--source',
      `file://${mirror}`,
      ...RANGE,
      '--sink',
      `bigquery://proj/${dataset}`,
      '--bigquery-endpoint',
      fake.url,
      '--json',
    ]);

  beforeAll(async () => {
    fake = await startBigQueryFake();
    work = mkdtempSync(join(tmpdir(), 'pv-bq-load-'));
    duckdbFile = join(work, 'reference.duckdb');
    objectCount = sampleParquetObjects();
    const ref = await runCli([
      'run',
      '--source',
      `file://${SAMPLE_MIRROR}`,
      ...RANGE,
      '--sink',
      `duckdb://${duckdbFile}`,
    ]);
    expect(ref.code, ref.stderr).toBe(0);
  });
  afterAll(async () => {
    await fake.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('loads exactly the rows the DuckDB sink loads, with one load job per batch', async () => {
    const r = await bq('ds');
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.counts).toMatchObject({ planned: objectCount, loaded: objectCount, skipped: 0, failed: 0 });
    expect(summary.sink).toBe('bigquery://proj/ds');

    const reference = await query(duckdbFile, perSensorSql('pv_readings'));
    expect(await fake.sql(perSensorSql('ds.pv_readings'))).toEqual(reference);
    expect((await fake.sql(duplicateKeysSql('ds.pv_readings')))[0]!.n).toBe(0);
    expect(summary.counts.readings).toBe(reference.reduce((a, x) => a + Number(x.n), 0));
    // dimensions and ledger match too
    for (const t of ['pv_systems', 'pv_sensors']) {
      expect(await fake.sql(`SELECT count(*) AS n FROM ds.${t}`)).toEqual(
        await query(duckdbFile, `SELECT count(*) AS n FROM ${t}`),
      );
    }
    expect(await fake.sql('SELECT count(*) AS n, sum(rows) AS r FROM ds.pv_ingest_ledger')).toEqual([
      { n: objectCount, r: summary.counts.readings },
    ]);
    expect(await fake.sql('SELECT state, loaded FROM ds.pv_runs')).toEqual([
      { state: 'completed', loaded: objectCount },
    ]);

    // the whole run is one batch: one load job, one commit script, the staging table dropped
    const loads = fake.loadJobs();
    expect(loads).toHaveLength(1);
    expect(loads[0]!.resource.statistics.load).toMatchObject({ outputRows: String(summary.counts.readings) });
    expect(loads[0]!.resource.configuration).toMatchObject({
      load: { sourceFormat: 'PARQUET', writeDisposition: 'WRITE_TRUNCATE' },
    });
    expect(loads[0]!.info.jobId).toMatch(/^pv_load_[0-9a-f]{32}_0$/);
    expect([...fake.engine.tables.keys()].filter((k) => k.includes('_pv_stage_'))).toEqual([]);
    // the emulator path never sends key material: a placeholder bearer token at most
    expect(r.stderr).not.toMatch(/access_token|private_key|emulator-placeholder/);
  });

  it('creates every table from the schema: pv_readings by MONTH on timestamp, clustered by ss_id, sensor', () => {
    const readings = fake.tableResource('proj', 'ds', 'pv_readings')!;
    expect(readings.timePartitioning).toEqual({ type: 'MONTH', field: 'timestamp' });
    expect(readings.clustering).toEqual({ fields: ['ss_id', 'sensor'] });
    for (const table of ALL_TABLES) {
      const resource = fake.tableResource('proj', 'ds', table.name)!;
      expect(resource.schema.fields.map((f) => [f.name, f.type, f.mode])).toEqual(
        bigQuerySchema(table).fields.map((f) => [f.name, f.type, f.mode]),
      );
      if (table !== PV_READINGS) expect(resource.timePartitioning).toBeUndefined();
    }
  });

  it('re-running the range loads nothing', async () => {
    const before = fake.loadJobs().length;
    const r = await bq('ds');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).counts).toMatchObject({ loaded: 0, skipped: objectCount, readings: 0 });
    expect(fake.loadJobs()).toHaveLength(before);
    expect(await fake.sql(perSensorSql('ds.pv_readings'))).toEqual(
      await query(duckdbFile, perSensorSql('pv_readings')),
    );
  });

  it('a changed object replaces exactly its own rows', async () => {
    const mirror = join(work, 'mirror');
    cpSync(SAMPLE_MIRROR, mirror, { recursive: true });
    let r = await bq('changed', mirror);
    expect(r.code, r.stderr).toBe(0);
    const before = await fake.sql(`SELECT count(*) AS n FROM changed.pv_readings WHERE source_key = '${CHANGED_KEY}'`);
    // rewrite the object: every value doubled, one reading gone
    await exec(
      null,
      `COPY (SELECT measured_on, utc_measured_on, metric_id, value * 2 AS value FROM read_parquet('${mirror}/${CHANGED_KEY}')
             WHERE measured_on <> TIMESTAMP '2015-06-03 12:00:00') TO '${mirror}/${CHANGED_KEY}' (FORMAT parquet)`,
    );
    r = await bq('changed', mirror);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.counts).toMatchObject({ loaded: 1, skipped: objectCount - 1 });
    expect(summary.replaced).toBe(before[0]!.n);
    const after = await fake.sql(`SELECT count(*) AS n FROM changed.pv_readings WHERE source_key = '${CHANGED_KEY}'`);
    expect(after[0]!.n).toBe(Number(before[0]!.n) - 1);
    // the same as the DuckDB sink on the changed mirror
    const changedDb = join(work, 'changed.duckdb');
    const ref = await runCli(['run', '--source', `file://${mirror}`, ...RANGE, '--sink', `duckdb://${changedDb}`]);
    expect(ref.code, ref.stderr).toBe(0);
    expect(await fake.sql(perSensorSql('changed.pv_readings'))).toEqual(
      await query(changedDb, perSensorSql('pv_readings')),
    );
    expect((await fake.sql(duplicateKeysSql('changed.pv_readings')))[0]!.n).toBe(0);
    const etag = await fake.sql(`SELECT etag FROM changed.pv_ingest_ledger WHERE source_key = '${CHANGED_KEY}'`);
    expect(etag).toEqual(
      await query(changedDb, `SELECT etag FROM pv_ingest_ledger WHERE source_key = '${CHANGED_KEY}'`),
    );
  });

  it('an existing table with an incompatible schema is an error naming the columns, and stays as it was', async () => {
    await fake.engine.createDataset('proj', { datasetReference: { datasetId: 'wrong' } });
    const fields = bigQuerySchema(PV_READINGS)
      .fields.filter((f) => f.name !== 'sensor')
      .map((f) => (f.name === 'value' ? { ...f, type: 'STRING' } : f));
    await fake.engine.createTable('proj', 'wrong', { tableReference: { tableId: 'pv_readings' }, schema: { fields } });
    const r = await bq('wrong');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('table pv_readings has an incompatible schema');
    expect(r.stderr).toContain('sensor (expected STRING, found nothing)');
    expect(r.stderr).toContain('value (expected FLOAT, found STRING)');
    expect(fake.tableResource('proj', 'wrong', 'pv_readings')!.schema.fields).toEqual(fields);
  });
});
