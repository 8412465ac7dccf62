import type {
  ColumnDef,
  ColumnType,
  PV_INGEST_LEDGER,
  PV_QUALITY_DAILY,
  PV_RUNS,
  PV_SENSORS,
  PV_SYSTEMS,
  TableDef,
} from './tables.js';

/** The TypeScript type of a logical column type: numbers, booleans, and text for instants and dates (ISO). */
type ValueOf<T extends ColumnType> = T extends 'INT64' | 'FLOAT64' ? number : T extends 'BOOL' ? boolean : string;

/** A column's value: null allowed where the column is nullable. */
type ColumnValue<C extends ColumnDef> = C['nullable'] extends true ? ValueOf<C['type']> | null : ValueOf<C['type']>;

/**
 * One row of a table, derived from its definition: a field per column, typed
 * by the column's type and nullability. Instants (`TIMESTAMP`) are ISO strings
 * in UTC, `DATETIME` local ISO text, `DATE` `YYYY-MM-DD`.
 */
export type RowOf<T extends TableDef> = { [C in T['columns'][number] as C['name']]: ColumnValue<C> };

/** A `pv_systems` row. */
export type SystemRow = RowOf<typeof PV_SYSTEMS>;

/** A `pv_sensors` row: one channel of a system. */
export type SensorEntry = RowOf<typeof PV_SENSORS>;

/** A `pv_runs` row: one finished run. */
export type RunRow = RowOf<typeof PV_RUNS>;

/** A `pv_ingest_ledger` row: one committed source object. */
export type LedgerRow = RowOf<typeof PV_INGEST_LEDGER>;

/** A `pv_quality_daily` row: one sensor-day of the quality report. */
export type QualityDailyRow = RowOf<typeof PV_QUALITY_DAILY>;
