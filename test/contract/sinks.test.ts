import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { StagedManifest } from '@pv-pipeline/core';
import {
  BIGQUERY_COMMIT_STEPS,
  BigQuerySink,
  DUCKDB_COMMIT_STEPS,
  DuckDbSink,
  OBJECT_PARQUET_COMMIT_STEPS,
  ObjectParquetSink,
  PARQUET_COMMIT_STEPS,
  ParquetDatasetSink,
  ReadingsFileWriter,
} from '@pv-pipeline/sinks';
import { openGcsStagingArea } from '@pv-pipeline/stages';
import { afterAll, beforeAll } from 'vitest';
import { type BigQueryFake, startBigQueryFake } from '../support/bigquery-fake/index.js';
import { S3RVER_CREDENTIALS, type S3Server, startS3Server } from '../support/s3-server.js';
import { describeSinkContract, type SinkUnderTest } from './sink-contract.js';

/** The sinks, each through the one contract suite. */
let work: string;
let fake: BigQueryFake;
let s3: S3Server;
/** The BigQuery fake whose load jobs read `gs://` from the S3-protocol server (Cloud Storage's XML API stand-in). */
let gcsFake: BigQueryFake;
const readingsFiles = new ReadingsFileWriter();
beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'pv-sink-contract-'));
  fake = await startBigQueryFake();
  s3 = await startS3Server();
  await s3.bucket('contract');
  await s3.bucket('contract-gcs');
  gcsFake = await startBigQueryFake({ gcsEndpoint: s3.endpoint });
});
afterAll(async () => {
  await readingsFiles.close();
  await gcsFake?.stop();
  await fake?.stop();
  await s3?.stop();
  rmSync(work, { recursive: true, force: true });
});

describeSinkContract('DuckDB file', () => ({
  make: (name, onCommitStep) =>
    new DuckDbSink({ path: join(work, `${name}.duckdb`), ...(onCommitStep ? { onCommitStep } : {}) }),
  commitSteps: DUCKDB_COMMIT_STEPS,
  stagingDir: join(work, 'staged'),
}));

describeSinkContract('Parquet dataset', () => ({
  make: (name, onCommitStep) =>
    new ParquetDatasetSink({ root: join(work, name), ...(onCommitStep ? { onCommitStep } : {}) }),
  commitSteps: PARQUET_COMMIT_STEPS,
  stagingDir: join(work, 'staged'),
}));

describeSinkContract('Parquet dataset on S3 (s3rver)', () => ({
  make: (name, onCommitStep) =>
    new ObjectParquetSink({
      bucket: 'contract',
      prefix: `datasets/${name}`,
      endpoint: s3.endpoint,
      credentials: S3RVER_CREDENTIALS,
      workDir: join(work, 's3-work'),
      ...(onCommitStep ? { onCommitStep } : {}),
    }),
  commitSteps: OBJECT_PARQUET_COMMIT_STEPS,
  stagingDir: join(work, 'staged'),
}));

/** A BigQuery sink (load mode) against a fake, fast polls and retries. */
const bigQueryUnderTest = (endpoint: () => string): SinkUnderTest => ({
  make: (name, onCommitStep) =>
    new BigQuerySink({
      projectId: 'contract',
      datasetId: name,
      apiEndpoint: endpoint(),
      retry: { baseMs: 1 },
      pollIntervalMs: 5,
      ...(onCommitStep ? { onCommitStep } : {}),
    }),
  commitSteps: BIGQUERY_COMMIT_STEPS,
  stagingDir: join(work, 'staged'),
});

describeSinkContract('BigQuery (load mode, against the fake)', () => bigQueryUnderTest(() => fake.url));

/** A cluster's BigQuery staging: the worker's readings file of the object, put in `gs://` staging. */
async function inGcsStaging(m: StagedManifest): Promise<StagedManifest> {
  const staging = openGcsStagingArea('contract-gcs', 'staged', {
    endpoint: s3.endpoint,
    credentials: S3RVER_CREDENTIALS,
  });
  const out = join(work, `${basename(m.staged!)}.readings.parquet`);
  const restaged = { ...m, layout: 'pv_readings' as const };
  await readingsFiles.write(restaged, m.staged!, out);
  restaged.staged = await staging.write(basename(out, '.parquet'), await readFile(out));
  return restaged;
}

describeSinkContract('BigQuery (load mode, readings files in gs:// staging, against the fake)', () => ({
  ...bigQueryUnderTest(() => gcsFake.url),
  restage: inGcsStaging,
  missingStaged: 'gs://contract-gcs/staged/no-such-file.parquet',
}));
