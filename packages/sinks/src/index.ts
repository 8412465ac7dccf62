export * from './bigquery-sink.js';
export * from './duckdb-sink.js';
export * from './open-sink.js';
export * from './parquet-sink.js';
export * from './sink.js';
