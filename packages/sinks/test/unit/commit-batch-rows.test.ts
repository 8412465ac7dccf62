import { DEFAULTS } from '@pv-pipeline/core';
import { describe, expect, it } from 'vitest';
import { BigQuerySink, commitBatchRows, DuckDbSink } from '../../src/index.js';

describe('commitBatchRows', () => {
  const bigquery = (mode: 'load' | 'stream') => new BigQuerySink({ projectId: 'p', datasetId: 'd', mode });

  it('gives a BigQuery sink in load mode its large batches, and every other sink the default', () => {
    expect(commitBatchRows(bigquery('load'))).toBe(DEFAULTS.bigQueryBatchRows);
    expect(DEFAULTS.bigQueryBatchRows).toBeGreaterThan(DEFAULTS.batchRows);
    // stream mode sends rows in insertAll requests: no reason for large batches
    expect(commitBatchRows(bigquery('stream'))).toBe(DEFAULTS.batchRows);
    expect(commitBatchRows(new DuckDbSink({ path: ':memory:' }))).toBe(DEFAULTS.batchRows);
  });

  it('keeps what the user set, for any sink', () => {
    expect(commitBatchRows(bigquery('load'), 50_000)).toBe(50_000);
    expect(commitBatchRows(new DuckDbSink({ path: ':memory:' }), 2_000_000)).toBe(2_000_000);
  });
});
