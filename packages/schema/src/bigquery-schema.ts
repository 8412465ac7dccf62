import { type ColumnType, PV_READINGS, type TableDef } from './tables.js';

/** One field of a BigQuery table schema, as the REST API's `TableFieldSchema`. */
export interface BigQueryField {
  name: string;
  /** Legacy type name, as the API returns it (`INTEGER`, `FLOAT`, `BOOLEAN`, …). */
  type: string;
  mode: 'REQUIRED' | 'NULLABLE';
  description: string;
}

/** A BigQuery table schema (`TableSchema`). */
export interface BigQuerySchema {
  fields: BigQueryField[];
}

/** What a BigQuery table is created with besides its schema. */
export interface BigQueryTableLayout {
  /** `timePartitioning` of the table resource. */
  timePartitioning?: { type: 'DAY' | 'MONTH' | 'YEAR'; field: string };
  /** `clustering` of the table resource. */
  clustering?: { fields: string[] };
}

/**
 * Logical type → the name the BigQuery API uses in table resources. The API
 * accepts both spellings on input (`INT64` / `INTEGER`) but always answers
 * with the legacy one, so schemas are written and compared in that spelling.
 */
const BIGQUERY_TYPES: Record<ColumnType, string> = {
  INT64: 'INTEGER',
  FLOAT64: 'FLOAT',
  STRING: 'STRING',
  TIMESTAMP: 'TIMESTAMP',
  DATETIME: 'DATETIME',
  DATE: 'DATE',
  BOOL: 'BOOLEAN',
};

/** Aliases the API may answer with, mapped to the canonical legacy spelling. */
const TYPE_ALIASES: Record<string, string> = {
  INT64: 'INTEGER',
  FLOAT64: 'FLOAT',
  BOOL: 'BOOLEAN',
};

/** The BigQuery type of a logical column type (legacy spelling, as in table resources). */
export function bigQueryType(type: ColumnType): string {
  return BIGQUERY_TYPES[type];
}

/** Canonical spelling of a BigQuery type name (`INT64` → `INTEGER`, `bool` → `BOOLEAN`). */
export function canonicalBigQueryType(type: string): string {
  const upper = type.toUpperCase();
  return TYPE_ALIASES[upper] ?? upper;
}

/** The BigQuery schema of a table of the star schema, derived from its one definition. */
export function bigQuerySchema(table: TableDef): BigQuerySchema {
  return {
    fields: table.columns.map((c) => ({
      name: c.name,
      type: bigQueryType(c.type),
      mode: c.nullable ? 'NULLABLE' : 'REQUIRED',
      description: c.description,
    })),
  };
}

/**
 * Partitioning and clustering: the fact table is partitioned by MONTH on
 * `timestamp` (a day partition per daily object would exceed the 10,000
 * partitions per table over the archive's ~30 years; months give ~360) and
 * clustered by `ss_id, sensor`, the usual filters. Dimensions and the ledger
 * are small and unpartitioned.
 */
export function bigQueryTableLayout(table: TableDef): BigQueryTableLayout {
  if (table.name === PV_READINGS.name) {
    return { timePartitioning: { type: 'MONTH', field: 'timestamp' }, clustering: { fields: ['ss_id', 'sensor'] } };
  }
  return {};
}

/** A field of an existing table, as `tables.get` returns it. */
export interface ExistingBigQueryField {
  name: string;
  type: string;
  mode?: string;
}

/**
 * The columns of an existing table that are incompatible with the schema:
 * a column that is missing or of another type, a column we write NULL into
 * that the table requires, and a REQUIRED column we do not know (every insert
 * would fail). Extra NULLABLE columns are compatible. One entry per column,
 * e.g. `value (expected FLOAT, found STRING)`.
 */
export function bigQuerySchemaMismatches(table: TableDef, existing: readonly ExistingBigQueryField[]): string[] {
  const have = new Map(existing.map((f) => [f.name.toLowerCase(), f]));
  const wrong: string[] = [];
  for (const field of bigQuerySchema(table).fields) {
    const f = have.get(field.name.toLowerCase());
    if (!f) {
      wrong.push(`${field.name} (expected ${field.type}, found nothing)`);
      continue;
    }
    const type = canonicalBigQueryType(f.type);
    const mode = (f.mode ?? 'NULLABLE').toUpperCase();
    if (type !== field.type) wrong.push(`${field.name} (expected ${field.type}, found ${type})`);
    else if (mode === 'REPEATED') wrong.push(`${field.name} (expected ${field.mode} ${field.type}, found REPEATED)`);
    else if (mode === 'REQUIRED' && field.mode === 'NULLABLE')
      wrong.push(`${field.name} (expected NULLABLE ${field.type}, found REQUIRED)`);
  }
  const known = new Set(table.columns.map((c) => c.name.toLowerCase()));
  for (const f of existing) {
    if (!known.has(f.name.toLowerCase()) && (f.mode ?? '').toUpperCase() === 'REQUIRED') {
      wrong.push(`${f.name} (unexpected REQUIRED ${canonicalBigQueryType(f.type)} column)`);
    }
  }
  return wrong;
}
