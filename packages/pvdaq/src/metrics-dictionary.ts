import { BadInputError } from '@pv-pipeline/core';
import { decodeParquet, tableToObjects } from './parquet-decode.js';

/** One channel of a system's metrics dictionary (a pv_sensors row). */
export interface SensorEntry {
  ss_id: number;
  metric_id: number;
  sensor: string;
  common_name: string | null;
  raw_units: string | null;
  units: string | null;
  calc_scale: number | null;
  calc_offset: number | null;
  aggregation_type: string | null;
  source_type: string | null;
}

/** A system's metrics dictionary, by metric id. */
export interface MetricsDictionary {
  ssId: number;
  /** The object it was read from. */
  key: string;
  entries: SensorEntry[];
  byMetricId: Map<number, SensorEntry>;
}

const str = (v: unknown): string | null => {
  if (v == null) return null;
  const s = String(v).trim();
  return s === '' ? null : s;
};
const num = (v: unknown): number | null => {
  if (v == null || v === '') return null;
  const n = typeof v === 'number' ? v : Number(String(v).trim());
  return Number.isFinite(n) ? n : null;
};

/**
 * Reads `metrics__system_{id}__part000.parquet` (Glue columns `system_id,
 * metric_id, sensor_name, common_name, raw_units, units, calc_scale,
 * calc_offset, …`). A corrupt file, missing columns or a non-integer
 * metric_id are BadInputErrors naming the key. A metric id listed twice keeps
 * its last row.
 */
export function readMetricsDictionary(key: string, ssId: number, bytes: Uint8Array): MetricsDictionary {
  const table = decodeParquet(key, bytes);
  const names = new Set(table.schema.fields.map((f) => f.name));
  for (const need of ['metric_id', 'sensor_name']) {
    if (!names.has(need)) throw new BadInputError(key, `metrics dictionary lacks column ${need}`);
  }
  const byMetricId = new Map<number, SensorEntry>();
  for (const [i, row] of tableToObjects(table).entries()) {
    const id = num(row.metric_id);
    if (id === null || !Number.isInteger(id)) {
      throw new BadInputError(key, `row ${i + 1}: metric_id ${String(row.metric_id)} is not an integer`);
    }
    const sensor = str(row.sensor_name);
    if (!sensor) throw new BadInputError(key, `row ${i + 1}: metric ${id} has no sensor_name`);
    byMetricId.set(id, {
      ss_id: ssId,
      metric_id: id,
      sensor,
      common_name: str(row.common_name),
      raw_units: str(row.raw_units),
      units: str(row.units),
      calc_scale: num(row.calc_scale),
      calc_offset: num(row.calc_offset),
      aggregation_type: str(row.aggregation_type),
      source_type: str(row.source_type),
    });
  }
  if (byMetricId.size === 0) throw new BadInputError(key, 'metrics dictionary has no rows');
  return { ssId, key, entries: [...byMetricId.values()], byMetricId };
}
