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
}

/** One table of the star schema. */
export interface TableDef {
  name: string;
  description: string;
  columns: readonly ColumnDef[];
  /** The logical key: unique in every sink. */
  key: readonly string[];
}

const col = (name: string, type: ColumnType, nullable: boolean, description: string): ColumnDef => ({
  name,
  type,
  nullable,
  description,
});

/** Fact table: one reading of one sensor at one UTC instant. */
export const PV_READINGS: TableDef = {
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
};

/** Dimension: one row per system. */
export const PV_SYSTEMS: TableDef = {
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
};

/** Dimension: the sensors of each system, one row per (ss_id, sensor) (residential sensors share metric ids). */
export const PV_SENSORS: TableDef = {
  name: 'pv_sensors',
  description:
    'Sensor channels of each system, one row per sensor: from the metrics dictionary, else from the channel names of its prize or residential-feed CSVs.',
  columns: [
    col('ss_id', 'INT64', false, 'PVDAQ system id'),
    col('metric_id', 'INT64', false, 'PVDAQ metric id'),
    col('sensor', 'STRING', false, 'sensor_name'),
    col('common_name', 'STRING', true, 'grouping, e.g. "AC power"'),
    col('raw_units', 'STRING', true, 'units as logged'),
    col('units', 'STRING', true, 'units of the stored values'),
    col('calc_scale', 'FLOAT64', true, 'scale applied to raw values'),
    col('calc_offset', 'FLOAT64', true, 'offset applied to raw values'),
    col('aggregation_type', 'STRING', true, 'avg / min / max / sample / …'),
    col('source_type', 'STRING', true, 'inverters / meters / other instruments'),
  ],
  key: ['ss_id', 'sensor'],
};

/** What has been committed, one row per source object; commits with the data. */
export const PV_INGEST_LEDGER: TableDef = {
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
  ],
  key: ['source_key'],
};

/** One row per finished run: what it asked for and what it did. */
export const PV_RUNS: TableDef = {
  name: 'pv_runs',
  description: 'Finished runs (inline or cluster) with their final counts and failed objects.',
  columns: [
    col('run_id', 'STRING', false, 'run id'),
    col('state', 'STRING', false, 'completed / partial / failed'),
    col('request', 'STRING', false, 'the run request, JSON'),
    col('planned', 'INT64', false, 'objects in range'),
    col('loaded', 'INT64', false, 'objects committed'),
    col('skipped', 'INT64', false, 'objects already loaded'),
    col('failed', 'INT64', false, 'objects that failed'),
    col('readings', 'INT64', false, 'fact rows committed'),
    col('errors', 'STRING', true, 'failed objects with reasons, JSON'),
    col('started_at', 'TIMESTAMP', true, 'start'),
    col('finished_at', 'TIMESTAMP', true, 'end'),
  ],
  key: ['run_id'],
};

/** Every table, in creation order. */
export const ALL_TABLES: readonly TableDef[] = [PV_READINGS, PV_SYSTEMS, PV_SENSORS, PV_INGEST_LEDGER, PV_RUNS];
