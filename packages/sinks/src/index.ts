export { BIGQUERY_COMMIT_STEPS } from './bigquery/bigquery-load-job.js';
export { BigQuerySink, type BigQuerySinkOptions } from './bigquery/bigquery-sink.js';
export { DUCKDB_COMMIT_STEPS, DuckDbSink, type DuckDbSinkOptions } from './duckdb/duckdb-sink.js';
export { DEFAULT_SINK_URL, isParquetDatasetUrl, type OpenSinkOptions, openSink } from './open-sink.js';
export {
  PARQUET_COMMIT_STEPS,
  ParquetDatasetSink,
  type ParquetDatasetSinkOptions,
} from './parquet/parquet-sink.js';
export { ReadingsFileWriter, type ReadingsFileWriterOptions } from './parquet/readings-file.js';
export type { CommitResult, DerivedSlice, LedgerFilter, ReaderOptions, Sink, SinkInitOptions } from './sink.js';
export type { WarehouseReader, WarehouseRow, WarehouseValue } from './warehouse-reader.js';
