import { BadInputError } from '@pv-pipeline/core';
import type { SensorEntry } from '@pv-pipeline/schema';
import { decodeParquet, tableToObjects } from '../readers/parquet-decode.js';
import { uniqueSensorNames } from './sensor-names.js';

/** A system's channels by metric id (its metrics dictionary, or the channels its CSV headers name). */
export interface MetricsDictionary {
  ssId: number;
  /** The object it was read from. */
  key: string;
  /** Every channel, each with a sensor name unique in the system. */
  entries: SensorEntry[];
  byMetricId: Map<number, SensorEntry>;
}

/** A dictionary over channels whose names are already unique in the system, keyed by metric id. */
export function dictionaryOf(ssId: number, key: string, entries: readonly SensorEntry[]): MetricsDictionary {
  return { ssId, key, entries: [...entries], byMetricId: new Map(entries.map((e) => [e.metric_id, e])) };
}

/** Largest metric id: staged files hold ids as 32-bit integers (PVDAQ's reach about 150,000). */
export const MAX_METRIC_ID = 2 ** 31 - 1;

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
 * calc_offset, …, standard_name`). A corrupt file, missing columns or a
 * metric_id that is not a positive 32-bit integer are BadInputErrors naming
 * the key. A metric id listed twice keeps its last row; metric ids sharing a
 * sensor_name keep their channels apart (see {@link uniqueSensorNames}).
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
    if (id < 0 || id > MAX_METRIC_ID) {
      throw new BadInputError(key, `row ${i + 1}: metric_id ${id} is beyond the 32-bit ids PVDAQ uses`);
    }
    const sensor = str(row.sensor_name);
    if (!sensor) throw new BadInputError(key, `row ${i + 1}: metric ${id} has no sensor_name`);
    byMetricId.set(id, {
      ss_id: ssId,
      metric_id: id,
      sensor,
      common_name: str(row.common_name),
      standard_name: str(row.standard_name),
      raw_units: str(row.raw_units),
      units: str(row.units),
      calc_scale: num(row.calc_scale),
      calc_offset: num(row.calc_offset),
      aggregation_type: str(row.aggregation_type),
      source_type: str(row.source_type),
      source_column: `${sensor}__${id}`,
      interval_s: null,
    });
  }
  if (byMetricId.size === 0) throw new BadInputError(key, 'metrics dictionary has no rows');
  return dictionaryOf(ssId, key, uniqueSensorNames([...byMetricId.values()]));
}
