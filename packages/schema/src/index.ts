export * from './tables.js';
export * from './duckdb-ddl.js';
