export { BigQuerySink } from './bigquery/bigquery-sink.js';
export { DuckDbSink } from './duckdb/duckdb-sink.js';
export { DEFAULT_SINK_URL, type OpenSinkOptions, openSink } from './open-sink.js';
export type { CommitResult, LedgerFilter, Sink } from './sink.js';
