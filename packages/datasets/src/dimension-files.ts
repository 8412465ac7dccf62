import type { DuckDBConnection } from '@duckdb/node-api';
import { appendRows, type SystemScope } from '@pv-pipeline/quality/warehouse';
import { PV_SYSTEMS, quoteIdent } from '@pv-pipeline/schema';
import type { WarehouseReader } from '@pv-pipeline/sinks';
import type { ExportSensor } from './aggregation.js';
import { text } from './frames.js';
import type { SplitPlan } from './splits.js';

type AppendType = 'BIGINT' | 'VARCHAR' | 'DOUBLE';

/** Copies a temporary table of `conn` to a Parquet file (zstd), ordered. */
async function copyTable(conn: DuckDBConnection, select: string, file: string): Promise<void> {
  await conn.run(`COPY (${select}) TO ${text(file)} (FORMAT parquet, COMPRESSION zstd)`);
}

/**
 * `systems.parquet`: the `pv_systems` rows of the systems exported (typed as
 * in the warehouse), with the capacity `ac_power_norm` divides by and the
 * split a system is held out in (null when its buckets are split in time).
 */
export async function writeSystemsFile(
  conn: DuckDBConnection,
  reader: WarehouseReader,
  systems: readonly SystemScope[],
  plan: SplitPlan,
  file: string,
): Promise<void> {
  const present = new Set(await reader.columns('pv_systems'));
  const cols = PV_SYSTEMS.columns.filter((c) => present.has(c.name));
  const rows = await reader.query(
    `SELECT ${cols.map((c) => c.name).join(', ')} FROM ${reader.table('pv_systems')} WHERE ss_id IN (${systems.map((s) => s.ss_id).join(', ')})`,
  );
  const byId = new Map(rows.map((r) => [Number(r.ss_id), r]));
  const typed = (t: string): AppendType => (t === 'INT64' ? 'BIGINT' : t === 'FLOAT64' ? 'DOUBLE' : 'VARCHAR');
  await appendRows(
    conn,
    'x_systems',
    [...cols.map((c) => [c.name, typed(c.type)] as const), ['capacity_kw', 'DOUBLE'], ['held_out_split', 'VARCHAR']],
    systems.map((s) => ({
      ...(byId.get(s.ss_id) ?? { ss_id: s.ss_id }),
      capacity_kw: s.capacityKw !== null && s.capacityKw > 0 ? s.capacityKw : null,
      held_out_split: plan.systems.get(s.ss_id) ?? null,
    })),
  );
  const select = [
    ...cols.map((c) =>
      c.type === 'TIMESTAMP'
        ? `CAST(${quoteIdent(c.name)} AS TIMESTAMPTZ) AS ${quoteIdent(c.name)}`
        : quoteIdent(c.name),
    ),
    'capacity_kw',
    'held_out_split',
  ];
  await copyTable(conn, `SELECT ${select.join(', ')} FROM x_systems ORDER BY ss_id`, file);
}

/** `sensors.parquet`: per system and sensor, its units, aggregation (and why), names and inferred cadence. */
export async function writeSensorsFile(
  conn: DuckDBConnection,
  reader: WarehouseReader,
  sensors: readonly ExportSensor[],
  file: string,
): Promise<void> {
  const present = new Set(await reader.columns('pv_sensors'));
  const extra = ['common_name', 'standard_name', 'interval_s'].filter((c) => present.has(c));
  const ids = [...new Set(sensors.map((s) => s.ss_id))].join(', ');
  const dictionary = new Map(
    (
      await reader.query(
        `SELECT ss_id, sensor${extra.map((c) => `, ${c}`).join('')} FROM ${reader.table('pv_sensors')} WHERE ss_id IN (${ids})`,
      )
    ).map((r) => [`${Number(r.ss_id)}\u0000${String(r.sensor)}`, r]),
  );
  await appendRows(
    conn,
    'x_sensors',
    [
      ['ss_id', 'BIGINT'],
      ['sensor', 'VARCHAR'],
      ['units', 'VARCHAR'],
      ['aggregation', 'VARCHAR'],
      ['chosen_by', 'VARCHAR'],
      ['kind', 'VARCHAR'],
      ['common_name', 'VARCHAR'],
      ['standard_name', 'VARCHAR'],
      ['interval_s', 'BIGINT'],
    ],
    sensors.map((s) => {
      const d = dictionary.get(`${s.ss_id}\u0000${s.sensor}`) ?? {};
      return {
        ss_id: s.ss_id,
        sensor: s.sensor,
        units: s.units,
        aggregation: s.aggregation,
        chosen_by: s.chosenBy,
        kind: s.kind,
        common_name: d.common_name ?? null,
        standard_name: d.standard_name ?? null,
        interval_s: d.interval_s ?? null,
      };
    }),
  );
  await copyTable(conn, 'SELECT * FROM x_sensors ORDER BY ss_id, sensor', file);
}
