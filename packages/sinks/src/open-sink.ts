import { BadInputError } from '@pv-pipeline/core';
import { type BigQueryConnectOptions, openBigQuerySink, parseBigQuerySinkUrl } from './bigquery/bigquery-sink.js';
import { openDuckDbSink } from './duckdb/duckdb-sink.js';
import { openParquetSink } from './parquet/parquet-sink.js';
import { type ObjectStorageAccess, openObjectParquetSink } from './parquet-s3/object-parquet-sink.js';
import type { Sink } from './sink.js';

export { DEFAULT_SINK_URL } from '@pv-pipeline/core';

/** What a sink may need besides its URL (filled by the CLI or the service config, never read from the environment here). */
export interface OpenSinkOptions extends BigQueryConnectOptions, ObjectStorageAccess {
  /** Where the URL came from, named in errors: a flag or a variable. @defaultValue `--sink` */
  from?: string;
}

/**
 * Whether a sink URL names a Parquet dataset (`parquet://` or `parquet+s3://`),
 * whose readings files the workers write.
 */
export function isParquetDatasetUrl(url: string): boolean {
  return /^\s*parquet(\+s3)?:\/\//i.test(url);
}

/** Whether a sink URL names a Parquet dataset on object storage (`parquet+s3://`), where workers place their files. */
export function isObjectDatasetUrl(url: string): boolean {
  return /^\s*parquet\+s3:\/\//i.test(url);
}

/**
 * Whether the workers of a cluster stage each daily object as a readings file
 * (`pv_readings`' columns, `source_key` included; see ReadingsFileWriter)
 * rather than as staged columns: for a Parquet dataset, which takes the file
 * as it is, and for a BigQuery sink in load mode with `gs://` staging, whose
 * load jobs read the files in Cloud Storage by their URIs. A malformed
 * `bigquery://` URL is a BadInputError naming `from`.
 *
 * @param from where the sink URL came from, named in errors @defaultValue `PV_SINK`
 */
export function stagesReadingsFiles(sinkUrl: string, stagingUrl: string, from = 'PV_SINK'): boolean {
  if (isParquetDatasetUrl(sinkUrl)) return true;
  if (!/^\s*bigquery:\/\//i.test(sinkUrl) || !/^gs:\/\//i.test(stagingUrl)) return false;
  return parseBigQuerySinkUrl(sinkUrl, from).mode === 'load';
}

/**
 * Whether workers stage files without text (layout `channel_index`) for the
 * sink a URL names: a DuckDB sink's loader reads them (see Sink.readsChannelIndex).
 */
export function stagesChannelIndex(sinkUrl: string): boolean {
  return /^\s*duckdb:\/\//i.test(sinkUrl);
}

/**
 * Opens a sink by URL: `duckdb:///abs/file.duckdb` (default `./pvdaq.duckdb`),
 * `parquet:///abs/dir`, `parquet+s3://BUCKET/PREFIX` (with the source's S3
 * endpoint), `bigquery://PROJECT/DATASET[?mode=stream]`. The sink
 * still needs `init()`.
 */
export function openSink(url: string, options: OpenSinkOptions = {}): Sink {
  const from = options.from ?? '--sink';
  const scheme = /^\s*([a-z][a-z0-9+]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'duckdb':
      return openDuckDbSink(url, from);
    case 'parquet':
      return openParquetSink(url, from);
    case 'parquet+s3':
      return openObjectParquetSink(url, options, from);
    case 'bigquery':
      return openBigQuerySink(url, options, from);
    default:
      throw new BadInputError(
        from,
        `"${url.trim()}" has no known scheme (duckdb://FILE, parquet://DIR, parquet+s3://BUCKET/PREFIX, bigquery://PROJECT/DATASET)`,
      );
  }
}
