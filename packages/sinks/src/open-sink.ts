import { BadInputError } from '@pv-pipeline/core';
import { type BigQueryConnectOptions, openBigQuerySink } from './bigquery/bigquery-sink.js';
import { openDuckDbSink } from './duckdb/duckdb-sink.js';
import { openParquetSink } from './parquet/parquet-sink.js';
import type { Sink } from './sink.js';

export { DEFAULT_SINK_URL } from '@pv-pipeline/core';

/** What a sink may need besides its URL (filled by the CLI or the service config, never read from the environment here). */
export interface OpenSinkOptions extends BigQueryConnectOptions {
  /** Where the URL came from, named in errors: a flag or a variable. @defaultValue `--sink` */
  from?: string;
}

/** Whether a sink URL names a Parquet dataset (`parquet://`), whose readings files the workers write. */
export function isParquetDatasetUrl(url: string): boolean {
  return /^\s*parquet:\/\//i.test(url);
}

/**
 * Opens a sink by URL: `duckdb:///abs/file.duckdb` (default `./pvdaq.duckdb`),
 * `parquet:///abs/dir`, `bigquery://PROJECT/DATASET[?mode=stream]`. The sink
 * still needs `init()`.
 */
export function openSink(url: string, options: OpenSinkOptions = {}): Sink {
  const from = options.from ?? '--sink';
  const scheme = /^\s*([a-z]+):\/\//i.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'duckdb':
      return openDuckDbSink(url, from);
    case 'parquet':
      return openParquetSink(url, from);
    case 'bigquery':
      return openBigQuerySink(url, options, from);
    default:
      throw new BadInputError(
        from,
        `"${url.trim()}" has no known scheme (duckdb://FILE, parquet://DIR, bigquery://PROJECT/DATASET)`,
      );
  }
}
