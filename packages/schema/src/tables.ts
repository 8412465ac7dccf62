/**
 * The star schema, defined once. Every sink derives its DDL from these
 * definitions (DuckDB DDL, BigQuery schema, Parquet/Arrow schema).
 */

/** Logical column types, named as BigQuery names them. */
export type ColumnType = 'INT64' | 'FLOAT64' | 'STRING' | 'TIMESTAMP' | 'DATETIME' | 'DATE' | 'BOOL';

/** One column of a table. */
export interface ColumnDef {
  name: string;
  type: ColumnType;
  /** Whether the column may hold NULL; key columns never do. */
  nullable: boolean;
  /** What the column holds, with its unit. */
  description: string;
  /**
   * Written by derived work (the quality report), not by ingest: an ingest
   * upsert keeps the stored value where it brings none.
   */
  derived?: boolean;
}

/** One table of the star schema. */
export interface TableDef {
  name: string;
  description: string;
  columns: readonly ColumnDef[];
  /** The logical key: unique in every sink. */
  key: readonly string[];
}

/** A column definition whose name, type and nullability stay literal types (rows are derived from them). */
const col = <const N extends string, const T extends ColumnType, const U extends boolean>(
  name: N,
  type: T,
  nullable: U,
  description: string,
) => ({ name, type, nullable, description });

/** Fact table: one reading of one sensor at one UTC instant. */
export const PV_READINGS = {
  name: 'pv_readings',
  description: 'PVDAQ readings in long format, one row per (ss_id, timestamp, sensor).',
  columns: [
    col('ss_id', 'INT64', false, 'PVDAQ system id'),
    col('timestamp', 'TIMESTAMP', false, 'UTC instant of the reading'),
    col('measured_on', 'DATETIME', false, 'local time as recorded by the logger'),
    col('sensor', 'STRING', false, 'sensor name from the metrics dictionary (sensor_name)'),
    col('metric_id', 'INT64', false, 'PVDAQ metric id'),
    col('units', 'STRING', true, 'units from the metrics dictionary'),
    col('value', 'FLOAT64', false, 'value as stored in the source'),
    col('source_key', 'STRING', false, 'source object the row came from (for replacement)'),
  ],
  key: ['ss_id', 'timestamp', 'sensor'],
} as const satisfies TableDef;

/** Dimension: one row per system. */
export const PV_SYSTEMS = {
  name: 'pv_systems',
  description: 'PVDAQ systems: site, mount and capacity, typed.',
  columns: [
    col('ss_id', 'INT64', false, 'PVDAQ system id'),
    col('public_name', 'STRING', true, 'system public name'),
    col('site_id', 'INT64', true, 'PVDAQ site id'),
    col('site_location', 'STRING', true, '"City, ST"'),
    col('latitude', 'FLOAT64', true, 'degrees north'),
    col('longitude', 'FLOAT64', true, 'degrees east'),
    col('elevation', 'FLOAT64', true, 'metres'),
    col('av_pressure', 'FLOAT64', true, 'average pressure, psi'),
    col('av_temp', 'FLOAT64', true, 'average temperature, °C'),
    col('climate_type', 'STRING', true, 'Köppen–Geiger class'),
    col('mount_azimuth', 'FLOAT64', true, 'degrees, 0 = N, 90 = E (first orientation)'),
    col('mount_tilt', 'FLOAT64', true, 'degrees from horizontal (first orientation)'),
    col('orientations', 'INT64', true, 'number of array orientations in the systems index'),
    col('tracking', 'STRING', true, 'fixed, single-axis, …'),
    col('mount_type', 'STRING', true, 'ground, roof, canopy, …'),
    col('dc_capacity_kw', 'FLOAT64', true, 'DC capacity, kW'),
    col('area_m2', 'FLOAT64', true, 'array area, m²'),
    col('timezone', 'STRING', true, 'timezone_or_utc_offset as given by the systems index'),
    col('started_on', 'TIMESTAMP', true, 'first timestamp of the record'),
    col('ended_on', 'TIMESTAMP', true, 'last timestamp of the record'),
    col('qa_status', 'STRING', true, 'pass / fail'),
    col('qa_issue', 'STRING', true, 'free text'),
    col('available_sensor_channels', 'INT64', true, 'channels per the systems index'),
  ],
  key: ['ss_id'],
} as const satisfies TableDef;

/** Dimension: the sensors of each system, one row per (ss_id, sensor) (residential sensors share metric ids). */
export const PV_SENSORS = {
  name: 'pv_sensors',
  description:
    'Sensor channels of each system, one row per sensor: from the metrics dictionary, else from the channel names of its prize or residential-feed CSVs.',
  columns: [
    col('ss_id', 'INT64', false, 'PVDAQ system id'),
    col('metric_id', 'INT64', false, 'PVDAQ metric id'),
    col(
      'sensor',
      'STRING',
      false,
      'channel name, unique in the system: sensor_name, with __<metric_id> appended where two channels share a name',
    ),
    col('common_name', 'STRING', true, 'grouping, e.g. "AC power"'),
    col('standard_name', 'STRING', true, 'the cross-system channel name of the metrics dictionary (standard_name)'),
    col('raw_units', 'STRING', true, 'units as logged'),
    col('units', 'STRING', true, 'units of the stored values'),
    col('calc_scale', 'FLOAT64', true, 'scale applied to raw values'),
    col('calc_offset', 'FLOAT64', true, 'offset applied to raw values'),
    col('aggregation_type', 'STRING', true, 'avg / min / max / sample / …'),
    col('source_type', 'STRING', true, 'inverters / meters / other instruments'),
    col(
      'source_column',
      'STRING',
      true,
      'the channel as the source names it: CSV column or dictionary sensor_name__metric_id',
    ),
    { ...col('interval_s', 'INT64', true, 'inferred cadence, seconds (written by the quality report)'), derived: true },
  ],
  key: ['ss_id', 'sensor'],
} as const satisfies TableDef;

/** What has been committed, one row per source object; commits with the data. */
export const PV_INGEST_LEDGER = {
  name: 'pv_ingest_ledger',
  description: 'One row per loaded source object (key + ETag), written in the same commit as its rows.',
  columns: [
    col('source_key', 'STRING', false, 'source object key'),
    col('etag', 'STRING', false, 'ETag of the loaded version'),
    col('ss_id', 'INT64', false, 'PVDAQ system id'),
    col('day', 'DATE', true, 'day of the object'),
    col('rows', 'INT64', false, 'fact rows loaded from it'),
    col('run_id', 'STRING', false, 'run that loaded it'),
    col('loaded_at', 'TIMESTAMP', false, 'commit time'),
    col('min_timestamp', 'TIMESTAMP', true, 'earliest UTC timestamp of its rows (null when it has none)'),
    col('max_timestamp', 'TIMESTAMP', true, 'latest UTC timestamp of its rows'),
    col('dropped_missing', 'INT64', true, 'readings dropped as missing (empty cell, null, NaN)'),
    col('dropped_sentinel', 'INT64', true, 'readings dropped as sentinel values (-999, -7999, -9999, -99999)'),
    col('dropped_non_finite', 'INT64', true, 'readings dropped as not finite (Infinity, overflow, hex)'),
    col('dropped_duplicate', 'INT64', true, 'readings dropped as repeated (same instant and channel; the last kept)'),
    col(
      'dropped_by_sensor',
      'STRING',
      true,
      'readings dropped by rule for each sensor that had any, JSON {"ac_power": {"missing": n, …}, …}',
    ),
    col(
      'source_group',
      'STRING',
      true,
      'objects cut from one version of one file (prize byte ranges, file@etag): within a group the higher source_order wins a key',
    ),
    col('source_order', 'INT64', true, 'position of the object in its group (byte offset)'),
  ],
  key: ['source_key'],
} as const satisfies TableDef;

/** One row per finished run: what it asked for and what it did. */
export const PV_RUNS = {
  name: 'pv_runs',
  description: 'Finished runs (inline or cluster) with their final counts and failed objects.',
  columns: [
    col('run_id', 'STRING', false, 'run id'),
    col('state', 'STRING', false, 'completed / partial / failed / cancelled'),
    col('request', 'STRING', false, 'the run request, JSON'),
    col('planned', 'INT64', false, 'objects in range'),
    col('loaded', 'INT64', false, 'objects committed'),
    col('skipped', 'INT64', false, 'objects already loaded'),
    col('failed', 'INT64', false, 'objects that failed'),
    col('readings', 'INT64', false, 'fact rows committed'),
    col(
      'replaced',
      'INT64',
      true,
      'rows removed because their object changed or another object re-delivered their key',
    ),
    col('dropped', 'STRING', true, 'readings dropped by reading rule, JSON {"missing": n, …}'),
    col('errors', 'STRING', true, 'failed objects with reasons, JSON'),
    col('warnings', 'STRING', true, 'metadata problems that did not fail the run, JSON'),
    col('started_at', 'TIMESTAMP', true, 'start'),
    col('finished_at', 'TIMESTAMP', true, 'end'),
  ],
  key: ['run_id'],
} as const satisfies TableDef;

/**
 * Derived: the quality report's daily completeness and flags, one row per
 * (ss_id, sensor, local standard day); written by `pv-pipeline report`.
 */
export const PV_QUALITY_DAILY = {
  name: 'pv_quality_daily',
  description: 'Data quality per system, sensor and local (standard time) day, written by the quality report.',
  columns: [
    col('ss_id', 'INT64', false, 'PVDAQ system id'),
    col('sensor', 'STRING', false, 'sensor name'),
    col('day', 'DATE', false, 'local day (standard time, the system zone)'),
    col('interval_s', 'INT64', true, 'inferred cadence of the sensor, seconds'),
    col('expected', 'INT64', false, 'readings a complete day holds at that cadence'),
    col('present', 'INT64', false, 'readings present'),
    col('completeness', 'FLOAT64', false, 'present / expected, at most 1'),
    col('flags', 'STRING', true, 'quality flags touching the day, comma-separated (stuck, night_generation, …)'),
    col('generated_at', 'TIMESTAMP', false, 'when the report computed it'),
  ],
  key: ['ss_id', 'sensor', 'day'],
} as const satisfies TableDef;

/** Every table, in creation order. */
export const ALL_TABLES: readonly TableDef[] = [PV_READINGS, PV_SYSTEMS, PV_SENSORS, PV_INGEST_LEDGER, PV_RUNS];
