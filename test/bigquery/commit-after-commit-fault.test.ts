import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, parseSystemsOption } from '@pv-pipeline/core';
import { openObjectStore } from '@pv-pipeline/pvdaq';
import { openSink } from '@pv-pipeline/sinks';
import { type RunSummary, runInline, validateRunRequest } from '@pv-pipeline/stages';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BigQueryFake, startBigQueryFake } from '../support/bigquery-fake/index.js';
import { duplicateKeysSql } from '../support/bigquery-fake/test-helpers.js';
import { SAMPLE_MIRROR, sampleParquetObjects } from '../support/cli.js';
import { query } from '../support/duckdb.js';

/** Every column of every fact row (timestamps as epoch µs), in one order. */
const ROWS = (table: string) =>
  `SELECT ss_id, epoch_us(timestamp) AS ts, epoch_us(measured_on) AS measured_on, sensor, metric_id, units, value, source_key
   FROM ${table} ORDER BY ALL`;
const LEDGER = (table: string) => `SELECT source_key, etag, count(*) AS n FROM ${table} GROUP BY ALL ORDER BY ALL`;

/**
 * A commit script whose transaction committed but whose job failed after it
 * (the staging table's DROP TABLE failing transiently) must not be retried
 * into a second insert. The pipeline runs in-process (as `pv-pipeline run`
 * does, from the sources), so that the sink under test is the one in the tree.
 */
describe('BigQuery load mode: a commit job failing after its COMMIT TRANSACTION', () => {
  let fake: BigQueryFake;
  let work: string;
  let duckdbFile: string;
  let objectCount: number;

  /** `pv-pipeline run` over the sample mirror into `sink`, in this process. */
  const run = async (sink: string): Promise<RunSummary> => {
    const store = openObjectStore(`file://${SAMPLE_MIRROR}`);
    const s = openSink(sink, { bigqueryApiEndpoint: fake.url });
    await s.init();
    try {
      return await runInline({
        request: validateRunRequest({
          systems: parseSystemsOption('all'),
          from: '2010-01-01',
          to: '2025-12-31',
          format: 'parquet',
        }),
        store,
        sink: s,
        logger: createLogger({ service: 'test' }, { level: 'silent' }),
        workerThreads: 0,
      });
    } finally {
      await s.close();
      await store.close();
    }
  };

  beforeAll(async () => {
    fake = await startBigQueryFake({ seed: 7 });
    work = mkdtempSync(join(tmpdir(), 'pv-bq-after-commit-'));
    duckdbFile = join(work, 'reference.duckdb');
    const ref = await run(`duckdb://${duckdbFile}`);
    expect(ref.counts.failed).toBe(0);
    objectCount = sampleParquetObjects();
  });
  afterAll(async () => {
    await fake.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('the batch is not inserted twice: every reading once (whole rows), each object once in the ledger, a re-run a no-op', async () => {
    let faulted: string | null = null;
    fake.faults.failAfterCommit = (job) => {
      if (faulted || !job.jobId.startsWith('pv_commit_')) return null;
      faulted = job.jobId;
      return {
        reason: 'backendError',
        message: 'Backend error. Please try again. (injected after COMMIT TRANSACTION)',
      };
    };
    let first: RunSummary;
    try {
      first = await run('bigquery://proj/after_commit');
    } finally {
      fake.faults.failAfterCommit = undefined;
    }
    // the fault hit a commit whose transaction went through: DONE with the error, ledger rows written
    expect(faulted).not.toBeNull();
    const job = fake.jobs.get(faulted!)!;
    expect(job.info.query).toMatch(/COMMIT TRANSACTION;\s*DROP TABLE/);
    expect(job.resource.status).toEqual({
      state: 'DONE',
      errorResult: { reason: 'backendError', message: expect.stringContaining('injected after COMMIT') },
      errors: [{ reason: 'backendError', message: expect.stringContaining('injected after COMMIT') }],
    });

    const reference = await query(duckdbFile, ROWS('pv_readings'));
    expect(reference.length).toBeGreaterThan(0);
    expect(first.counts).toMatchObject({ loaded: objectCount, failed: 0, readings: reference.length });
    // cheap checks first (a failed deep comparison of ~17k rows takes minutes to print)
    expect((await fake.sql(duplicateKeysSql('after_commit.pv_readings')))[0]!.n).toBe(0);
    const rows = await fake.sql(ROWS('after_commit.pv_readings'));
    expect(rows).toHaveLength(reference.length);
    expect(rows).toEqual(reference);
    const ledger = await fake.sql(LEDGER('after_commit.pv_ingest_ledger'));
    expect(ledger).toHaveLength(objectCount);
    expect(ledger).toEqual(await query(duckdbFile, LEDGER('pv_ingest_ledger')));
    // the drop was tried again: no staging table is left behind
    expect([...fake.engine.tables.keys()].filter((k) => k.startsWith('proj:after_commit._pv_stage_'))).toEqual([]);

    // a re-run finds every object in the ledger: it loads nothing and runs no job
    const jobs = fake.jobs.size;
    const again = await run('bigquery://proj/after_commit');
    expect(again.counts).toMatchObject({
      planned: objectCount,
      skipped: objectCount,
      loaded: 0,
      failed: 0,
      readings: 0,
    });
    expect([...fake.jobs.keys()].slice(jobs).filter((id) => /^pv_(load|commit)_/.test(id))).toEqual([]);
    expect(await fake.sql(ROWS('after_commit.pv_readings'))).toEqual(reference);
    expect(await fake.sql(LEDGER('after_commit.pv_ingest_ledger'))).toEqual(ledger);
  }, 120_000);
});
