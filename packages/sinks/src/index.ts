export { BIGQUERY_COMMIT_STEPS } from './bigquery/bigquery-load-job.js';
export { BigQuerySink, type BigQuerySinkOptions } from './bigquery/bigquery-sink.js';
export {
  DUCKDB_COMMIT_STEPS,
  DUCKDB_DEFAULT_MEMORY_LIMIT,
  DuckDbSink,
  type DuckDbSinkOptions,
} from './duckdb/duckdb-sink.js';
export {
  DEFAULT_SINK_URL,
  isObjectDatasetUrl,
  isParquetDatasetUrl,
  type OpenSinkOptions,
  openSink,
  stagesChannelIndex,
  stagesReadingsFiles,
} from './open-sink.js';
export {
  PARQUET_COMMIT_STEPS,
  ParquetDatasetSink,
  type ParquetDatasetSinkOptions,
} from './parquet/parquet-sink.js';
export { ReadingsFileWriter, type ReadingsFileWriterOptions } from './parquet/readings-file.js';
export { DatasetBucket, type DatasetBucketOptions } from './parquet-s3/dataset-bucket.js';
export {
  DEFAULT_VACUUM_AGE_MS,
  OBJECT_PARQUET_COMMIT_STEPS,
  ObjectParquetSink,
  type ObjectParquetSinkOptions,
  type ObjectStorageAccess,
  openObjectParquetSink,
  type VacuumOptions,
  type VacuumResult,
} from './parquet-s3/object-parquet-sink.js';
export { openReadingsPlacement, ReadingsPlacement } from './parquet-s3/readings-placement.js';
export {
  type CommitResult,
  commitBatchRows,
  type DerivedSlice,
  type LedgerFilter,
  type ReaderOptions,
  type Sink,
  type SinkInitOptions,
} from './sink.js';
export type { WarehouseReader, WarehouseRow, WarehouseValue } from './warehouse-reader.js';
