import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BigQueryFake, startBigQueryFake } from '../support/bigquery-fake/index.js';
import { duplicateKeysSql, perSensorSql, spawnCli } from '../support/bigquery-fake/test-helpers.js';
import { runCli, SAMPLE_MIRROR, sampleParquetObjects } from '../support/cli.js';
import { query } from '../support/duckdb.js';
import { waitFor } from '../support/wait-for.js';

const RANGE = ['--from', '2010-01-01', '--to', '2025-12-31'];
const BAD_KEY = 'parquet/pvdata/system_id=50/year=2011/month=11/day=6/system_50__date_2011_11_06.snappy.000.parquet';

describe('BigQuery load mode under crashes and faults', () => {
  let fake: BigQueryFake;
  let work: string;
  let duckdbFile: string;
  let reference: Array<Record<string, unknown>>;
  let objectCount: number;
  const args = (dataset: string) => [
    'run',
    '--source',
    `file://${SAMPLE_MIRROR}`,
    ...RANGE,
    '--sink',
    `bigquery://proj/${dataset}`,
    '--bigquery-endpoint',
    fake.url,
    '--json',
  ];

  beforeAll(async () => {
    fake = await startBigQueryFake({ seed: 7 });
    work = mkdtempSync(join(tmpdir(), 'pv-bq-faults-'));
    duckdbFile = join(work, 'reference.duckdb');
    const ref = await runCli([
      'run',
      '--source',
      `file://${SAMPLE_MIRROR}`,
      ...RANGE,
      '--sink',
      `duckdb://${duckdbFile}`,
    ]);
    expect(ref.code, ref.stderr).toBe(0);
    reference = await query(duckdbFile, perSensorSql('pv_readings'));
    objectCount = sampleParquetObjects();
  });
  afterAll(async () => {
    await fake.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('killed while its load job runs: the rerun gets 409 for the same job id, waits for it, loads nothing twice', async () => {
    let held: string | null = null;
    fake.faults.holdJob = (job) => {
      if (job.kind !== 'load' || held) return 0;
      held = job.jobId;
      return Number.POSITIVE_INFINITY; // PENDING until released
    };
    const first = spawnCli(args('crash'));
    await waitFor(() => held !== null && (fake.jobs.get(held)?.polls ?? 0) >= 2, {
      timeoutMs: 60_000,
      what: 'the CLI polling its load job',
    });
    first.child.kill('SIGKILL');
    const killed = await first.done;
    expect(killed.code).toBeNull();
    for (const d of readdirSync(tmpdir()).filter((f) => f.startsWith(`pv-bigquery-${first.child.pid}-`))) {
      rmSync(join(tmpdir(), d), { recursive: true, force: true }); // what the killed CLI could not clean up
    }
    // nothing committed: the job had not run, no ledger row; its staging table waits, empty, with an expiration
    expect(await fake.sql('SELECT count(*) AS n FROM crash.pv_readings')).toEqual([{ n: 0 }]);
    const stage = fake.tableResource('proj', 'crash', String(held).replace(/^pv_load_(\w+)_0$/, '_pv_stage_$1'));
    expect(Number(stage?.expirationTime)).toBeGreaterThan(Date.now());
    expect(await fake.sql('SELECT count(*) AS n FROM crash.pv_ingest_ledger')).toEqual([{ n: 0 }]);

    fake.faults.holdJob = undefined;
    fake.release(held!); // the job runs at its next poll, as a real one would finish meanwhile
    const r = await runCli(args('crash'));
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).counts).toMatchObject({ loaded: objectCount, failed: 0 });
    expect(fake.conflicts).toContain(held);
    // one load job in all: the retry attached to it instead of loading again
    expect(fake.loadJobs().map((j) => j.info.jobId)).toEqual([held]);
    expect(await fake.sql(perSensorSql('crash.pv_readings'))).toEqual(reference);
    expect((await fake.sql(duplicateKeysSql('crash.pv_readings')))[0]!.n).toBe(0);
    expect(await fake.sql('SELECT count(*) AS n FROM crash.pv_ingest_ledger')).toEqual([{ n: objectCount }]);
  }, 120_000);

  it('with 10 % of requests failing (500/503/429, half of them after the work was done) the rows are exact', async () => {
    const from = fake.requests.length;
    fake.faults.errorRate = 0.1;
    // and the upload (which the client never retries) answered 503 after the job was created
    let uploadFailed = false;
    fake.faults.failRequest = (req) => {
      if (uploadFailed || !req.path.startsWith('/upload/')) return null;
      uploadFailed = true;
      return { status: 503, after: true };
    };
    try {
      const r = await runCli(args('flaky'), { timeoutMs: 150_000 });
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).counts).toMatchObject({ loaded: objectCount, failed: 0 });
    } finally {
      fake.faults.errorRate = 0;
      fake.faults.failRequest = undefined;
    }
    const injected = fake.requests.slice(from).filter((x) => x.injected);
    expect(injected.length).toBeGreaterThan(1);
    // our retry of the upload found the job it had created (409) and waited for it
    const flakyLoads = fake.loadJobs().filter((j) => j.info.destination?.startsWith('flaky.'));
    expect(flakyLoads).toHaveLength(1);
    expect(fake.conflicts).toContain(flakyLoads[0]!.info.jobId);
    expect(await fake.sql(perSensorSql('flaky.pv_readings'))).toEqual(reference);
    expect((await fake.sql(duplicateKeysSql('flaky.pv_readings')))[0]!.n).toBe(0);
    expect(await fake.sql('SELECT count(*) AS n FROM flaky.pv_ingest_ledger')).toEqual([{ n: objectCount }]);
  }, 180_000);

  it('a load job that ends in a transient error is retried under a fresh id', async () => {
    let failed: string | null = null;
    fake.faults.failJob = (job) => {
      if (job.kind !== 'load' || failed) return null;
      failed = job.jobId;
      return { reason: 'backendError', message: 'Injected backend error.' };
    };
    try {
      const r = await runCli(args('retried'));
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).counts).toMatchObject({ loaded: objectCount, failed: 0 });
    } finally {
      fake.faults.failJob = undefined;
    }
    expect(failed).toMatch(/_0$/);
    const retry = fake.jobs.get(failed!.replace(/_0$/, '_1'));
    expect(retry?.resource.status).toEqual({ state: 'DONE' });
    expect(await fake.sql(perSensorSql('retried.pv_readings'))).toEqual(reference);
  });

  it('a load job that ends in an error on one object fails that object alone (exit 2), never counted as loaded', async () => {
    fake.faults.failJob = (job) =>
      job.kind === 'load' && job.sourceKeys.includes(BAD_KEY)
        ? { reason: 'invalid', message: 'Error while reading data, error message: injected corrupt file' }
        : null;
    let r: Awaited<ReturnType<typeof runCli>>;
    try {
      r = await runCli(args('partial'));
    } finally {
      fake.faults.failJob = undefined;
    }
    expect(r.code, r.stderr).toBe(2);
    const summary = JSON.parse(r.stdout);
    expect(summary.counts).toMatchObject({ loaded: objectCount - 1, failed: 1 });
    expect(summary.failures).toEqual([{ key: BAD_KEY, reason: expect.stringContaining('injected corrupt file') }]);
    expect(await fake.sql(`SELECT count(*) AS n FROM partial.pv_readings WHERE source_key = '${BAD_KEY}'`)).toEqual([
      { n: 0 },
    ]);
    expect(
      await fake.sql(`SELECT count(*) AS n FROM partial.pv_ingest_ledger WHERE source_key = '${BAD_KEY}'`),
    ).toEqual([{ n: 0 }]);
    const others = await query(
      duckdbFile,
      `SELECT ss_id, sensor, count(*) AS n, round(sum(value), 6) AS s FROM pv_readings WHERE source_key <> '${BAD_KEY}' GROUP BY ALL ORDER BY ALL`,
    );
    expect(await fake.sql(perSensorSql('partial.pv_readings'))).toEqual(others);
    expect(await fake.sql('SELECT state, failed FROM partial.pv_runs')).toEqual([{ state: 'partial', failed: 1 }]);
    // no staging table is left behind by the failed object
    expect([...fake.engine.tables.keys()].filter((k) => k.startsWith('proj:partial._pv_stage_'))).toEqual([]);
  });
});
