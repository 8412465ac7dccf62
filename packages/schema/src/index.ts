export * from './bigquery-schema.js';
export * from './duckdb-ddl.js';
export * from './tables.js';
