import * as arrow from 'apache-arrow';
import { type ColumnDef, PV_READINGS } from './tables.js';

/**
 * The columns of a staged readings file: `pv_readings` without `source_key`
 * (the loader knows each file's object), in table order.
 */
export const STAGED_READINGS_COLUMNS: readonly ColumnDef[] = PV_READINGS.columns.filter((c) => c.name !== 'source_key');

const readingsColumn = (name: string): ColumnDef => PV_READINGS.columns.find((c) => c.name === name)!;

/**
 * The columns of a staged readings file without text (manifest layout
 * `channel_index`): `pv_readings`' `ss_id, timestamp, measured_on, value`,
 * and in place of `sensor, metric_id, units` a `channel`, the row's position
 * in its manifest's list of channels. Far cheaper to encode, read and join
 * than the names in every row; a DuckDB sink's loader maps the positions to
 * its own channel numbers.
 */
export const STAGED_CHANNEL_INDEX_COLUMNS: readonly ColumnDef[] = [
  readingsColumn('ss_id'),
  readingsColumn('timestamp'),
  readingsColumn('measured_on'),
  {
    name: 'channel',
    type: 'INT64',
    nullable: false,
    description: "position of the row's channel in the staged file's manifest (StagedManifest.channels)",
  },
  readingsColumn('value'),
];

/**
 * The Arrow type a staged file stores a column in, derived from its logical
 * type: INT64 as Int32 (PVDAQ system and metric ids fit 32 bits; the readers
 * refuse larger ones and every sink casts back to INT64), TIMESTAMP as µs in
 * UTC, DATETIME as µs without a zone, STRING dictionary-encoded (a handful of
 * sensors and units per object), FLOAT64 as Float64.
 */
export function stagedArrowType(column: ColumnDef): arrow.DataType {
  switch (column.type) {
    case 'INT64':
      return new arrow.Int32();
    case 'FLOAT64':
      return new arrow.Float64();
    case 'TIMESTAMP':
      return new arrow.TimestampMicrosecond('UTC');
    case 'DATETIME':
      return new arrow.TimestampMicrosecond();
    case 'STRING':
      return new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32());
    default:
      throw new Error(`no staged Arrow type for ${column.name} (${column.type})`);
  }
}

/** The Arrow schema of a staged readings file, derived from {@link PV_READINGS}. */
export function stagedReadingsSchema(): arrow.Schema {
  return new arrow.Schema(STAGED_READINGS_COLUMNS.map((c) => new arrow.Field(c.name, stagedArrowType(c), c.nullable)));
}
