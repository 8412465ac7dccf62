export * from './duckdb-ddl.js';
export * from './tables.js';
