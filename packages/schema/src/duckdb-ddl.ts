import type { ColumnType, TableDef } from './tables.js';

const DUCKDB_TYPES: Record<ColumnType, string> = {
  INT64: 'BIGINT',
  FLOAT64: 'DOUBLE',
  STRING: 'VARCHAR',
  TIMESTAMP: 'TIMESTAMPTZ',
  DATETIME: 'TIMESTAMP',
  DATE: 'DATE',
  BOOL: 'BOOLEAN',
};

/** The DuckDB type of a logical column type. */
export function duckdbType(type: ColumnType): string {
  return DUCKDB_TYPES[type];
}

/** Quotes an identifier for DuckDB SQL. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * `CREATE TABLE IF NOT EXISTS` for a table. With `primaryKey` the logical key is
 * declared as a PRIMARY KEY (used for the small dimension and ledger tables; the
 * fact table's key is kept unique by the sink's delete-then-insert commit).
 */
export function duckdbCreateTable(table: TableDef, options: { primaryKey: boolean }): string {
  const cols = table.columns.map((c) => `${quoteIdent(c.name)} ${duckdbType(c.type)}${c.nullable ? '' : ' NOT NULL'}`);
  if (options.primaryKey) cols.push(`PRIMARY KEY (${table.key.map(quoteIdent).join(', ')})`);
  return `CREATE TABLE IF NOT EXISTS ${quoteIdent(table.name)} (\n  ${cols.join(',\n  ')}\n)`;
}
