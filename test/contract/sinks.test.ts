import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BIGQUERY_COMMIT_STEPS,
  BigQuerySink,
  DUCKDB_COMMIT_STEPS,
  DuckDbSink,
  OBJECT_PARQUET_COMMIT_STEPS,
  ObjectParquetSink,
  PARQUET_COMMIT_STEPS,
  ParquetDatasetSink,
} from '@pv-pipeline/sinks';
import { afterAll, beforeAll } from 'vitest';
import { type BigQueryFake, startBigQueryFake } from '../support/bigquery-fake/index.js';
import { S3RVER_CREDENTIALS, type S3Server, startS3Server } from '../support/s3-server.js';
import { describeSinkContract } from './sink-contract.js';

/** The sinks, each through the one contract suite. */
let work: string;
let fake: BigQueryFake;
let s3: S3Server;
beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'pv-sink-contract-'));
  fake = await startBigQueryFake();
  s3 = await startS3Server();
  await s3.bucket('contract');
});
afterAll(async () => {
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

describeSinkContract('BigQuery (load mode, against the fake)', () => ({
  make: (name, onCommitStep) =>
    new BigQuerySink({
      projectId: 'contract',
      datasetId: name,
      apiEndpoint: fake.url,
      retry: { baseMs: 1 },
      pollIntervalMs: 5,
      ...(onCommitStep ? { onCommitStep } : {}),
    }),
  commitSteps: BIGQUERY_COMMIT_STEPS,
  stagingDir: join(work, 'staged'),
}));
