import { BadInputError } from '@pv-pipeline/core';
import { openDuckDbSink } from './duckdb-sink.js';
import { openParquetSink } from './parquet-sink.js';
import type { Sink } from './sink.js';

/** The sink used when none is given: a DuckDB file in the working directory. */
export const DEFAULT_SINK_URL = 'duckdb://./pvdaq.duckdb';

/**
 * Opens a sink by URL: `duckdb:///abs/file.duckdb` (default `./pvdaq.duckdb`),
 * `parquet:///abs/dir`. The sink still needs `init()`.
 */
export function openSink(url: string): Sink {
  const scheme = /^([a-z]+):\/\//.exec(url)?.[1];
  switch (scheme) {
    case 'duckdb':
      return openDuckDbSink(url);
    case 'parquet':
      return openParquetSink(url);
    case 'bigquery':
      throw new BadInputError('--sink', 'the BigQuery sink is not available yet (use duckdb:// or parquet://)');
    default:
      throw new BadInputError(
        '--sink',
        `"${url}" has no known scheme (duckdb://FILE, parquet://DIR, bigquery://PROJECT/DATASET)`,
      );
  }
}
