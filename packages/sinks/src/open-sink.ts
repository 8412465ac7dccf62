import { BadInputError } from '@pv-pipeline/core';
import { type BigQueryConnectOptions, openBigQuerySink } from './bigquery/bigquery-sink.js';
import { openDuckDbSink } from './duckdb/duckdb-sink.js';
import { openParquetSink } from './parquet/parquet-sink.js';
import type { Sink } from './sink.js';

export { DEFAULT_SINK_URL } from '@pv-pipeline/core';

/** What a sink may need besides its URL (filled by the CLI or the service config, never read from the environment here). */
export type OpenSinkOptions = BigQueryConnectOptions;

/**
 * Opens a sink by URL: `duckdb:///abs/file.duckdb` (default `./pvdaq.duckdb`),
 * `parquet:///abs/dir`, `bigquery://PROJECT/DATASET[?mode=stream]`. The sink
 * still needs `init()`.
 */
export function openSink(url: string, options: OpenSinkOptions = {}): Sink {
  const scheme = /^([a-z]+):\/\//.exec(url)?.[1];
  switch (scheme) {
    case 'duckdb':
      return openDuckDbSink(url);
    case 'parquet':
      return openParquetSink(url);
    case 'bigquery':
      return openBigQuerySink(url, options);
    default:
      throw new BadInputError(
        '--sink',
        `"${url}" has no known scheme (duckdb://FILE, parquet://DIR, bigquery://PROJECT/DATASET)`,
      );
  }
}
