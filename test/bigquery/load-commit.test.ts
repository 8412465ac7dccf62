import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BigQuerySink, DuckDbSink, openSink } from '@pv-pipeline/sinks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BigQueryFake, startBigQueryFake } from '../support/bigquery-fake/index.js';
import { duckRowsOf, duplicateKeysSql, manifestOf, stageFile } from '../support/bigquery-fake/test-helpers.js';

const FACTS = `SELECT ss_id, epoch_us(timestamp) AS ts, sensor, value, source_key FROM pv_readings ORDER BY ALL`;
const LEDGER = `SELECT source_key, etag, rows, epoch_us(min_timestamp) AS lo, epoch_us(max_timestamp) AS hi FROM pv_ingest_ledger ORDER BY 1`;

/**
 * The reference semantics, side by side: every commit goes to the DuckDB sink
 * and to the BigQuery sink (load mode, through the fake); results and tables
 * must be the same.
 */
describe('BigQuery load-mode commits equal DuckDB commits', () => {
  let fake: BigQueryFake;
  let dir: string;
  let duck: DuckDbSink;
  let bq: BigQuerySink;
  const duckRows = (sql: string) => duckRowsOf(duck, sql);
  const bqRows = (sql: string) =>
    fake.sql(
      sql
        .replaceAll('FROM pv_readings', 'FROM par.pv_readings')
        .replaceAll('FROM pv_ingest_ledger', 'FROM par.pv_ingest_ledger'),
    );
  const stage = async (name: string, ssId: number, from: number, n: number, v: number, etag = 'e1') => {
    const o = { ssId, from, n };
    return manifestOf(name.replace(/\d+$/, ''), await stageFile(dir, name, { ...o, v }), o, etag);
  };
  const both = async (batch: Awaited<ReturnType<typeof stage>>[], run: string) => {
    const a = await duck.commit(batch, run);
    const b = await bq.commit(batch, run);
    expect(b).toEqual(a);
    expect(await bqRows(FACTS)).toEqual(await duckRows(FACTS));
    expect(await bqRows(LEDGER)).toEqual(await duckRows(LEDGER));
    return b;
  };

  beforeAll(async () => {
    fake = await startBigQueryFake();
    dir = mkdtempSync(join(tmpdir(), 'pv-bq-commit-'));
    duck = new DuckDbSink({ path: join(dir, 'pv.duckdb') });
    await duck.init();
    bq = new BigQuerySink({ projectId: 'proj', datasetId: 'par', apiEndpoint: fake.url, pollIntervalMs: 10 });
    await bq.init();
  });
  afterAll(async () => {
    await duck.close();
    await bq.close();
    await fake.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('disjoint objects: inserted straight away (no delete), ledger rows with their time ranges', async () => {
    const r = await both([await stage('a', 4, 0, 10, 0), await stage('b', 4, 10, 10, 100)], 'r1');
    expect(r).toEqual({ rows: 20, replaced: 0 });
    const job = fake.jobs.get([...fake.jobs.keys()].filter((k) => k.startsWith('pv_commit_')).at(-1)!)!;
    expect(job.info.query).not.toMatch(/DELETE/);
  });

  it('two objects of one batch delivering the same key: one row, the later object wins', async () => {
    const r = await both([await stage('c', 4, 30, 10, 1000), await stage('d', 4, 35, 10, 2000)], 'r2');
    expect(r.rows).toBe(15);
  });

  it('an object delivering keys already loaded from another object replaces those rows', async () => {
    expect(await both([await stage('e', 4, 5, 10, 5000)], 'r3')).toEqual({ rows: 10, replaced: 10 });
    expect((await fake.sql(duplicateKeysSql('par.pv_readings')))[0]!.n).toBe(0);
  });

  it('a changed object replaces exactly its own rows; committing the same version again adds nothing', async () => {
    const a2 = await stage('a2', 4, 0, 3, 7, 'e2');
    expect(await both([a2], 'r4')).toEqual({ rows: 3, replaced: 5 });
    // same batch id as r4: its jobs exist (409) and its staging table is gone, so a fresh id is used
    expect(await both([a2], 'r5')).toEqual({ rows: 3, replaced: 3 });
  });

  it('a batch of objects without rows only writes ledger rows', async () => {
    const empty = {
      ...(await stage('g', 4, 100, 1, 0)),
      rows: 0,
      staged: null,
      minTimestamp: null,
      maxTimestamp: null,
    };
    expect(await both([empty], 'r6')).toEqual({ rows: 0, replaced: 0 });
  });

  it('a staged file that does not hold what its manifest says fails the batch before any job, leaving nothing', async () => {
    const f = { ...(await stage('f', 5, 0, 4, 0)), rows: 5 };
    const jobs = fake.loadJobs().length;
    await expect(bq.commit([f], 'r7')).rejects.toThrow(/staged files held 4 rows, manifests say 5/);
    expect(fake.loadJobs()).toHaveLength(jobs);
    expect(await fake.sql(`SELECT count(*) AS n FROM par.pv_ingest_ledger WHERE source_key = 'f'`)).toEqual([{ n: 0 }]);
  });

  it('dimensions and runs are upserted by key with MERGE', async () => {
    const sensor = (units: string) => ({
      ss_id: 4,
      metric_id: 315,
      sensor: 'ac_power',
      common_name: null,
      raw_units: 'W',
      units,
      calc_scale: 1,
      calc_offset: null,
      aggregation_type: 'avg',
      source_type: null,
      standard_name: null,
      source_column: 'ac_power__315',
      interval_s: null,
    });
    await bq.upsertSensors([sensor('W'), sensor('kW')]); // the same key twice: the last one wins
    await bq.upsertSensors([sensor('kW')]);
    expect(await fake.sql('SELECT ss_id, metric_id, units, calc_offset FROM par.pv_sensors')).toEqual([
      { ss_id: 4, metric_id: 315, units: 'kW', calc_offset: null },
    ]);
    const run = {
      run_id: 'r1',
      state: 'completed',
      request: '{}',
      planned: 1,
      loaded: 1,
      skipped: 0,
      failed: 0,
      readings: 20,
      replaced: 0,
      dropped: null,
      errors: null,
      warnings: null,
      started_at: '2026-01-01T00:00:00.000Z',
      finished_at: '2026-01-01T00:00:01.500Z',
    };
    await bq.recordRun(run);
    await bq.recordRun({ ...run, state: 'partial' });
    expect(await fake.sql(`SELECT run_id, state, epoch_ms(finished_at) AS f FROM par.pv_runs`)).toEqual([
      { run_id: 'r1', state: 'partial', f: Date.parse('2026-01-01T00:00:01.500Z') },
    ]);
    const ledger = await bq.ledgerEtags({ ssIds: [4], from: '2020-01-01', to: '2020-01-01' });
    expect(ledger.get('a')).toBe('e2');
    expect(await bq.ledgerEtags({ ssIds: [], from: '2020-01-01', to: '2020-01-01' })).toEqual(new Map());
  });

  it('URLs: bigquery://PROJECT/DATASET[?mode=…&location=…], nothing read from the environment', () => {
    expect(openSink('bigquery://my-proj/my_ds').url).toBe('bigquery://my-proj/my_ds');
    expect(openSink('bigquery://my-proj/my_ds?mode=stream&location=EU').url).toBe(
      'bigquery://my-proj/my_ds?mode=stream',
    );
    expect(() => openSink('bigquery://my-proj')).toThrow(/does not name PROJECT\/DATASET/);
    expect(() => openSink('bigquery://my-proj/my-ds')).toThrow(/not a dataset id/);
    expect(() => openSink('bigquery://p/d?mode=fast')).toThrow(/mode=fast is neither load nor stream/);
    expect(() => openSink('bigquery://p/d?key=secret')).toThrow(/unknown parameter key \(known: mode, location\)/);
    expect(() => openSink('bigquery://p/d', { bigqueryApiEndpoint: 'localhost:9050' })).toThrow(/--bigquery-endpoint/);
  });
});
