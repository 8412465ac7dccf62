export {
  STAGED_CHANNEL_INDEX_COLUMNS,
  STAGED_READINGS_COLUMNS,
  stagedArrowType,
  stagedReadingsSchema,
} from './arrow-schema.js';
export {
  type BigQueryField,
  type BigQuerySchema,
  bigQuerySchema,
  bigQuerySchemaMismatches,
  bigQueryTableLayout,
  bigQueryType,
  canonicalBigQueryType,
  type ExistingBigQueryField,
} from './bigquery-schema.js';
export { duckdbCreateTable, duckdbType, quoteIdent } from './duckdb-ddl.js';
export type { LedgerRow, QualityDailyRow, RowOf, RunRow, SensorEntry, SystemRow } from './rows.js';
export {
  ALL_TABLES,
  type ColumnDef,
  type ColumnType,
  PV_INGEST_LEDGER,
  PV_QUALITY_DAILY,
  PV_READINGS,
  PV_RUNS,
  PV_SENSORS,
  PV_SYSTEMS,
  type TableDef,
} from './tables.js';
