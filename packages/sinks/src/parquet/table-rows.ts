import type { DuckDBValue } from '@duckdb/node-api';
import { BadInputError } from '@pv-pipeline/core';
import type { TableDef } from '@pv-pipeline/schema';

/** A field of a row object. */
export const field = (row: object, name: string): unknown => (row as Record<string, unknown>)[name];

/** A row's field as a DuckDB parameter; INT64 fields must be integers (DuckDB would round). */
export function toValue(table: TableDef, name: string, type: string, row: object): DuckDBValue {
  const v = field(row, name);
  if (v === undefined || v === null) return null;
  if (type === 'INT64' && typeof v === 'number' && !Number.isSafeInteger(v)) {
    throw new BadInputError(`${table.name}.${name}`, `${v} is not an integer`);
  }
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' || typeof v === 'bigint') return v;
  if (v instanceof Date) return v.toISOString();
  throw new BadInputError(`${table.name}.${name}`, `unsupported value ${JSON.stringify(v)}`);
}
