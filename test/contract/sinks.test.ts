import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BIGQUERY_COMMIT_STEPS,
  BigQuerySink,
  DUCKDB_COMMIT_STEPS,
  DuckDbSink,
  PARQUET_COMMIT_STEPS,
  ParquetDatasetSink,
} from '@pv-pipeline/sinks';
import { afterAll, beforeAll } from 'vitest';
import { type BigQueryFake, startBigQueryFake } from '../support/bigquery-fake/index.js';
import { describeSinkContract } from './sink-contract.js';

/** The three sinks, each through the one contract suite. */
let work: string;
let fake: BigQueryFake;
beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'pv-sink-contract-'));
  fake = await startBigQueryFake();
});
afterAll(async () => {
  await fake?.stop();
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
